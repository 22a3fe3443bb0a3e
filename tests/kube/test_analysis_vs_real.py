"""Analysis vs real: the real Job controller is the oracle for jobwatch's budget, retry time and
deadline (docs/job-semantics.md §1, §2, §3.1).

The scripted kubelet (jobwatch_testbed.kube) runs each pod the real controller creates; this
module decides, step by step, what happens to the running pod, and before each step asks jobwatch
what it expects. The contract checked at every step: jobwatch's state and reason equal the real
Job's; while jobwatch says `attempts_remaining == k`, a counted failure leaves the Job running
with k-1 remaining when k > 0 and fails it when k == 0; an uncounted one changes nothing; a
FailJob match fails it whatever the budget.

Time: the controller's recreation backoff runs in real time (10 s doubling from the failed pod's
finish time, §3.1), so injected failures finish an hour in the past and the replacement comes at
the next sync. Only `test_next_retry_at_*` and the deadline tests wait for real seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from jobwatch.analysis import JobReport, analyse
from jobwatch.analysis.budget import index_failures
from jobwatch.model import parse_job, parse_pod, parse_time
from jobwatch_testbed.kube.controlplane import ControlPlane
from jobwatch_testbed.kube.scenarios import KubeCluster, resource_path
from jobwatch_testbed.sim import JOBS, PODS
from jobwatch_testbed.sim.kubelet import PodHandle, Script
from jobwatch_testbed.sim.scenarios import SCENARIOS
from tests.kube.verdicts import ScenarioRun, Verdict

Obj = dict[str, Any]
BACKDATE = 3600.0  # seconds: longer than any backoff a test reaches (10 s · 2^8)
STEP_TIMEOUT = 30.0
INDEX = "batch.kubernetes.io/job-completion-index"


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- outcomes
# Each outcome is one kubelet status write on a running pod (PodHandle.update): the phase and
# the Ready condition follow from the container states, as the kubelet derives them.


def _terminate(cs: Obj, code: int, reason: str, finished: float) -> None:
    cs.update(
        ready=False,
        started=False,
        state={
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": stamp(finished - 1),
                "finishedAt": stamp(finished),
            }
        },
    )


def exit_with(code: int, reason: str = "", backdate: float = BACKDATE) -> Callable[[Obj], None]:
    """The main container exits; under Never the pod is then Failed."""

    def mutate(pod: Obj) -> None:
        for cs in pod["status"]["containerStatuses"]:
            _terminate(cs, code, reason or ("Completed" if code == 0 else "Error"), _now(backdate))

    return mutate


def evicted(pod: Obj) -> None:
    """Evicted by the Eviction API: DisruptionTarget, containers killed, phase Failed."""
    now = time.time()
    pod["status"]["reason"] = "Evicted"
    pod["status"].setdefault("conditions", []).append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "EvictionByEvictionAPI",
            "lastTransitionTime": stamp(now),
        }
    )
    for cs in pod["status"]["containerStatuses"]:
        _terminate(cs, 137, "Error", now - BACKDATE)


def crash(pod: Obj) -> None:
    """OnFailure: the container failed and waits in CrashLoopBackOff; restartCount + 1."""
    for cs in pod["status"]["containerStatuses"]:
        finished = time.time() - BACKDATE
        cs["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": stamp(finished - 1),
                "finishedAt": stamp(finished),
            }
        }
        cs.update(
            ready=False,
            started=False,
            restartCount=cs.get("restartCount", 0) + 1,
            state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
        )


def recover(pod: Obj) -> None:
    for cs in pod["status"]["containerStatuses"]:
        cs.update(ready=True, started=True, state={"running": {"startedAt": stamp(time.time())}})


def _now(backdate: float) -> float:
    return time.time() - backdate


@dataclass(frozen=True)
class Outcome:
    name: str
    counted: bool  # counts toward the budget (§1.2, §1.9)
    fails_job: bool = False  # a FailJob match: fails whatever the budget
    restart: bool = False  # OnFailure: an in-place restart, the pod stays


FAIL = Outcome("exit 1", counted=True)
OOM = Outcome("OOMKilled", counted=True)
EVICTED = Outcome("evicted", counted=True)
DELETED = Outcome("deleted", counted=True)
IGNORED_EXIT = Outcome("exit 3, Ignore rule", counted=False)
IGNORED_DISRUPTION = Outcome("evicted, Ignore DisruptionTarget rule", counted=False)
FAIL_JOB = Outcome("exit 42, FailJob rule", counted=True, fails_job=True)
RESTART = Outcome("restart", counted=True, restart=True)

WRITES: dict[Outcome, Callable[[Obj], None]] = {
    FAIL: exit_with(1),
    OOM: exit_with(137, "OOMKilled"),
    EVICTED: evicted,
    IGNORED_EXIT: exit_with(3),
    IGNORED_DISRUPTION: evicted,
    FAIL_JOB: exit_with(42),
    RESTART: crash,
}


# --------------------------------------------------------------------------- Job shapes


def job_spec(restart_policy: str = "Never", **spec: Any) -> Obj:
    template = {
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [{"name": "main", "image": "busybox:1.36"}],
            **spec.pop("pod", {}),
        }
    }
    return {"parallelism": 1, "completions": 1, **spec, "template": template}


POLICY: Obj = {
    "podFailurePolicy": {
        "rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]
    }
}


def per_index(completions: int, limit: int, **spec: Any) -> Obj:
    return job_spec(
        completionMode="Indexed",
        completions=completions,
        parallelism=completions,
        backoffLimitPerIndex=limit,
        **spec,
    )


# --------------------------------------------------------------------------- the driver


@dataclass
class Driver:
    """One Job on the real control plane whose running pods wait for the test's decisions."""

    cluster: KubeCluster
    namespace: str
    name: str
    spec: Obj
    live: dict[str, PodHandle] = field(default_factory=dict)
    uid: str = ""
    _run: asyncio.Task[Obj] | None = None

    async def __aenter__(self) -> Driver:
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self.spec,
        }
        created = await self.cluster.create(JOBS, body)
        self.uid = created["metadata"]["uid"]
        self._run = asyncio.create_task(self.cluster.run_job(created, self._script))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._run is not None:
            self._run.cancel()

    def _script(self, _attempt: int, _index: int | None) -> Script:
        async def script(pod: PodHandle) -> None:
            pod.schedule()
            spec = (pod.obj() or {}).get("spec", {})
            sidecars = [c["name"] for c in spec.get("initContainers", []) if c.get("restartPolicy")]
            pod.start(*sidecars, *(c["name"] for c in spec.get("containers", [])))
            self.live[pod.name] = pod
            await asyncio.Event().wait()  # until the test decides, or the pod is deleted

        return script

    # ------------------------------------------------------------------ what is there
    def job(self) -> Obj:
        job = self.cluster.mirror.try_get(JOBS, self.namespace, self.name)
        assert job is not None
        return job

    def pods(self) -> list[Obj]:
        items, _ = self.cluster.mirror.list(PODS, self.namespace)
        return [
            p
            for p in items
            if any(r.get("uid") == self.uid for r in p["metadata"].get("ownerReferences") or [])
        ]

    def report(self) -> JobReport:
        return analyse(parse_job(self.job()), [parse_pod(p) for p in self.pods()], time.time())

    def real_state(self) -> tuple[str, str]:
        """The real controller's verdict, from its conditions."""
        conditions = {c["type"]: c for c in self.job()["status"].get("conditions") or []}
        for type_, state in (
            ("FailureTarget", "failed"),
            ("Failed", "failed"),
            ("SuccessCriteriaMet", "succeeded"),
            ("Complete", "succeeded"),
        ):
            c = conditions.get(type_)
            if c is not None and c["status"] == "True":
                return state, c.get("reason", "")
        suspended = conditions.get("Suspended")
        if suspended is not None and suspended["status"] == "True":
            return "suspended", suspended.get("reason", "")
        return "running", ""

    def running_pods(self) -> list[str]:
        """Pods our script runs that the API shows Running and not deleting."""
        out = []
        for p in self.pods():
            name = p["metadata"]["name"]
            if name not in self.live or "deletionTimestamp" in p["metadata"]:
                continue
            statuses = p["status"].get("containerStatuses") or []
            if p["status"].get("phase") == "Running" and all(
                "running" in (cs.get("state") or {}) for cs in statuses
            ):
                out.append(name)
        return sorted(out)

    async def until(
        self, what: str, check: Callable[[], bool], limit: float = STEP_TIMEOUT
    ) -> None:
        deadline = time.monotonic() + limit
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: {what} within {limit:.0f} s; Job {self.job()['status']}")
            await asyncio.sleep(0.1)

    async def settled(self) -> None:
        """Wait for the Job to finish or for all its pods to run with nothing in between."""
        want = self.spec.get("parallelism", 1)

        def ready() -> bool:
            if self.real_state()[0] == "failed":
                return True
            status = self.job()["status"]
            running = len(self.running_pods()) == want
            return running and status.get("active") == want and bool(status.get("ready") == want)

        await self.until("all pods running", ready)

    def target(self) -> str:
        """The running pod to hit: for a per-index Job, the one on the index closest to failing."""
        names = self.running_pods()
        if self.spec.get("backoffLimitPerIndex") is None:
            return names[0]
        pods = [parse_pod(p) for p in self.pods()]
        failures = index_failures(parse_job(self.job()), pods)
        by_name = {p.name: p for p in pods}
        return max(names, key=lambda n: (failures.get(by_name[n].completion_index or 0, 0), n))

    # ------------------------------------------------------------------ one step
    async def apply(self, outcome: Outcome) -> None:
        name = self.target()
        handle = self.live[name]
        before = set(self.running_pods())
        if outcome is DELETED:
            handle.delete(30)
        elif outcome.restart:
            ready_before = self.job()["status"].get("ready")
            handle.update(WRITES[outcome])
            await self.until(
                "the controller to see the restart",
                lambda: (
                    self.real_state()[0] == "failed"
                    or self.job()["status"].get("ready") != ready_before
                ),
            )
            if self.real_state()[0] != "failed":
                handle.update(recover)
                await self.until(
                    "the restarted pod ready again",
                    lambda: (
                        self.real_state()[0] == "failed"
                        or self.job()["status"].get("ready") == ready_before
                    ),
                )
            return
        else:
            handle.update(WRITES[outcome])
        await self.until(
            "a replacement pod or a verdict",
            lambda: self.real_state()[0] == "failed" or bool(set(self.running_pods()) - before),
        )
        await self.settled()


async def check_budget(driver: Driver, outcomes: list[Outcome], expect_reason: str) -> list[int]:
    """Play `outcomes` one by one, checking the contract of the module docstring at each step;
    stop when the Job fails. Returns the remaining budget jobwatch reported before each step.

    OnFailure has two budgets (§1.3): pod failures must exceed the limit, restarts of live pods
    must reach it, and a failed pod's restarts leave the sum. There `remaining` is the tighter
    of the two, so 0 says the next failure *of the binding kind* fails the Job; which kind binds
    the deterministic cases state in their expected lists. Everywhere, k > 0 means the next
    counted failure of any kind leaves the Job running."""
    await driver.settled()
    single_budget = driver.spec["template"]["spec"]["restartPolicy"] != "OnFailure"
    seen = []
    for step, outcome in enumerate(outcomes):
        report = driver.report()
        where = f"{driver.name} step {step} ({outcome.name})"
        assert (report.state.value, report.reason) == driver.real_state(), where
        assert report.state.value == "running", f"{where}: the Job ended early"
        assert report.attempts is not None
        k = report.attempts.remaining
        seen.append(k)
        await driver.apply(outcome)
        after = driver.report()
        real = driver.real_state()
        assert (after.state.value, after.reason) == real, f"{where}: jobwatch vs the controller"
        assert after.attempts is not None
        if outcome.fails_job:
            assert real == ("failed", "PodFailurePolicy"), where
            return seen
        if k > 0:
            assert real[0] == "running", f"{where}: jobwatch said {k} remaining, the Job failed"
        elif outcome.counted and single_budget:
            assert real == ("failed", expect_reason), f"{where}: jobwatch said 0, the Job runs on"
        if real[0] == "failed":
            assert real[1] == expect_reason, where
            assert after.attempts.remaining == 0, where
            return seen
        if single_budget:
            assert after.attempts.remaining == (k - 1 if outcome.counted else k), where
    return seen


def play(
    control_plane: ControlPlane, namespace: str, body: Callable[[KubeCluster], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with KubeCluster(control_plane) as cluster:
            await cluster.ensure_namespace(namespace)
            await asyncio.wait_for(body(cluster), 240)

    asyncio.run(main())


_names: dict[str, int] = {}


def unique(prefix: str) -> str:
    _names[prefix] = _names.get(prefix, 0) + 1
    return f"{prefix}-{_names[prefix]}"


# --------------------------------------------------------------------------- every scenario
# First in the module: the session plays the scenarios once (shared with test_sim_vs_real),
# before this module's own Jobs add to the control plane's work.

BUDGET_REASONS = frozenset({"BackoffLimitExceeded"})


def _jobwatch_says(report: JobReport) -> tuple[str, str]:
    """jobwatch's state and reason, with its own `stalled` read as the controller's running."""
    if report.state.value == "stalled":
        return "running", ""
    return report.state.value, report.reason


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_state_and_reason_match_at_each_step(scenario_run: ScenarioRun, name: str) -> None:
    """Every scenario on the real control plane: after each watch event, jobwatch's state and
    reason equal the real controller's (§1.16); a stall is jobwatch's own word for running."""
    namespace = SCENARIOS[name].namespace
    recorded = scenario_run.verdicts
    jobs = {k: recorded.of(k) for k in recorded.jobs if k[0] == namespace}
    assert jobs, "the scenario ran no Job on the real control plane"
    for (_, job), verdicts in jobs.items():
        wrong = [
            f"{v.at:.1f}: real {v.real}, jobwatch {(v.report.state.value, v.report.reason)}"
            for v in verdicts
            if _jobwatch_says(v.report) != v.real
        ]
        assert not wrong, f"{job}:\n" + "\n".join(wrong)


def _counted_failures(verdicts: list[Verdict], end: int) -> list[tuple[int, int]]:
    """(event index, remaining just before it) of each event up to `end` where jobwatch's
    count of used attempts went up."""
    out = []
    for i in range(1, end + 1):
        now, before = verdicts[i].report.attempts, verdicts[i - 1].report.attempts
        if now is not None and before is not None and now.used > before.used:
            out.append((i, before.remaining))
    return out


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_failure_that_failed_a_job_came_at_zero_remaining(
    scenario_run: ScenarioRun, name: str
) -> None:
    """§2 on the scenarios' own traffic (non-indexed Jobs): when the real controller fails a Job
    for its budget, jobwatch said 0 remaining just before the counted failure that did it; and
    under Never (one budget) a counted failure at 0 remaining always fails the Job."""
    namespace = SCENARIOS[name].namespace
    for ns, job in scenario_run.verdicts.jobs:
        if ns != namespace:
            continue
        verdicts = scenario_run.verdicts.of((ns, job))
        first = verdicts[0].report
        if first.attempts is None or first.completion_mode == "Indexed":
            continue
        fatal = next((i for i, v in enumerate(verdicts) if v.real[0] == "failed"), None)
        budget = fatal is not None and verdicts[fatal].real[1] in BUDGET_REASONS
        failures = _counted_failures(verdicts, fatal if fatal is not None else len(verdicts) - 1)
        if budget:
            assert failures, f"{job}: failed for its budget without a counted failure"
            assert failures[-1][1] == 0, f"{job}: {failures[-1][1]} remaining before the fatal one"
        if first.restart_policy == "Never" and any(left == 0 for _, left in failures):
            assert budget, f"{job}: a counted failure at 0 remaining left it running"


# --------------------------------------------------------------------------- deterministic budgets


BUDGETS: list[tuple[str, Obj, list[Outcome], str, list[int]]] = [
    # id, Job spec, outcomes, the reason it fails with, the remaining budget jobwatch must report
    ("never_limit_2", job_spec(backoffLimit=2), [FAIL, OOM, FAIL], "BackoffLimitExceeded", [2, 1, 0]),
    ("never_limit_1_deletion_counts", job_spec(backoffLimit=1), [EVICTED, DELETED], "BackoffLimitExceeded", [1, 0]),
    ("never_limit_0", job_spec(backoffLimit=0), [FAIL], "BackoffLimitExceeded", [0]),
    ("onfailure_limit_3_restarts", job_spec("OnFailure", backoffLimit=3), [RESTART, RESTART, RESTART], "BackoffLimitExceeded", [2, 1, 0]),
    ("onfailure_limit_1_first_restart_fails", job_spec("OnFailure", backoffLimit=1), [RESTART], "BackoffLimitExceeded", [0]),
    # a pod failure leaves the restart budget binding: 2 stays 2 (§1.3)
    ("onfailure_pod_failure_then_restarts", job_spec("OnFailure", backoffLimit=3), [EVICTED, RESTART, RESTART, RESTART], "BackoffLimitExceeded", [2, 2, 1, 0]),
    ("per_index_max_failed_indexes_0", per_index(2, 1, maxFailedIndexes=0), [FAIL, FAIL], "MaxFailedIndexesExceeded", [1, 0]),
    ("per_index_last_index_fails", per_index(1, 2), [FAIL, OOM, FAIL], "FailedIndexes", [2, 1, 0]),
    ("per_index_global_backoff_limit_binds", per_index(2, 3, backoffLimit=1), [FAIL, FAIL], "BackoffLimitExceeded", [1, 0]),
    ("pod_failure_policy_ignore_then_count", job_spec(backoffLimit=1, **POLICY), [IGNORED_EXIT, IGNORED_DISRUPTION, FAIL, FAIL], "BackoffLimitExceeded", [1, 1, 1, 0]),
    ("pod_failure_policy_fail_job_whatever_the_budget", job_spec(backoffLimit=4, **POLICY), [FAIL, FAIL_JOB], "PodFailurePolicy", [4, 3]),
]  # fmt: skip


BudgetResult = tuple[list[int], tuple[str, str]] | BaseException


@pytest.fixture(scope="module")
def budget_results(control_plane: ControlPlane) -> dict[str, BudgetResult]:
    """All BUDGETS cases at once, each on its own Job (one step is about a controller sync, so
    together they take the time of the longest): case id -> (remaining seen, final verdict),
    or what went wrong."""
    results: dict[str, BudgetResult] = {}

    async def one(
        cluster: KubeCluster, case_id: str, spec: Obj, outcomes: list[Outcome], reason: str
    ) -> None:
        try:
            async with Driver(cluster, "budgets", case_id.replace("_", "-"), spec) as driver:
                seen = await check_budget(driver, outcomes, reason)
                results[case_id] = (seen, driver.real_state())
        except BaseException as exc:  # pytest.fail is a BaseException: keep it for its case
            results[case_id] = exc

    async def body(cluster: KubeCluster) -> None:
        await asyncio.gather(*(one(cluster, i, spec, o, r) for i, spec, o, r, _ in BUDGETS))

    play(control_plane, "budgets", body)
    return results


@pytest.mark.parametrize(
    ("case_id", "reason", "remaining"),
    [(b[0], b[3], b[4]) for b in BUDGETS],
    ids=[b[0] for b in BUDGETS],
)
def test_budget(
    budget_results: dict[str, BudgetResult], case_id: str, reason: str, remaining: list[int]
) -> None:
    """§1.2 Never, §1.3 OnFailure, §1.10 per index (and the global limit), §1.9 podFailurePolicy:
    the remaining budget jobwatch reported before each injected failure, and the Job fails at
    the last one with the expected reason."""
    result = budget_results[case_id]
    if isinstance(result, BaseException):
        raise result
    seen, final = result
    assert seen == remaining
    assert final == ("failed", reason), "it fails at the last outcome"


# --------------------------------------------------------------------------- the hypothesis search

SHAPES: dict[str, tuple[Callable[[int], Obj], list[Outcome], str]] = {
    "never": (lambda k: job_spec(backoffLimit=k), [FAIL, OOM, EVICTED], "BackoffLimitExceeded"),
    "onfailure": (
        lambda k: job_spec("OnFailure", backoffLimit=k),
        [RESTART, EVICTED],
        "BackoffLimitExceeded",
    ),
    "per_index": (
        lambda k: per_index(2, k, maxFailedIndexes=0),
        [FAIL, OOM],
        "MaxFailedIndexesExceeded",
    ),
    "pod_failure_policy": (
        lambda k: job_spec(backoffLimit=k, **POLICY),
        [FAIL, IGNORED_EXIT, IGNORED_DISRUPTION],
        "BackoffLimitExceeded",
    ),
}


@st.composite
def scripts(draw: st.DrawFn) -> tuple[str, int, list[Outcome]]:
    shape = draw(st.sampled_from(sorted(SHAPES)))
    limit = draw(st.integers(0, 2))
    _, choices, _ = SHAPES[shape]
    outcomes = draw(st.lists(st.sampled_from(choices), min_size=2, max_size=4))
    if shape == "pod_failure_policy" and draw(st.booleans()):
        outcomes.append(FAIL_JOB)  # ends the Job whatever is left; nothing can follow it
    return shape, limit, outcomes


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(script=scripts())
@example(script=("onfailure", 2, [RESTART, EVICTED, RESTART, RESTART]))
def test_budget_search(control_plane: ControlPlane, script: tuple[str, int, list[Outcome]]) -> None:
    """Generated pod-outcome scripts: the predicted budget against the real outcome (§2)."""
    shape, limit, outcomes = script
    make, _, reason = SHAPES[shape]

    async def body(cluster: KubeCluster) -> None:
        async with Driver(
            cluster, "search", unique(f"search-{shape.replace('_', '-')}"), make(limit)
        ) as driver:
            await check_budget(driver, outcomes, reason)

    play(control_plane, "search", body)


# --------------------------------------------------------------------------- next_retry_at, deadline_at


def created_at(pod: Obj) -> float:
    t = parse_time(pod["metadata"]["creationTimestamp"])
    assert t is not None
    return t


async def _replacement_time(driver: Driver, mutate: Callable[[Obj], None]) -> tuple[float, float]:
    """Fail the running pod with `mutate`; jobwatch's next_retry_at and the real replacement's
    creation, both in seconds after the failure was written."""
    await driver.settled()
    (name,) = driver.running_pods()
    written = time.time()
    driver.live[name].update(mutate)
    await driver.until(
        "jobwatch to see the failure", lambda: driver.report().next_retry_at is not None
    )
    predicted = driver.report().next_retry_at
    assert predicted is not None
    await driver.until("the replacement pod", lambda: len(driver.pods()) == 2, limit=40)
    (new,) = [p for p in driver.pods() if p["metadata"]["name"] != name]
    return predicted - written, created_at(new) - written


def test_next_retry_at_matches_pod_creation(control_plane: ControlPlane) -> None:
    """§3.1 in real time: the first replacement comes 10 s after the failed pod's finish time,
    and a native sidecar still running voids the containers' time (backoff_utils.go
    getFinishTimeFromContainers), so the Ready=False transition counts instead, however long
    ago the main container finished. (A real kubelet keeps such a pod Running until it has
    stopped the sidecar, getPhase counts running sidecars; the pod is written Failed with the
    sidecar running to put the controller's rule itself to the test.)"""
    sidecar = {
        "initContainers": [{"name": "proxy", "image": "busybox:1.36", "restartPolicy": "Always"}]
    }

    async def body(cluster: KubeCluster) -> None:
        async with (
            Driver(cluster, "retry", "plain", job_spec(backoffLimit=3)) as plain,
            Driver(cluster, "retry", "sidecar", job_spec(backoffLimit=3, pod=sidecar)) as side,
        ):
            results = await asyncio.gather(
                _replacement_time(plain, exit_with(1, backdate=0)),
                _replacement_time(side, exit_with(1, backdate=BACKDATE)),  # the sidecar runs on
            )
        for (predicted, created), label in zip(results, ("plain", "sidecar"), strict=True):
            assert 8.0 <= predicted <= 11.0, (
                f"{label}: jobwatch expects the retry {predicted:+.1f} s on"
            )
            # creationTimestamp and finishedAt have whole seconds; the sync batches by 1 s.
            assert -1.5 <= created - predicted <= 3.0, f"{label}: {created - predicted:+.1f} s"

    play(control_plane, "retry", body)


async def _deadline_exceeded_at(driver: Driver) -> float:
    await driver.until(
        "DeadlineExceeded",
        lambda: driver.real_state() == ("failed", "DeadlineExceeded"),
        limit=40,
    )
    (cond,) = [c for c in driver.job()["status"]["conditions"] if c["type"] == "FailureTarget"]
    at = parse_time(cond["lastTransitionTime"])
    assert at is not None
    return at


def test_deadline_at_matches_deadline_exceeded(control_plane: ControlPlane) -> None:
    """§1.13: deadline_at is when the real controller fails the Job with DeadlineExceeded."""

    async def body(cluster: KubeCluster) -> None:
        async with Driver(
            cluster, "deadline", "plain", job_spec(activeDeadlineSeconds=3)
        ) as driver:
            await driver.settled()
            predicted = driver.report().deadline_at
            assert predicted is not None
            # whole seconds on both sides; the controller's requeue may run a little late
            assert -1.0 <= await _deadline_exceeded_at(driver) - predicted <= 2.0

    play(control_plane, "deadline", body)


def test_suspend_clears_start_time_and_resume_restarts_the_deadline(
    control_plane: ControlPlane,
) -> None:
    """§1.13, §1.14: suspended, startTime is cleared and jobwatch has no deadline; resumed, the
    deadline counts from the new startTime, later than the first one."""

    async def body(cluster: KubeCluster) -> None:
        async with Driver(cluster, "suspend", "job", job_spec(activeDeadlineSeconds=4)) as driver:
            await driver.settled()
            first = driver.report().deadline_at
            assert first is not None
            path = resource_path(JOBS, "suspend", "job")
            patch = "application/merge-patch+json"
            answer = await cluster.api.request("PATCH", path, {"spec": {"suspend": True}}, patch)
            # The API's answer: suspended, but the controller has not cleared startTime yet.
            assert "startTime" in answer["status"]
            assert analyse(parse_job(answer), [], time.time()).deadline_at is None
            await driver.until("Suspended", lambda: driver.real_state()[0] == "suspended")
            await driver.until(
                "startTime cleared", lambda: "startTime" not in driver.job()["status"]
            )
            report = driver.report()
            assert (report.state.value, report.deadline_at) == ("suspended", None)
            await asyncio.sleep(max(0.0, first - time.time()) + 1)  # past the first deadline
            assert driver.real_state()[0] == "suspended"
            await cluster.api.request("PATCH", path, {"spec": {"suspend": False}}, patch)
            await driver.until("resumed", lambda: "startTime" in driver.job()["status"])
            second = driver.report().deadline_at
            assert second is not None
            assert second > first
            assert -1.0 <= await _deadline_exceeded_at(driver) - second <= 2.0

    play(control_plane, "suspend", body)
