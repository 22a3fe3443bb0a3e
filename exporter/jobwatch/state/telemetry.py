"""The exporter's own health (`jobwatch_exporter_*`): what the informers report, and readiness."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import get_args

from jobwatch import __version__
from jobwatch import exposition as ex
from jobwatch import metrics as m
from jobwatch.decode import decodes
from jobwatch.model import JOBS, PODS, Resource
from jobwatch.sink import Problem, Result, Verb
from jobwatch.state.counters import Counter

RESOURCES: tuple[Resource, ...] = (JOBS, PODS)  # always watched; cronjobs only when enabled
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
        self.tolerant = Counter(clock)
        self.drift = Counter(clock)
        self.problems: dict[tuple[str, str | None], Problem] = {}
        # Called once every expected informer has synced or is known unavailable.
        self.on_settled: Callable[[], None] | None = None
        self.render_seconds = 0.0
        self.renders = 0
        self._render_created = clock()
        self._heartbeats: dict[Resource, float] = {}
        self._expected: set[tuple[Resource, str | None]] = set()
        self._synced: set[tuple[Resource, str | None]] = set()
        for resource in RESOURCES:
            self._init(resource)

    def _init(self, resource: Resource) -> None:
        for verb in get_args(Verb):
            for result in get_args(Result):
                self.requests.init((resource, verb, result))
        self.relists.init((resource,))
        for type_ in EVENT_TYPES:
            self.events.init((resource, type_))
        self.parse_errors.init((resource,))
        if decodes(resource):
            self.tolerant.init((resource,))
        self.drift.init((resource,))

    # --- Telemetry ---

    def request(self, resource: Resource, verb: Verb, result: Result) -> None:
        self.requests.inc((resource, verb, result))

    def relisted(self, resource: Resource) -> None:
        self.relists.inc((resource,))

    def event(self, resource: Resource, event_type: str) -> None:
        self.events.inc((resource, event_type if event_type in EVENT_TYPES else OTHER_EVENT))

    def heartbeat(self, resource: Resource, at: float) -> None:
        self._heartbeats[resource] = max(at, self._heartbeats.get(resource, at))

    def synced(self, resource: Resource, scope: str | None) -> None:
        self._synced.add((resource, scope))
        self._settled()

    def unavailable(self, resource: Resource, scope: str | None, problem: Problem | None) -> None:
        if problem is None:
            self.problems.pop((resource, scope), None)
        else:
            self.problems[(resource, scope)] = problem
        self._settled()

    def _settled(self) -> None:
        if self.ready and self.on_settled is not None:
            self.on_settled()

    def unavailable_resources(self) -> list[str]:
        """e.g. ['cronjobs/*: forbidden'] for /readyz and the status page."""
        return sorted(f"{r}/{s or '*'}: {p}" for (r, s), p in self.problems.items())

    @property
    def expecting(self) -> bool:
        """Informers are registered (a real exporter, not a state driven by hand)."""
        return bool(self._expected)

    def drifted(self, resource: Resource, differences: int) -> None:
        self.drift.inc((resource,), differences)

    # --- readiness ---

    def expect(self, resource: Resource, scope: str | None) -> None:
        """`resource` in `scope` must complete its first LIST before the exporter is ready."""
        self._expected.add((resource, scope))
        self._init(resource)  # e.g. cronjobs, watched only when enabled

    @property
    def ready(self) -> bool:
        """Serving truthful data for what it is allowed to see: every expected (resource,
        scope) has synced once or is known unavailable (forbidden, invalid: reported in
        `jobwatch_exporter_resource_unavailable`, the log and the status page, and alerted on
        as never synced). False while nothing is expected or a LIST is still in flight."""
        settled = self._synced | self.problems.keys()
        return bool(self._expected) and self._expected <= settled

    def pending(self) -> list[str]:
        """What readiness still waits for, e.g. ['jobs/*', 'pods/batch']."""
        settled = self._synced | self.problems.keys()
        return sorted(f"{r}/{s or '*'}" for r, s in self._expected - settled)

    @property
    def last_heartbeat(self) -> float | None:
        return max(self._heartbeats.values(), default=None)

    def resource_synced(self, resource: Resource) -> bool:
        expected = {s for r, s in self._expected if r == resource}
        done = {s for r, s in self._synced if r == resource}
        return expected <= done if expected else bool(done)

    def _unavailable(self) -> dict[tuple[str, ...], float]:
        """One series per expected (resource, scope): 1 with its problem, else 0 and "none"."""
        series: dict[tuple[str, ...], float] = {}
        for resource, scope in sorted(self._expected, key=lambda e: (e[0], e[1] or "")):
            problem = self.problems.get((resource, scope))
            series[(resource, scope or "", problem or "none")] = 1 if problem else 0
        return series

    def parse_error(self, resource: Resource) -> None:
        self.parse_errors.inc((resource,))

    def tolerant_decodes(self, resource: Resource, objects: int) -> None:
        self.tolerant.inc((resource,), objects)

    def rendered(self, seconds: float) -> None:
        self.render_seconds += seconds
        self.renders += 1

    # --- exposition ---

    def render(
        self, tracked: dict[Resource, int], openmetrics: bool, unrendered_age: float = 0.0
    ) -> bytes:
        expected = {r for r, _ in self._expected}
        resources = sorted({*RESOURCES, *expected, *tracked, *self._heartbeats})
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
                ex.counter(m.EXPORTER_TOLERANT_DECODES_TOTAL, self.tolerant.series(), openmetrics),
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
                    m.EXPORTER_UNAVAILABLE,
                    self._unavailable(),
                    openmetrics,
                ),
                ex.counter(m.EXPORTER_DRIFT_TOTAL, self.drift.series(), openmetrics),
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
