"""Fault hooks: misbehaviours the sim API server shows on the wire, until cleared.

    sim.faults.drop_watches()              # abort every open watch connection (no final chunk)
    sim.faults.blackhole()                 # watches stay open but send nothing (no bookmarks,
                                           # no timeout close); requests=True also stalls requests;
                                           # resources=("jobs",): only those watches, and new
                                           # ones send not even their replay (one stream lagging
                                           # behind the others)
    sim.faults.fail_next(3, code=500)      # next 3 requests get a 500 (or 503) Status
    sim.faults.throttle_next(2, retry_after=1)   # next 2 requests get 429 + Retry-After: 1
    sim.faults.compact()                   # forget history: old rvs and continue tokens -> 410
    sim.faults.restart(start_rv=1)         # rv counter restarts lower, watches dropped; resuming
                                           # clients get 410 and must relist (objects kept)
    sim.faults.delay(0.5)                  # every response waits 0.5 s first (0 clears)
    sim.faults.duplicate_events(2)         # the next 2 watch events are each sent twice
    sim.faults.reorder_events(1)           # the next 1 pair of watch events is swapped
    sim.faults.answer_watches(b"", count=None)   # every watch gets 200 with this body, closed
                                           # at once (b"": empty; an ERROR event line; HTML)
    sim.faults.refuse("cronjobs", 403)     # every request for that resource gets this Status
    sim.faults.clear()                     # back to normal (releases black-holed streams)

The counters (`fail_next`, `throttle_next`, `duplicate_events`, `reorder_events`) are global:
they apply to the next requests/events on any connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from jobwatch_testbed.sim.store import Store


@dataclass
class _Counters:
    fail: int = 0
    fail_code: int = 500
    throttle: int = 0
    retry_after: int = 1
    duplicate: int = 0
    reorder: int = 0
    delay: float = 0.0


class Faults:
    """Switches read by the server's middleware and watch loop."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.counters = _Counters()
        self.watch_blackhole = False
        self.blackholed_resources: frozenset[str] = frozenset()  # empty: every resource
        self.request_blackhole = False
        self.cleared = asyncio.Event()
        self.cleared.set()
        self._drop_listeners: set[asyncio.Event] = set()
        self.watch_answer: bytes | None = None
        self.watch_answers_left: int | None = None  # None: until cleared
        self.watch_answers_sent = 0
        self.refused: dict[str, int] = {}

    # -- wire faults
    def drop_watches(self) -> int:
        """Abort every open watch stream; returns how many were dropped."""
        for listener in self._drop_listeners:
            listener.set()
        return len(self._drop_listeners)

    def blackhole(
        self, *, watches: bool = True, requests: bool = False, resources: Iterable[str] = ()
    ) -> None:
        self.watch_blackhole = watches
        self.blackholed_resources = frozenset(resources)
        self.request_blackhole = requests
        self.cleared.clear()

    def fail_next(self, count: int, code: int = 500) -> None:
        if code not in (500, 502, 503, 504):
            raise ValueError("code must be a 5xx the API server returns")
        self.counters.fail, self.counters.fail_code = count, code

    def throttle_next(self, count: int, retry_after: int = 1) -> None:
        self.counters.throttle, self.counters.retry_after = count, retry_after

    def delay(self, seconds: float) -> None:
        self.counters.delay = seconds

    def duplicate_events(self, count: int) -> None:
        self.counters.duplicate = count

    def reorder_events(self, pairs: int) -> None:
        self.counters.reorder = pairs

    def answer_watches(self, body: bytes, count: int | None = None) -> None:
        """Watch requests get 200 with `body` and an immediate close (`count` times, or until
        cleared): an empty watch, a server that keeps sending one ERROR event, an HTML page."""
        self.watch_answer, self.watch_answers_left, self.watch_answers_sent = body, count, 0

    def refuse(self, resource: str, code: int) -> None:
        """Every request for `resource` (plural name) gets `code` (403, 400, 404...)."""
        self.refused[resource] = code

    def take_watch_answer(self) -> bytes | None:
        if self.watch_answer is None:
            return None
        body = self.watch_answer
        self.watch_answers_sent += 1
        if self.watch_answers_left is not None:
            self.watch_answers_left -= 1
            if self.watch_answers_left <= 0:
                self.watch_answer = None
        return body

    # -- store faults
    def compact(self) -> None:
        self._store.compact()

    def restart(self, *, start_rv: int = 1, keep_objects: bool = True) -> None:
        self._store.reset_resource_version(start_rv, keep_objects=keep_objects)

    def clear(self) -> None:
        self.counters = _Counters()
        self.watch_blackhole = self.request_blackhole = False
        self.blackholed_resources = frozenset()
        self.watch_answer, self.watch_answers_left = None, None
        self.refused.clear()
        self.cleared.set()

    # -- used by the server
    def is_blackholed(self, resource: str) -> bool:
        """Whether watches of `resource` (plural name) are black-holed now."""
        return self.watch_blackhole and (
            not self.blackholed_resources or resource in self.blackholed_resources
        )

    def lagging(self, resource: str) -> bool:
        """Whether `resource` alone is black-holed: its new watches hold back their replay."""
        return bool(self.blackholed_resources) and self.is_blackholed(resource)

    def register_watch(self) -> asyncio.Event:
        listener = asyncio.Event()
        self._drop_listeners.add(listener)
        return listener

    def unregister_watch(self, listener: asyncio.Event) -> None:
        self._drop_listeners.discard(listener)

    def take_request_fault(self) -> tuple[int, int] | None:
        """(status code, retry-after) for the next injected error response, if any."""
        if self.counters.throttle > 0:
            self.counters.throttle -= 1
            return 429, self.counters.retry_after
        if self.counters.fail > 0:
            self.counters.fail -= 1
            return self.counters.fail_code, 0
        return None

    def take_duplicate(self) -> bool:
        if self.counters.duplicate > 0:
            self.counters.duplicate -= 1
            return True
        return False

    def take_reorder(self) -> bool:
        if self.counters.reorder > 0:
            self.counters.reorder -= 1
            return True
        return False
