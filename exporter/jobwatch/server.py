"""The exporter's HTTP face (aiohttp): /metrics, /healthz, /readyz, /livez and the status page.

The status page (`/`, also `/jobs`) is static HTML and JavaScript that polls `/jobs.json`, the
`jobwatch diagnose -o json` contract (jobwatch.status) for the live state: Jobs in trouble first,
one page at a time (at most MAX_PAGE Jobs), filtered by namespace, state, Job or CronJob. Names
reach the page only as text, and a strict Content-Security-Policy allows no inline script.

A scrape never analyses and never joins Job lines (design principle 4): it streams the state's
latest published body, a list of cached segments plus a small tail rendered per scrape. With
`Accept-Encoding: gzip` it streams the segments' cached deflate forms as one gzip member
(`jobwatch.body`), so only the tail is compressed per scrape.
"""

from __future__ import annotations

import html
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, Protocol

from aiohttp import web

from jobwatch import __version__
from jobwatch.analysis.report import CronJobStatus, JobReport
from jobwatch.body import GZIP_LEVEL, Exposition
from jobwatch.negotiation import negotiate
from jobwatch.status import STATE_FILTERS, Index, Query, document, index

__all__ = ["GZIP_LEVEL", "Health", "MetricsSource", "build_app", "start"]
KEEPALIVE_TIMEOUT = 30.0  # seconds an idle keep-alive connection is held (Prometheus reconnects)
MAX_REQUEST_BYTES = 64 * 1024  # no endpoint takes a body
WRITE_BATCH = 256 * 1024  # bytes gathered per socket write while streaming a body
# Bytes a connection's transport may buffer before a /metrics write waits for the client. The
# default (64 KiB) made a 4 MB gzip body wait for the client about 60 times, each wait a full
# turn of a busy event loop: a scrape took a second at 50k Jobs. With this, a gzip body is
# handed over in one go and the transport sends it as the socket takes it; a bigger (plain)
# body waits once per WRITE_BUFFER, so memory per connection stays bounded.
WRITE_BUFFER = 4 * 1024 * 1024
MAX_REFRESH_STEPS = 100  # the status page's analysis steps; then the rest in one go
DEFAULT_PAGE = 100  # Jobs per /jobs.json page unless ?limit= says otherwise
MAX_PAGE = 1000
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class MetricsSource(Protocol):
    """What /metrics needs from the exporter state."""

    def latest(self, openmetrics: bool) -> Exposition:
        """The latest rendered body; must not analyse (the scrape path stays cheap)."""


class Health(Protocol):
    """What /readyz and /livez need from the self-metrics (`jobwatch.state.telemetry`)."""

    @property
    def ready(self) -> bool: ...

    @property
    def last_heartbeat(self) -> float | None: ...

    def pending(self) -> list[str]:
        """What readiness still waits for, e.g. ['jobs/*']."""
        ...

    def unavailable_resources(self) -> list[str]:
        """Resources served without data because they are refused, e.g. ['cronjobs/*: forbidden']."""
        ...


def _batches(parts: Iterable[bytes]) -> Iterable[bytes]:
    """Adjacent small parts joined up to about WRITE_BATCH bytes: fewer writes and awaits."""
    pending: list[bytes] = []
    size = 0
    for part in parts:
        pending.append(part)
        size += len(part)
        if size >= WRITE_BATCH:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


class StatusSource(Protocol):
    """What the status page reads: every Job's report and every CronJob's health."""

    def reports(self) -> Mapping[str, JobReport]: ...

    def cronjob_statuses(self) -> Mapping[tuple[str, str], CronJobStatus]: ...

    def generation(self) -> int:
        """Changes whenever any report or CronJob status changes."""

    async def settle(self, max_steps: int | None = None) -> None:
        """Analyse what changed in bounded steps, yielding to the event loop between them."""


class BadQuery(ValueError):
    """A /jobs.json parameter that cannot be honoured; the message is the 400 body."""


def parse_query(params: Mapping[str, str]) -> Query:
    """/jobs.json?namespace=&state=&job=&cronjob=&offset=&limit= as a Query (capped page)."""

    def number(name: str, default: int, low: int, high: int) -> int:
        text = params.get(name, "")
        if not text:
            return default
        if not text.isdigit() or not low <= int(text) <= high:
            raise BadQuery(f"{name} must be a whole number from {low} to {high}, got {text!r}")
        return int(text)

    state = params.get("state") or None
    if state is not None and state not in STATE_FILTERS:
        raise BadQuery(f"state must be one of {', '.join(STATE_FILTERS)}, got {state!r}")
    return Query(
        namespace=params.get("namespace") or None,
        state=state,
        job=params.get("job") or None,
        cronjob=params.get("cronjob") or None,
        offset=number("offset", 0, 0, 10**9),
        limit=number("limit", DEFAULT_PAGE, 1, MAX_PAGE),
    )


@cache
def _asset(name: str) -> str:
    return (files("jobwatch") / "web" / name).read_text(encoding="utf-8")


def _page(telemetry_path: str) -> str:
    links = [
        (telemetry_path, "metrics"),
        ("/readyz", "readyz"),
        ("/livez", "livez"),
        ("/healthz", "healthz"),
        ("/jobs.json", "jobs.json"),
    ]
    nav = "".join(f'<a href="{html.escape(p.lstrip("/"))}">{html.escape(t)}</a>' for p, t in links)
    return (
        _asset("status.html")
        .replace(
            '<span id="version"></span>', f'<span id="version">{html.escape(__version__)}</span>'
        )
        .replace('<nav id="endpoints"></nav>', f'<nav id="endpoints">{nav}</nav>')
    )


def _landing(telemetry_path: str) -> str:
    """The plain landing page of an app without a status source (tests of the probes)."""
    links = [
        (telemetry_path, "metrics"),
        ("/healthz", "healthz: the process is alive"),
        ("/readyz", "readyz: every informer listed once, or its resource is refused (named)"),
        ("/livez", "livez: the API server was heard from recently"),
    ]
    items = "".join(f'<li><a href="{html.escape(p)}">{html.escape(t)}</a></li>' for p, t in links)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>jobwatch</title></head><body>"
        f"<h1>jobwatch {html.escape(__version__)}</h1>"
        "<p>Prometheus exporter for Kubernetes Jobs: attempts before backoffLimit, the last real "
        "exit code and what it means, hidden failures, stalls and CronJob outcomes.</p>"
        f"<ul>{items}</ul></body></html>"
    )


def build_app(
    source: MetricsSource,
    health: Health,
    *,
    telemetry_path: str = "/metrics",
    livez_max_silence: float = 300.0,
    clock: Callable[[], float] = time.time,
    middlewares: Sequence[Any] = (),
    status: StatusSource | None = None,
) -> web.Application:
    """The aiohttp application; `source` is the exporter state and `health` its telemetry (or
    anything shaped like them). `middlewares` guard every route, the status page's too
    (`jobwatch.webconfig.middleware`: TLS client certificates, basic auth). `status` (the
    exporter state) adds the status page and /jobs.json."""
    started = clock()

    async def metrics(request: web.Request) -> web.StreamResponse:
        openmetrics, content_type = negotiate(request.headers.get("Accept", ""))
        body = source.latest(openmetrics)
        headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            parts = list(_batches(body.gzip_parts()))
            headers["Content-Encoding"] = "gzip"
        else:
            parts = list(_batches(body.parts()))
        response = web.StreamResponse(headers=headers)
        response.content_length = sum(len(p) for p in parts)
        await response.prepare(request)
        transport = request.transport
        limits = transport.get_write_buffer_limits() if transport is not None else None
        if transport is not None:
            transport.set_write_buffer_limits(high=WRITE_BUFFER)
        try:
            for part in parts:
                await response.write(part)
            await response.write_eof()
        finally:
            if transport is not None and limits is not None and not transport.is_closing():
                transport.set_write_buffer_limits(high=limits[1], low=limits[0])
        return response

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        if health.ready:
            # Truthful for what it may see: refused resources are named, not waited for.
            refused = "".join(f"unavailable: {r}\n" for r in health.unavailable_resources())
            return web.Response(text=f"ok: initial LIST synced\n{refused}")
        waiting = ", ".join(health.pending())
        return web.Response(status=503, text=f"not ready: waiting for {waiting}\n")

    async def livez(_request: web.Request) -> web.Response:
        last = health.last_heartbeat
        silent = clock() - (started if last is None else last)
        if silent > livez_max_silence:
            return web.Response(
                status=503,
                text=f"not live: nothing from the API server for {silent:.0f}s "
                f"(bound {livez_max_silence:g}s)\n",
            )
        return web.Response(text=f"ok: API server heard {silent:.0f}s ago\n")

    async def landing(_request: web.Request) -> web.Response:
        return web.Response(text=_landing(telemetry_path), content_type="text/html")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(
            text=_page(telemetry_path), content_type="text/html", headers=PAGE_HEADERS
        )

    cached: tuple[int, Index] | None = None  # rebuilt only when a Job or CronJob changed

    async def jobs_json(request: web.Request) -> web.Response:
        assert status is not None
        try:
            query = parse_query(request.query)
        except BadQuery as error:
            return web.Response(status=400, text=f"{error}\n", headers=PAGE_HEADERS)
        await status.settle(MAX_REFRESH_STEPS)
        nonlocal cached
        generation = status.generation()
        if cached is None or cached[0] != generation:
            cached = (generation, index(status.reports().values()))
        body = document(cached[1], status.cronjob_statuses().values(), clock(), query)
        # Only the exporter knows this; `diagnose -o json` of a dump has no such block.
        body["exporter"] = {
            "unavailable": health.unavailable_resources(),
            "pending": health.pending(),
        }
        return web.Response(
            text=json.dumps(body),  # ASCII escapes: a lone surrogate in a name cannot break it
            content_type="application/json",
            headers=PAGE_HEADERS,
        )

    def asset(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(text=_asset(name), content_type=content_type, headers=PAGE_HEADERS)

        return handler

    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=list(middlewares))
    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/livez", livez)
    if status is None:
        app.router.add_get("/", landing)
    else:
        app.router.add_get("/", page)
        app.router.add_get("/jobs", page)
        app.router.add_get("/jobs.json", jobs_json)
        app.router.add_get("/static/status.js", asset("status.js", "text/javascript"))
        app.router.add_get("/static/status.css", asset("status.css", "text/css"))
    return app


async def start(
    app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Bind and serve (TLS with `ssl_context`); returns the runner (to clean up) and the bound
    port (for port 0)."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    return runner, bound
