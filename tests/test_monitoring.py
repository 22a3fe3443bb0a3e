"""The real Prometheus → Alertmanager → webhook chain the demo and e2e tests stand on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from jobwatch_testbed.monitoring import run_alertmanager, run_prometheus, run_webhook_receiver
from tests.tools import tool

RULES = """
groups:
  - name: smoke
    rules:
      - alert: SmokeSeen
        expr: smoke_value > 1
        labels: {severity: warning}
        annotations: {summary: "value {{ $value }}"}
"""


async def _metrics_server() -> tuple[web.AppRunner, str]:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text="# TYPE smoke_value gauge\nsmoke_value 2\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"127.0.0.1:{port}"


async def test_an_alert_travels_from_prometheus_through_alertmanager_to_the_webhook(
    tmp_path: Path,
) -> None:
    tool("prometheus")
    tool("prometheus-alertmanager")
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)

    runner, target = await _metrics_server()
    try:
        async with run_webhook_receiver() as receiver:
            config = {
                "route": {
                    "receiver": "hook",
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [{"name": "hook", "webhook_configs": [{"url": receiver.url}]}],
            }
            async with (
                run_alertmanager(config) as am,
                run_prometheus([target], [rules], alertmanager=am.url) as prom,
            ):
                async with asyncio.timeout(45):
                    await receiver.wait_for(lambda r: bool(r.alerts("firing")))
                (alert,) = receiver.alerts("firing")[:1]
                assert alert["labels"]["alertname"] == "SmokeSeen"
                assert alert["annotations"]["summary"] == "value 2"
                assert (await prom.query("smoke_value"))[0]["value"][1] == "2"
    finally:
        await runner.cleanup()
