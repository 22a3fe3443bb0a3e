"""`jobwatch serve`: informers feed the state, the server exposes it, SIGTERM stops it cleanly.

`Exporter` is the whole exporter as an async context manager, so the CLI, the demo and the tests
run exactly the same thing:

    async with Exporter(settings(listen_address="127.0.0.1:0", kubeconfig=path)) as exporter:
        await exporter.wait_ready()
        exporter.url                 # "http://127.0.0.1:PORT"
        exporter.state.reports()     # JobReport by Job uid
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from jobwatch import __version__, logs, server, webconfig
from jobwatch.settings import (
    Settings,
    SettingsError,
    add_arguments,
    from_args,
    split_listen_address,
)
from jobwatch.sharding import Shard
from jobwatch.state import ExporterState

if TYPE_CHECKING:  # kubernetes_asyncio takes seconds to import: only `serve` pays for it
    from jobwatch.cluster import Informer

log = logging.getLogger("jobwatch.serve")
EXIT_USAGE = 2
RESTART_INITIAL = 1.0  # seconds before restarting a crashed informer, doubling to RESTART_MAX
RESTART_MAX = 30.0


class Readiness:
    """/readyz and /livez's view (`server.Health`): the telemetry's, except that ready also
    waits for the published body to show the initial LISTs (`ExporterState.ready`)."""

    def __init__(self, state: ExporterState) -> None:
        self._state = state
        self._telemetry = state.telemetry

    @property
    def ready(self) -> bool:
        return self._state.ready

    @property
    def last_heartbeat(self) -> float | None:
        return self._telemetry.last_heartbeat

    def pending(self) -> list[str]:
        pending = self._telemetry.pending()
        if not pending and not self._state.ready:
            pending.append("the first render of the listed Jobs")
        return pending

    def unavailable_resources(self) -> list[str]:
        return self._telemetry.unavailable_resources()


class Exporter:
    """Connect, list and watch, serve. Leaves nothing running after `__aexit__`."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.state = ExporterState(
            clock=clock,
            namespace_retention=settings.namespace_retention,
            shard=Shard(settings.shard, settings.total_shards),
        )
        self._clock = clock
        self._stack = contextlib.AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0
        # Loaded here so a bad file fails before anything connects (WebConfigError).
        self.web = webconfig.load(settings.web_config_file) if settings.web_config_file else None

    @property
    def url(self) -> str:
        host, _ = split_listen_address(self.settings.listen_address)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        scheme = "https" if self.web is not None and self.web.tls is not None else "http"
        return f"{scheme}://{shown}:{self.port}"

    async def __aenter__(self) -> Exporter:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _start(self) -> None:
        from jobwatch import cluster

        s = self.settings
        host, port = split_listen_address(s.listen_address)
        api = await self._stack.enter_async_context(cluster.connect(s))
        telemetry = self.state.telemetry
        informers = cluster.informers(api, s, self.state, telemetry)
        for informer in informers:
            telemetry.expect(informer.resource, informer.scope)
        guards, context = [], None
        if self.web is not None:
            guards.append(webconfig.middleware(self.web, open_probes=s.web_open_probes))
            if self.web.tls is not None:
                reloader = webconfig.TLSReloader(self.web.tls, open_probes=s.web_open_probes)
                context = reloader.context()
        app = server.build_app(
            self.state,
            Readiness(self.state),
            telemetry_path=s.telemetry_path,
            livez_max_silence=s.livez_max_silence,
            clock=self._clock,
            middlewares=guards,
            status=self.state,
        )
        runner, self.port = await server.start(app, host, port, context)
        self._stack.push_async_callback(runner.cleanup)
        self._stack.push_async_callback(self._cancel_tasks)
        for informer in informers:
            name = f"{informer.resource}/{informer.scope or '*'}"
            self._tasks.append(asyncio.create_task(self._supervise(informer, name), name=name))
        self._tasks.append(asyncio.create_task(self._resync(), name="resync"))
        self._tasks.append(asyncio.create_task(self._render(), name="render"))
        log.info(
            "serving",
            extra={
                "fields": {
                    "url": f"{self.url}{s.telemetry_path}",
                    "namespaces": ",".join(s.namespaces) or "*",
                    "version": __version__,
                }
            },
        )

    async def _supervise(self, informer: Informer, name: str) -> None:
        """Keep an informer running: a bug that escapes it is logged and the informer restarted
        (with backoff), so one bad event cannot silently freeze a resource's series."""
        delay = RESTART_INITIAL
        while True:
            try:
                await informer.run()
            except Exception:
                log.exception("informer stopped; restarting", extra={"fields": {"informer": name}})
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_period)
            try:
                self.state.expire()  # the renderer's next pass re-analyses every Job
                self.state.expire_namespaces()
            except Exception:
                log.exception("resync failed; retrying next period")

    async def _render(self) -> None:
        """Analysis and rendering off the scrape path; a bug is logged and the loop goes on."""
        while True:
            try:
                await self.state.render_forever()
            except Exception:
                log.exception("render pass failed; retrying")
                await asyncio.sleep(RESTART_INITIAL)

    async def _cancel_tasks(self) -> None:
        # Every task catches and logs its own failures (_supervise, _resync): only cancel here.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def wait_ready(self, within: float = 30.0) -> None:
        """Until every informer finished its first LIST and the served body shows it (what
        /readyz says); TimeoutError after `within` seconds."""
        async with asyncio.timeout(within):
            while True:
                if self.state.ready:
                    return
                await asyncio.sleep(0.05)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()


async def run_until_signalled(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then stop the watches and the server gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Exporter(settings):
        await stop.wait()
        log.info("stopping on signal")


def _serve(args: argparse.Namespace) -> int:
    from jobwatch.cluster import ClusterConfigError

    try:
        settings = from_args(args)
        split_listen_address(settings.listen_address)
        if settings.web_config_file:
            webconfig.load(settings.web_config_file)
    except (SettingsError, webconfig.WebConfigError) as error:
        print(f"jobwatch serve: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(settings.log_level, settings.log_format)
    try:
        asyncio.run(run_until_signalled(settings))
    except ClusterConfigError as error:
        print(f"jobwatch serve: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"jobwatch serve: error: cannot listen: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    log.info("stopped")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the exporter: watch Jobs and their pods, serve /metrics",
        description=(
            "Watch Jobs and Job pods (list, then watch, relist only on 410) and serve "
            "Prometheus metrics on --web.listen-address: /metrics (text 0.0.4 or OpenMetrics), "
            "/healthz, /readyz (503 until the first LIST synced), /livez. Every flag has an "
            "environment variable; flags win."
        ),
        epilog="example: jobwatch serve --namespaces batch,etl --web.listen-address :9816",
    )
    add_arguments(parser)
    parser.set_defaults(func=_serve)
