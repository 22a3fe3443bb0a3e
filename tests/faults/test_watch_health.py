"""Honest watch health (issue 11 §2, §3, §6): through the sim's fault hooks, over real HTTP.

An ERROR event is not a heartbeat and does not reset the backoff; a watch that closes at once
backs off and counts as an error; every repeated line is logged once per backoff window; a
poison event is a parse error, never an informer restart; a forbidden or invalid resource is
reported, not a reason to stay unready forever; a periodic relist heals drift.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest

from jobwatch_testbed.sim.store import JOBS
from tests.exporter.informer_helpers import add_jobs, harness

pytestmark = pytest.mark.timeout(60)

ERROR_504 = orjson.dumps(
    {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "code": 504,
            "reason": "Timeout",
            "message": "Too large resource version: 999, current: 12",
            "details": {"causes": [{"reason": "ResourceVersionTooLarge"}]},
        },
    }
)


@pytest.mark.timeout(40)
async def test_error_events_are_not_heartbeats_and_back_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jobwatch.cluster"):
        async with harness(tmp_path) as h:
            add_jobs(h.sim, "ns", 3)
            informer = h.informer("jobs", backoff_initial=0.05, backoff_max=0.4)
            h.start(informer)
            await h.converge("jobs")
            await h.watching()
            beats = len(h.telemetry.heartbeats)
            h.sim.faults.answer_watches(ERROR_504 + b"\n")
            h.sim.faults.drop_watches()
            await asyncio.sleep(2.0)
            answered = h.sim.faults.watch_answers_sent
            assert h.telemetry.events["jobs", "ERROR"] == answered
            assert len(h.telemetry.heartbeats) == beats  # the ERRORs proved nothing alive
            # Backing off: with a 0.4 s cap, 2 s fit at most ~ (2 / 0.2 average) + the ramp.
            assert 3 <= answered <= 20
            assert informer._backoff.attempts >= answered - 1  # never reset by an ERROR
            h.sim.faults.clear()
            add_jobs(h.sim, "ns", 2, prefix="after")
            await h.converge("jobs")
            assert h.telemetry.relists["jobs"] == 0
    lines = [r for r in caplog.records if "ERROR event" in r.message]
    assert len(lines) <= 6  # one per 0.4 s window at most, not one per retry


@pytest.mark.parametrize(
    "answer",
    [b"", b"<html><body>502 Bad Gateway</body></html>\n" * 3],
    ids=["empty", "html"],
)
@pytest.mark.timeout(40)
async def test_instantly_closed_watch_backs_off_counts_errors_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, answer: bytes
) -> None:
    with caplog.at_level(logging.INFO, logger="jobwatch"):
        async with harness(tmp_path) as h:
            add_jobs(h.sim, "ns", 2)
            h.start(h.informer("jobs", backoff_initial=0.05, backoff_max=0.5))
            await h.converge("jobs")
            await h.watching()
            ok_before = h.telemetry.requests["jobs", "watch", "ok"]
            h.sim.faults.answer_watches(answer)
            h.sim.faults.drop_watches()
            await asyncio.sleep(2.0)
            sent = h.sim.faults.watch_answers_sent
            assert 2 <= sent <= 20  # not 30,000 requests in 15 s
            assert h.telemetry.requests["jobs", "watch", "ok"] == ok_before
            assert h.telemetry.requests["jobs", "watch", "error"] >= sent
            if answer:
                assert h.telemetry.parse_errors["jobs"] == 3 * sent
            h.sim.faults.clear()
            add_jobs(h.sim, "ns", 1, prefix="after")
            await h.converge("jobs")
    assert len(caplog.records) <= 12  # 2 s / 0.5 s window, per kind of line


POISON = [
    b'{"type": ["ADDED"], "object": {"metadata": {"uid": "x"}}}',
    b'{"type": {"ADDED": 1}}',
    b'{"type": null}',
    b'{"type": "ADDED", "object": [1, 2]}',
    b'{"type": "ADDED", "object": "text"}',
    b'{"type": "MODIFIED"}',
    b'{"type": "DELETED", "object": {"metadata": ["a"]}}',
    b'{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": ["1"]}}}',
    b'{"type": "ERRORS", "object": {}}',
    b"[]",
    b"null",
    b"12",
    b'"\\ud800"',
]


async def test_poison_events_are_parse_errors_and_the_watch_goes_on(tmp_path: Path) -> None:
    """`{"type": ["ADDED"]}` raised TypeError in every informer; now each is skipped."""

    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 2)
        informer = h.informer("jobs")
        h.start(informer)
        await h.converge("jobs")
        for line in POISON:
            informer._handle_line(line)  # none of them raises
        malformed = h.sink.malformed
        assert h.telemetry.parse_errors["jobs"] + malformed == len(POISON) - 1
        add_jobs(h.sim, "ns", 2, prefix="after")
        await h.converge("jobs")
        assert h.telemetry.syncs == [("jobs", None)]


@pytest.mark.parametrize(("code", "problem"), [(403, "forbidden"), (400, "invalid")])
async def test_a_refused_resource_is_reported_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, code: int, problem: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="jobwatch.cluster"):
        async with harness(tmp_path) as h:
            add_jobs(h.sim, "ns", 2)
            h.sim.faults.refuse("jobs", code)
            h.start(h.informer("jobs", backoff_initial=0.05, backoff_max=0.2))
            await h.until(lambda: bool(h.telemetry.problems))
            assert h.telemetry.problems == [("jobs", None, problem)]
            assert h.telemetry.syncs == []
            await asyncio.sleep(0.5)
            assert len(h.telemetry.problems) == 1  # reported once, not per retry
            h.sim.faults.clear()  # e.g. the missing RBAC rule was added
            await h.converge("jobs")
            assert h.telemetry.problems[-1] == ("jobs", None, None)
            assert h.telemetry.syncs == [("jobs", None)]
    assert sum(problem in r.message for r in caplog.records) == 1


async def test_periodic_relist_counts_and_heals_drift(tmp_path: Path) -> None:
    """The watch resumed into another history: objects it never delivered are healed."""

    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 4)
        h.start(h.informer("jobs", relist_period=0.5))
        await h.converge("jobs")
        await h.watching()
        # Change the store behind the watch's back: nothing is streamed for these.
        h.sim.faults.blackhole()
        h.sim.store.delete(JOBS, "ns", "job-0000")
        add_jobs(h.sim, "ns", 2, prefix="unseen")
        await h.converge("jobs")  # only the periodic relist can get here
        assert h.telemetry.drift["jobs"] == 3
        assert h.telemetry.relists["jobs"] == 0  # no 410 was involved
        h.sim.faults.clear()
        lists = h.telemetry.requests["jobs", "list", "ok"]
        await h.until(lambda: h.telemetry.requests["jobs", "list", "ok"] > lists)
        assert h.telemetry.drift["jobs"] == 3  # an agreeing relist adds nothing
