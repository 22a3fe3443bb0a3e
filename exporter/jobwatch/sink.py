"""What an informer feeds: the store (`Sink`) and the exporter's self-metrics (`Telemetry`).

`cluster/` owns all Kubernetes I/O; everything downstream sees only these two protocols and raw
JSON dicts (parsed by orjson, never kubernetes_asyncio model objects). `resource` is the plural
API name ("jobs", "pods"); `scope` is the namespace an informer watches, or None for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

Raw = dict[str, Any]
Verb = Literal["list", "watch"]
# ok: the request succeeded; expired: 410 Gone; throttled: 429; error: anything else.
Result = Literal["ok", "error", "expired", "throttled"]


class Sink(Protocol):
    def replace(self, resource: str, scope: str | None, objects: Sequence[Raw]) -> None:
        """After a (re)list: exactly `objects` exist in `scope`; anything else there is gone."""

    def list_started(self, resource: str, scope: str | None) -> None:
        """A (re)list begins; its pages follow, so the whole LIST is never held at once."""

    def list_page(self, resource: str, scope: str | None, objects: Sequence[Raw]) -> None:
        """One page of the LIST in progress."""

    def list_done(self, resource: str, scope: str | None) -> None:
        """The LIST is complete: what its pages did not show in `scope` is gone."""

    def apply(self, resource: str, event_type: str, obj: Raw) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""


class Telemetry(Protocol):
    def request(self, resource: str, verb: Verb, result: Result) -> None:
        """A LIST page or WATCH request finished (or failed) with `result`."""

    def relisted(self, resource: str) -> None:
        """A full relist started because the resourceVersion expired (410)."""

    def event(self, resource: str, event_type: str) -> None:
        """A watch event arrived: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""

    def heartbeat(self, resource: str, at: float) -> None:
        """Proof of life from the API server: a list, an event or a bookmark, at wall time `at`."""

    def synced(self, resource: str, scope: str | None) -> None:
        """The first LIST of `resource` in `scope` completed."""
