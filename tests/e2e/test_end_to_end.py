"""End to end, real processes on loopback: the sim plays every scenario, the exporter watches it,
Prometheus 2.42 evaluates the generated rules (compressed `for:`), Alertmanager 0.25 routes with
the generated config and templates, and a local receiver records webhook and Slack deliveries.

One stack serves every test in this module (it takes about a minute to play out); each test
asserts one promise of the issue. Everything started is stopped when the module ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest

from jobwatch.render.dashboard import panel_queries
from jobwatch.render.usage import used_metrics
from jobwatch_testbed.monitoring import WebhookReceiver
from jobwatch_testbed.stack import Stack, run_stack
from tests.tools import tool

T = TypeVar("T")
STACK_TIMEOUT = 150.0

# alertname -> (namespace, job_name or cronjob) that must be notified as firing.
EXPECTED_FIRING = {
    ("JobBackoffLimitExceeded", "sim-backoff-never", "backofflimit"),
    ("JobBackoffLimitExceeded", "sim-onfailure", "fail-onfailure"),
    ("JobCannotStart", "sim-exit127", "missing-command"),
    ("JobCannotStart", "sim-starterror", "bad-entrypoint"),
    ("JobOOMKilled", "sim-oom-restarts", "memory-spiky"),
    ("JobStalled", "sim-imagepull", "invalid-image"),
    ("JobStalled", "sim-configerror", "config-app"),
    ("JobStalled", "sim-unschedulable", "huge-request"),
    ("JobHiddenFailures", "sim-retry-success", "flaky"),
    ("JobHiddenFailures", "sim-sidecar", "with-sidecar"),
    ("JobFailed", "sim-deadline", "sleepy"),
    ("JobFailed", "sim-pfp-failjob", "exit-42"),
    ("CronJobFailing", "sim-cronjob", "nightly-report"),
}
QUIET_NAMESPACES = {"sim-healthy", "sim-suspended"}


def _key(alert: dict[str, Any]) -> tuple[str, str, str]:
    labels = alert["labels"]
    subject = labels.get("job_name") or labels.get("cronjob", "")
    return labels["alertname"], labels.get("namespace", ""), subject


class _Running:
    """The stack on a background event loop, so synchronous tests can query it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.ready: Future[Stack] = Future()
        self.stop = asyncio.Event()
        self.finished: Future[None] = Future()
        self.started = time.time()

    def start(self) -> Stack:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._main(), self.loop)
        return self.ready.result(timeout=60)

    async def _main(self) -> None:
        try:
            async with run_stack() as stack:
                self.ready.set_result(stack)
                await self.stop.wait()
            self.finished.set_result(None)
        except BaseException as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            self.finished.set_exception(error)

    def run(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.finished.result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def running() -> Iterator[_Running]:
    tool("prometheus")
    tool("prometheus-alertmanager")
    stack = _Running()
    stack.start()
    try:
        yield stack
    finally:
        stack.close()


def _receiver(running: _Running) -> WebhookReceiver:
    stack: Stack = running.ready.result()
    assert stack.receiver is not None
    return stack.receiver


def _wait(running: _Running, predicate: Callable[[WebhookReceiver], bool]) -> None:
    receiver = _receiver(running)

    async def wait() -> None:
        async with asyncio.timeout(STACK_TIMEOUT):
            await receiver.wait_for(predicate)

    try:
        running.run(wait(), timeout=STACK_TIMEOUT + 5)
    except TimeoutError:
        fired = sorted({_key(a) for a in receiver.alerts("firing")})
        pytest.fail(f"timed out; firing notifications so far: {fired}")


def _firing(receiver: WebhookReceiver) -> set[tuple[str, str, str]]:
    return {_key(a) for a in receiver.alerts("firing")}


def _cron_failing(r: WebhookReceiver) -> list[dict[str, Any]]:
    return [a for a in r.alerts() if a["labels"]["alertname"] == "CronJobFailing"]


def _critical_cron_resolved(r: WebhookReceiver) -> bool:
    return any(
        a["status"] == "resolved" and a["labels"]["severity"] == "critical"
        for a in _cron_failing(r)
    )


def _everything_happened(r: WebhookReceiver) -> bool:
    """Every expected alert fired and the CronJob recovered: all scenarios have played out."""
    return _firing(r) >= EXPECTED_FIRING and _critical_cron_resolved(r)


RECOVERED = 'jobwatch_cronjob_consecutive_failures{cronjob="nightly-report"} == 0'


def _wait_until_played_out(running: _Running) -> None:
    """Every expected notification arrived and Prometheus has scraped the CronJob's recovery
    (a resolved notification alone could also come from a failed scrape on a busy machine)."""
    _wait(running, _everything_happened)
    prometheus = running.ready.result().prometheus
    assert prometheus is not None

    async def recovered() -> None:
        async with asyncio.timeout(STACK_TIMEOUT):
            while True:
                if await prometheus.query(RECOVERED):
                    return
                await asyncio.sleep(0.5)

    running.run(recovered(), timeout=STACK_TIMEOUT + 5)


def test_notifications_arrive_for_every_expected_alert(running: _Running) -> None:
    _wait(running, lambda r: _firing(r) >= EXPECTED_FIRING)


def test_no_notification_for_the_healthy_or_suspended_job(running: _Running) -> None:
    _wait(running, lambda r: _firing(r) >= EXPECTED_FIRING)
    noisy = {k for k in _firing(_receiver(running)) if k[1] in QUIET_NAMESPACES}
    assert noisy == set()


def test_cronjob_failing_escalates_then_resolves_after_the_recovery_run(running: _Running) -> None:
    _wait_until_played_out(running)
    alerts = _cron_failing(_receiver(running))
    firing = [a["labels"]["severity"] for a in alerts if a["status"] == "firing"]
    assert firing[0] == "warning"  # the first failed run
    assert "critical" in firing  # three consecutive failures escalate
    assert {a["labels"]["cronjob"] for a in alerts} == {"nightly-report"}
    assert "3 time(s) in a row" in str([a["annotations"] for a in alerts])


def test_annotations_name_the_job_the_exit_meaning_and_the_attempts(running: _Running) -> None:
    wanted = ("JobCannotStart", "sim-exit127", "missing-command")
    _wait(running, lambda r: wanted in _firing(r))
    (alert, *_) = [a for a in _receiver(running).alerts("firing") if _key(a) == wanted]
    description = alert["annotations"]["description"]
    assert "sim-exit127/missing-command" in description
    assert "127" in description
    assert "the shell could not find the command" in description
    assert "attempts used 1, no retries (backoffLimit 0)" in description
    assert alert["annotations"]["runbook_url"].endswith("/JobCannotStart.md")


def test_a_job_that_cannot_start_pages_once(running: _Running) -> None:
    """One root cause, one notification: JobCannotStart, not also JobBackoffLimitExceeded."""
    _wait_until_played_out(running)
    _wait(running, lambda r: _firing(r) >= EXPECTED_FIRING)
    for namespace, job in (
        ("sim-exit127", "missing-command"),
        ("sim-starterror", "bad-entrypoint"),
    ):
        about = {k[0] for k in _firing(_receiver(running)) if k[1:] == (namespace, job)}
        assert about == {"JobCannotStart"}, (namespace, about)


def test_critical_alerts_reach_slack_through_the_generated_templates(running: _Running) -> None:
    _wait(running, lambda r: any("BackoffLimitExceeded" in str(m) for m in r.slack_messages))
    text = str(_receiver(running).slack_messages)
    assert "sim-backoff-never" in text
    assert "runbook" in text.lower()


def test_every_metric_the_rules_and_dashboard_use_is_scraped(running: _Running) -> None:
    stack: Stack = running.ready.result()
    assert stack.prometheus is not None
    _wait_until_played_out(running)
    missing = []
    for name in used_metrics(stack.rule_config):
        # over the whole run: some series (next retry) exist only for moments
        if not running.run(stack.prometheus.query(f"count(last_over_time({name}[10m]))")):
            missing.append(name)
    assert missing == []


def test_every_dashboard_panel_returns_data(running: _Running) -> None:
    stack: Stack = running.ready.result()
    assert stack.prometheus is not None
    _wait_until_played_out(running)
    time.sleep(2)  # so the 1 s step grid has a point after the last scrape we waited for
    end = time.time()
    empty = []
    for query in panel_queries(stack.rule_config):
        # Every second of the run: some series (next retry) exist only for moments.
        result = running.run(stack.prometheus.query_range(query.expr, running.started, end, 1))
        if not result:
            empty.append(f"{query.panel} [{query.ref_id}]: {query.expr}")
    assert empty == []


def test_the_exporter_target_is_up(running: _Running) -> None:
    stack: Stack = running.ready.result()
    assert stack.prometheus is not None
    up = running.run(stack.prometheus.query('up{job="jobwatch"}'))
    assert [s["value"][1] for s in up] == ["1"]
