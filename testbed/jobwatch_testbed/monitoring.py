"""Real Prometheus and Alertmanager processes on loopback, plus a webhook receiver.

Used by `jobwatch demo` and the end-to-end tests, so both exercise the same stack a user runs:
Prometheus scrapes the exporter and evaluates the generated rules, Alertmanager routes the
alerts, and the receiver records what a chat or pager integration would get. Everything binds to
127.0.0.1, lives in a temporary directory, and is stopped by the process that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
STARTUP_TIMEOUT = 30.0


class ToolMissingError(RuntimeError):
    """A binary the stack needs is not installed (`make tools` installs it)."""


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"{name} is not installed: run `make tools` (Debian package {name})")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-800:].strip()


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}: {_tail(log)}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not become ready within {STARTUP_TIMEOUT:.0f}s")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=10)
    except TimeoutError:
        process.kill()
        await process.wait()


@dataclass
class Prometheus:
    """A running Prometheus; `url` is its HTTP API root."""

    url: str
    directory: Path
    process: asyncio.subprocess.Process

    async def query(self, expr: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v1/query", params={"query": expr}) as response,
        ):
            body = await response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def query_range(self, expr: str, start: float, end: float, step: float) -> Any:
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v1/query_range", params=params) as response,
        ):
            body = await response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query_range {expr!r} failed: {body.get('error')}")
        return body["data"]["result"]

    async def alerts(self) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v1/alerts") as response,
        ):
            body = await response.json()
        alerts: list[dict[str, Any]] = body["data"]["alerts"]
        return alerts

    async def wait_for_target_up(self, within: float = 30.0) -> None:
        """Until every scrape target reports up == 1 (TimeoutError after `within` seconds)."""
        async with asyncio.timeout(within):
            while True:
                with contextlib.suppress(aiohttp.ClientError, RuntimeError):
                    up = await self.query("up")
                    if up and all(sample["value"][1] == "1" for sample in up):
                        return
                await asyncio.sleep(0.25)


def prometheus_config(
    targets: Sequence[str], rule_files: Sequence[Path], alertmanager: str | None, interval: str
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": "jobwatch", "static_configs": [{"targets": list(targets)}]}
        ],
    }
    if alertmanager:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager.split("//", 1)[-1]]}]}]
        }
    return config


@dataclass
class _Server:
    url: str
    directory: Path
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def _serve(tool: str, config: str | Path, flags: Sequence[str]) -> AsyncIterator[_Server]:
    """Run `tool --config.file=… --web.listen-address=127.0.0.1:PORT *flags` in a temporary
    directory until its /-/ready answers; `{dir}` in flags is that directory. `config` is the
    config text, or the path of a config file (whose relative includes resolve next to it)."""
    binary = find_tool(tool)
    with tempfile.TemporaryDirectory(prefix=f"jobwatch-{tool}-") as tmp:
        directory = Path(tmp)
        if isinstance(config, Path):
            config_file = config
        else:
            config_file = directory / "config.yml"
            config_file.write_text(config)
        port = free_port()
        log = directory / f"{tool}.log"
        with log.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                binary,
                f"--config.file={config_file}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
                *(flag.format(dir=directory) for flag in flags),
                stdout=log_file,
                stderr=log_file,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                await _wait_ready(f"{url}/-/ready", process, log)
                yield _Server(url, directory, process)
            finally:
                await _stop(process)


@contextlib.asynccontextmanager
async def run_prometheus(
    targets: Sequence[str],
    rule_files: Sequence[Path] = (),
    *,
    alertmanager: str | None = None,
    interval: str = "1s",
) -> AsyncIterator[Prometheus]:
    """Start Prometheus scraping `targets` (host:port) as job "jobwatch" with `rule_files`."""
    config = yaml.safe_dump(prometheus_config(targets, rule_files, alertmanager, interval))
    async with run_prometheus_with(config) as prom:
        yield prom


@contextlib.asynccontextmanager
async def run_prometheus_with(config: str) -> AsyncIterator[Prometheus]:
    """Start Prometheus with a whole configuration (YAML text), e.g. one prometheus-operator
    generated."""
    flags = ("--storage.tsdb.path={dir}/data", "--rules.alert.resend-delay=1s")
    async with _serve(PROMETHEUS, config, flags) as server:
        yield Prometheus(server.url, server.directory, server.process)


@dataclass
class Alertmanager:
    url: str
    process: asyncio.subprocess.Process

    async def alerts(self) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v2/alerts") as response,
        ):
            alerts: list[dict[str, Any]] = await response.json()
        return alerts


@contextlib.asynccontextmanager
async def run_alertmanager(config: dict[str, Any] | Path) -> AsyncIterator[Alertmanager]:
    """Start Alertmanager with `config` (a parsed alertmanager.yml, or the path of one whose
    templates sit beside it), gossip off."""
    flags = ("--storage.path={dir}/data", "--cluster.listen-address=")
    text = config if isinstance(config, Path) else yaml.safe_dump(config)
    async with _serve(ALERTMANAGER, text, flags) as server:
        yield Alertmanager(server.url, server.process)


@dataclass
class WebhookReceiver:
    """Records Alertmanager webhook notifications (the payload of `webhook_configs`)."""

    url: str = ""
    notifications: list[dict[str, Any]] = field(default_factory=list)
    slack_url: str = ""
    slack_messages: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every alert in every notification, optionally only those with this status."""
        return [
            alert
            for n in self.notifications
            for alert in n.get("alerts", [])
            if status is None or alert.get("status") == status
        ]

    async def wait_for(self, predicate: Callable[[WebhookReceiver], bool]) -> None:
        """Wait until `predicate(self)` holds after a notification (wrap in asyncio.timeout)."""
        while not predicate(self):
            self.changed.clear()
            await self.changed.wait()

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            return web.Response(status=400, text="expected JSON")
        if request.path.endswith("/slack"):
            self.slack_messages.append(payload)
        else:
            self.notifications.append(payload)
        self.changed.set()
        return web.Response(text="ok")


@contextlib.asynccontextmanager
async def run_webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/alerts", receiver._handle)
    app.router.add_post("/slack", receiver._handle)  # stands in for Slack's incoming webhook
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    receiver.url = f"http://127.0.0.1:{port}/alerts"
    receiver.slack_url = f"http://127.0.0.1:{port}/slack"
    try:
        yield receiver
    finally:
        await runner.cleanup()
