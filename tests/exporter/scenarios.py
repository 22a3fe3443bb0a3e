"""Raw Job/Pod dicts shared by the exposition and state tests (builders plus shared fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.builders import T0_EPOCH, at, cond, ctr, job, pod, terminated

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = T0_EPOCH + 12  # state clock: 12 s after T0

Obj = dict[str, Any]


def fixture(name: str) -> Obj:
    data: Obj = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def all_fixtures() -> list[Obj]:
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


def with_uid(obj: Obj, uid: str) -> Obj:
    obj["metadata"]["uid"] = uid
    return obj


def cron_run(
    cronjob: str, n: int, *, ok: bool, start: float, namespace: str = "default"
) -> tuple[Obj, list[Obj]]:
    """Finished run `n` of a CronJob: one pod, exit 0 (Complete) or exit 1 (Failed)."""
    uid = f"{cronjob}-run-{n}"
    end = start + 5
    if ok:
        conditions = [
            cond("SuccessCriteriaMet", reason="CompletionsReached", at_=end),
            cond("Complete", reason="CompletionsReached", at_=end),
        ]
        status: Obj = {"active": 0, "succeeded": 1, "completionTime": at(end)}
    else:
        conditions = [
            cond("FailureTarget", reason="BackoffLimitExceeded", at_=end),
            cond("Failed", reason="BackoffLimitExceeded", at_=end),
        ]
        status = {"active": 0, "failed": 1}
    status["startTime"] = at(start)
    j = with_uid(
        job(
            cronjob=cronjob,
            name=f"{cronjob}-{n}",
            backoff_limit=0,
            status=status,
            conditions=conditions,
        ),
        uid,
    )
    j["metadata"]["namespace"] = namespace
    p = pod(
        f"{cronjob}-{n}-pod",
        phase="Succeeded" if ok else "Failed",
        containers=[ctr(state=terminated(0 if ok else 1, started=start + 1, finished=end - 1))],
        tracked=False,
        created=start,
        job_uid=uid,
    )
    p["metadata"]["namespace"] = namespace
    return j, [p]


def cron_succeeded_with_hidden_failure() -> tuple[Obj, list[Obj]]:
    """CronJob-owned Job, Complete after one failed pod (docs/job-semantics.md §5.3)."""
    j = job(
        cronjob="nightly",
        name="nightly-29620477",
        status={"active": 0, "succeeded": 1, "failed": 1, "completionTime": at(31)},
        conditions=[
            cond("SuccessCriteriaMet", reason="CompletionsReached", at_=30),
            cond("Complete", reason="CompletionsReached", at_=31),
        ],
    )
    pods = [
        pod(
            "nightly-29620477-a",
            phase="Failed",
            containers=[ctr(state=terminated(1, finished=5))],
            tracked=False,
        ),
        pod(
            "nightly-29620477-b",
            phase="Succeeded",
            created=6,
            containers=[ctr(state=terminated(0, started=8, finished=20))],
            tracked=False,
        ),
    ]
    return j, pods


def per_index_job() -> tuple[Obj, list[Obj]]:
    """Indexed Job with backoffLimitPerIndex and maxFailedIndexes; one index failed."""
    j = with_uid(
        job(
            name="indexed",
            spec={
                "completionMode": "Indexed",
                "completions": 3,
                "parallelism": 3,
                "backoffLimitPerIndex": 1,
                "maxFailedIndexes": 2,
                "activeDeadlineSeconds": 600,
            },
            status={"active": 0, "failed": 1, "failedIndexes": "1"},
        ),
        "indexed-uid",
    )
    p = pod(
        "indexed-1",
        phase="Failed",
        index=1,
        job_uid="indexed-uid",
        tracked=False,
        containers=[ctr(state=terminated(1, finished=10))],
    )
    return j, [p]


def waiting_for_retry() -> tuple[Obj, list[Obj]]:
    """Running Job whose only pod failed at T0+10: the controller waits out its backoff."""
    j = with_uid(
        job(name="retrying", status={"active": 0, "failed": 1}),
        "retrying-uid",
    )
    p = pod(
        "retrying-a",
        phase="Failed",
        job_uid="retrying-uid",
        tracked=False,
        containers=[ctr(state=terminated(1, finished=10))],
    )
    return j, [p]


def rich() -> list[tuple[Obj, list[Obj]]]:
    """Enough Jobs that every declared family has a sample."""
    out = [(f["job"], f["pods"]) for f in all_fixtures()]
    out += [cron_succeeded_with_hidden_failure(), per_index_job(), waiting_for_retry()]
    out += [
        cron_run("hourly", 1, ok=True, start=-7200),
        cron_run("hourly", 2, ok=False, start=-3600),
    ]
    return out


def fixture_pair(name: str) -> tuple[Obj, list[Obj]]:
    data = fixture(name)
    return data["job"], data["pods"]
