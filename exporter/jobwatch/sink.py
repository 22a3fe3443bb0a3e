"""What an informer feeds: the store (`Sink`) and the exporter's self-metrics (`Telemetry`).

`cluster/` owns all Kubernetes I/O; everything downstream sees only these two protocols and
`Object`s, never kubernetes_asyncio model objects. A sink that `takes_records` of a resource gets
Jobs and Pods as slim records that the informer decoded straight from the bytes
(`jobwatch.decode`), and a raw JSON dict (orjson) only for a line or item the typed decoder
rejects; any other sink gets raw dicts. `resource` is the plural API name
(`jobwatch.model.Resource`); `scope` is the namespace an informer watches, or None for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from jobwatch.model import Raw, Record, Resource

__all__ = ["Object", "Problem", "Raw", "Resource", "Result", "Sink", "Telemetry", "Verb"]

# One object from the API server: a decoded record, or a raw JSON dict (the tolerant path).
Object = Raw | Record

Verb = Literal["list", "watch"]
# ok: the request succeeded; expired: 410 Gone; throttled: 429; error: anything else.
Result = Literal["ok", "error", "expired", "throttled"]
# Why a resource cannot be listed at all: RBAC (401/403), or the request itself is wrong (400,
# 404, 422: an invalid label selector, a resource the server does not serve).
Problem = Literal["forbidden", "invalid"]


class Sink(Protocol):
    def takes_records(self, resource: Resource) -> bool:
        """True: hand `resource`'s Jobs and Pods over as records decoded from the bytes
        (`jobwatch.decode`), raw dicts only where that decoder gives up; False: raw dicts."""

    def replace(self, resource: Resource, scope: str | None, objects: Sequence[Object]) -> int:
        """After a (re)list: exactly `objects` exist in `scope`; anything else there is gone.
        Returns how many objects differed from the store (added, removed or changed)."""

    def list_started(self, resource: Resource, scope: str | None) -> None:
        """A (re)list begins; its pages follow, so the whole LIST is never held at once."""

    def list_page(self, resource: Resource, scope: str | None, objects: Sequence[Object]) -> None:
        """One page of the LIST in progress, applied at once."""

    def list_done(self, resource: Resource, scope: str | None) -> int:
        """The LIST is complete: what its pages did not show in `scope` is gone. Returns how
        many objects differed from the store (added, removed or changed) over the whole LIST."""

    def apply(self, resource: Resource, event_type: str, obj: Object) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""


class Telemetry(Protocol):
    def request(self, resource: Resource, verb: Verb, result: Result) -> None:
        """A LIST page or WATCH request finished (or failed) with `result`."""

    def relisted(self, resource: Resource) -> None:
        """A full relist started because the resourceVersion expired (410)."""

    def event(self, resource: Resource, event_type: str) -> None:
        """A watch event arrived: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""

    def heartbeat(self, resource: Resource, at: float) -> None:
        """Proof of life from the API server: a list, an event or a bookmark, at wall time `at`."""

    def synced(self, resource: Resource, scope: str | None) -> None:
        """The first LIST of `resource` in `scope` completed."""

    def parse_error(self, resource: Resource) -> None:
        """A watch line or list item was not a well-formed event or object; it was skipped."""

    def tolerant_decodes(self, resource: Resource, objects: int) -> None:
        """`objects` Jobs or Pods the typed decoder rejected took the tolerant dict path."""

    def unavailable(self, resource: Resource, scope: str | None, problem: Problem | None) -> None:
        """`resource` in `scope` cannot be listed because of `problem`; None once it can."""

    def drifted(self, resource: Resource, differences: int) -> None:
        """A periodic relist found `differences` objects the watch had not delivered."""
