"""The exporter's own health (`jobwatch_exporter_*`): what the informers report, and readiness."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import get_args

from jobwatch import __version__
from jobwatch import exposition as ex
from jobwatch import metrics as m
from jobwatch.counters import Counter
from jobwatch.sink import Result, Verb

RESOURCES = ("jobs", "pods")
EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")
OTHER_EVENT = "OTHER"  # anything else the server sends: the label set stays bounded


class SelfMetrics:
    """Implements `jobwatch.sink.Telemetry`, plus readiness and liveness facts."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.requests = Counter(clock)
        self.relists = Counter(clock)
        self.events = Counter(clock)
        self.parse_errors = Counter(clock)
        self.render_seconds = 0.0
        self.renders = 0
        self._render_created = clock()
        self._heartbeats: dict[str, float] = {}
        self._expected: set[tuple[str, str | None]] = set()
        self._synced: set[tuple[str, str | None]] = set()
        for resource in RESOURCES:
            self._init(resource)

    def _init(self, resource: str) -> None:
        for verb in get_args(Verb):
            for result in get_args(Result):
                self.requests.init((resource, verb, result))
        self.relists.init((resource,))
        for type_ in EVENT_TYPES:
            self.events.init((resource, type_))
        self.parse_errors.init((resource,))

    # --- Telemetry ---

    def request(self, resource: str, verb: Verb, result: Result) -> None:
        self.requests.inc((resource, verb, result))

    def relisted(self, resource: str) -> None:
        self.relists.inc((resource,))

    def event(self, resource: str, event_type: str) -> None:
        self.events.inc((resource, event_type if event_type in EVENT_TYPES else OTHER_EVENT))

    def heartbeat(self, resource: str, at: float) -> None:
        self._heartbeats[resource] = max(at, self._heartbeats.get(resource, at))

    def synced(self, resource: str, scope: str | None) -> None:
        self._synced.add((resource, scope))

    # --- readiness ---

    def expect(self, resource: str, scope: str | None) -> None:
        """`resource` in `scope` must complete its first LIST before the exporter is ready."""
        self._expected.add((resource, scope))
        self._init(resource)  # e.g. cronjobs, watched only when enabled

    @property
    def ready(self) -> bool:
        """Every expected (resource, scope) has synced once; False while nothing is expected."""
        return bool(self._expected) and self._expected <= self._synced

    @property
    def last_heartbeat(self) -> float | None:
        return max(self._heartbeats.values(), default=None)

    def resource_synced(self, resource: str) -> bool:
        expected = {s for r, s in self._expected if r == resource}
        done = {s for r, s in self._synced if r == resource}
        return expected <= done if expected else bool(done)

    def parse_error(self, resource: str) -> None:
        self.parse_errors.inc((resource,))

    def rendered(self, seconds: float) -> None:
        self.render_seconds += seconds
        self.renders += 1

    # --- exposition ---

    def render(
        self, tracked: dict[str, int], openmetrics: bool, unrendered_age: float = 0.0
    ) -> bytes:
        resources = sorted({*RESOURCES, *tracked, *self._heartbeats})
        return b"".join(
            (
                ex.gauge(
                    m.EXPORTER_BUILD_INFO,
                    {(__version__, platform.python_version()): 1},
                    openmetrics,
                ),
                ex.counter(m.EXPORTER_API_REQUESTS_TOTAL, self.requests.series(), openmetrics),
                ex.counter(m.EXPORTER_RELISTS_TOTAL, self.relists.series(), openmetrics),
                ex.counter(m.EXPORTER_EVENTS_TOTAL, self.events.series(), openmetrics),
                ex.counter(m.EXPORTER_PARSE_ERRORS_TOTAL, self.parse_errors.series(), openmetrics),
                ex.gauge(
                    m.EXPORTER_TRACKED_OBJECTS,
                    {(r,): tracked.get(r, 0) for r in resources},
                    openmetrics,
                ),
                ex.gauge(
                    m.EXPORTER_SYNCED,
                    {(r,): int(self.resource_synced(r)) for r in resources},
                    openmetrics,
                ),
                ex.gauge(
                    m.EXPORTER_LAST_EVENT,
                    {(r,): at for r, at in self._heartbeats.items()},
                    openmetrics,
                ),
                ex.gauge(m.EXPORTER_UNRENDERED_AGE, {(): unrendered_age}, openmetrics),
                ex.summary(
                    m.EXPORTER_RENDER_SECONDS,
                    self.render_seconds,
                    self.renders,
                    self._render_created,
                    openmetrics,
                ),
            )
        )
