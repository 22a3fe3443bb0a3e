"""Each scenario's telling state, asserted field by field against the spec.

Expected values are written from docs/job-semantics.md (cited as §n), not
computed by any code under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from jobwatch_testbed.sim.objects import COMPLETION_INDEX, INDEX_FAILURE_COUNT
from jobwatch_testbed.sim.player import ScenarioPlayer, UnknownScenarioError
from jobwatch_testbed.sim.scenarios import SCENARIOS
from jobwatch_testbed.sim.store import CRONJOBS, JOB_TRACKING_FINALIZER, JOBS, PODS, Obj, Store
from jobwatch_testbed.sim.timing import VirtualClock

Check = Callable[[Obj, list[Obj], Store], None]


def conditions(job: Obj) -> list[tuple[str, str, str]]:
    return [
        (c["type"], c["status"], c.get("reason", "")) for c in job["status"].get("conditions", [])
    ]


def failed_with(reason: str) -> list[tuple[str, str, str]]:
    # FailureTarget first, then Failed with the same reason (§1.16, v1.31+).
    return [("FailureTarget", "True", reason), ("Failed", "True", reason)]


COMPLETE = [
    ("SuccessCriteriaMet", "True", "CompletionsReached"),
    ("Complete", "True", "CompletionsReached"),
]


def counts(job: Obj) -> dict[str, int]:
    st = job["status"]
    return {k: st.get(k, 0) for k in ("active", "failed", "succeeded", "ready", "terminating")}


def term(cs: Obj) -> Obj:
    t: Obj = cs["state"]["terminated"]
    return t


def only(pods: list[Obj]) -> Obj:
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def statuses(pod: Obj, field: str = "containerStatuses") -> dict[str, Obj]:
    return {cs["name"]: cs for cs in pod["status"].get(field) or []}


def no_tracking_finalizers(pods: list[Obj]) -> None:
    for pod in pods:
        assert JOB_TRACKING_FINALIZER not in pod["metadata"].get("finalizers", [])


def finished_failed(job: Obj, reason: str, failed: int) -> None:
    assert conditions(job) == failed_with(reason)
    assert counts(job) == {
        "active": 0,
        "failed": failed,
        "succeeded": 0,
        "ready": 0,
        "terminating": 0,
    }
    assert job["status"]["uncountedTerminatedPods"] == {}
    assert "completionTime" not in job["status"]


def finished_complete(job: Obj, failed: int, succeeded: int = 1) -> None:
    assert conditions(job) == COMPLETE
    assert counts(job) == {
        "active": 0,
        "failed": failed,
        "succeeded": succeeded,
        "ready": 0,
        "terminating": 0,
    }
    assert job["status"]["uncountedTerminatedPods"] == {}
    assert job["status"]["completionTime"]


def stalled(job: Obj, pods: list[Obj]) -> Obj:
    assert conditions(job) == []
    assert counts(job)["active"] == 1
    assert counts(job)["failed"] == 0
    pod = only(pods)
    assert pod["status"]["phase"] == "Pending"
    assert pod["metadata"]["finalizers"] == [JOB_TRACKING_FINALIZER]
    return pod


def check_backoff_never(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "BackoffLimitExceeded", failed=2)  # backoffLimit 1 → 2 pods (§1.2)
    assert len(pods) == 2
    no_tracking_finalizers(pods)
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        c = statuses(pod)["c"]
        assert (term(c)["exitCode"], term(c)["reason"], c["restartCount"]) == (1, "Error", 0)


def check_onfailure_crashloop(job: Obj, pods: list[Obj], _: Store) -> None:
    # OnFailure fails on reaching the limit; failed == active pods, not restarts (§1.3).
    finished_failed(job, "BackoffLimitExceeded", failed=1)
    assert pods == []


def check_oom(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "BackoffLimitExceeded", failed=1)
    pod = only(pods)
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["qosClass"] == "Burstable"  # limits above requests
    t = term(statuses(pod)["memory-demo-ctr"])
    assert (t["exitCode"], t["reason"]) == (137, "OOMKilled")


def check_exit127(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "BackoffLimitExceeded", failed=1)
    t = term(statuses(only(pods))["task"])
    assert (t["exitCode"], t["reason"]) == (127, "Error")


def check_start_error(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "BackoffLimitExceeded", failed=1)
    t = term(statuses(only(pods))["app"])
    assert (t["exitCode"], t["reason"], t["startedAt"]) == (
        128,
        "StartError",
        "1970-01-01T00:00:00Z",
    )
    assert 'exec: "x": executable file not found in $PATH' in t["message"]


def check_imagepull(job: Obj, pods: list[Obj], _: Store) -> None:
    pod = stalled(job, pods)
    cs = statuses(pod)["invalid-image"]
    assert cs["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert cs["state"]["waiting"]["message"].startswith('Back-off pulling image "')
    assert cs["restartCount"] == 0
    assert cs["lastState"] == {}


def check_config_error(job: Obj, pods: list[Obj], _: Store) -> None:
    cs = statuses(stalled(job, pods))["config-app"]
    assert cs["state"]["waiting"] == {
        "reason": "CreateContainerConfigError",
        "message": "couldn't find key DATABASE_HOST in ConfigMap sim-configerror/app-settings",
    }


def check_unschedulable(job: Obj, pods: list[Obj], _: Store) -> None:
    pod = stalled(job, pods)
    assert "nodeName" not in pod["spec"]
    assert "containerStatuses" not in pod["status"]
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [(c["status"], c["reason"]) for c in scheduled] == [("False", "Unschedulable")]


def check_deadline(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "DeadlineExceeded", failed=1)  # active pod deleted and counted (§1.13)
    assert (
        job["status"]["conditions"][1]["message"] == "Job was active longer than specified deadline"
    )
    assert pods == []


def check_complete_after_failures(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_complete(job, failed=2)
    no_tracking_finalizers(pods)
    phases = sorted((p["status"]["phase"], term(statuses(p)["c"])["exitCode"]) for p in pods)
    assert phases == [("Failed", 1), ("Failed", 1), ("Succeeded", 0)]


def check_multi_container(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "BackoffLimitExceeded", failed=1)
    pod = only(pods)
    assert pod["status"]["phase"] == "Failed"
    listed = pod["status"]["containerStatuses"]
    assert [(c["name"], term(c)["exitCode"], term(c)["reason"]) for c in listed] == [
        ("app", 0, "Completed"),  # sorted by name; kubectl still shows the worker's Error (§5.1)
        ("worker", 1, "Error"),
    ]


def check_oom_then_success(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_complete(job, failed=0)
    pod = only(pods)
    assert pod["status"]["phase"] == "Succeeded"
    main = statuses(pod)["main"]
    assert main["restartCount"] == 2
    last = main["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "OOMKilled")
    assert (term(main)["exitCode"], term(main)["reason"]) == (0, "Completed")


def check_sidecar(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_complete(job, failed=0)
    pod = only(pods)
    assert pod["status"]["phase"] == "Succeeded"  # sidecars do not decide the phase (§1.5)
    init = pod["status"]["initContainerStatuses"]
    assert [c["name"] for c in init] == ["migrate", "log-shipper"]  # spec order, not sorted
    assert (term(init[0])["exitCode"], term(init[0])["reason"]) == (0, "Completed")
    shipper = statuses(pod, "initContainerStatuses")["log-shipper"]
    assert shipper["restartCount"] == 1
    assert shipper["lastState"]["terminated"]["exitCode"] == 1
    assert term(shipper)["exitCode"] == 143
    assert term(statuses(pod)["main"])["exitCode"] == 0


def check_cronjob(_job: Obj, pods: list[Obj], store: Store) -> None:
    cron = store.get(CRONJOBS, "sim-cronjob", "nightly-report")
    jobs, _ = store.list(JOBS, "sim-cronjob")
    assert len(jobs) == 4
    stamps = []
    for job in jobs:
        ref = only(job["metadata"]["ownerReferences"])
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "CronJob",
            "nightly-report",
            cron["metadata"]["uid"],
            True,
        )
        stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        stamps.append(stamp)
    minutes = [int(j["metadata"]["name"].rsplit("-", 1)[1]) for j in jobs]
    assert minutes == list(range(minutes[0], minutes[0] + 4))
    for job in jobs[:3]:
        finished_failed(job, "BackoffLimitExceeded", failed=1)
    finished_complete(jobs[3], failed=0)
    assert cron["status"]["lastScheduleTime"] == stamps[-1]
    assert cron["status"]["lastSuccessfulTime"]
    assert "active" not in cron["status"]
    assert len(pods) == 4


def check_indexed(job: Obj, pods: list[Obj], _: Store) -> None:
    assert conditions(job) == failed_with("MaxFailedIndexesExceeded")
    st = job["status"]
    assert (st["failed"], st["succeeded"]) == (4, 2)
    assert (st["completedIndexes"], st["failedIndexes"]) == ("0,2", "1,3")
    assert st["uncountedTerminatedPods"] == {}
    assert job["spec"]["backoffLimit"] == 2**31 - 1  # defaulted with backoffLimitPerIndex
    seen = sorted(
        (
            p["metadata"]["labels"][COMPLETION_INDEX],
            p["metadata"]["annotations"][COMPLETION_INDEX],
            p["metadata"]["annotations"][INDEX_FAILURE_COUNT],
            p["status"]["phase"],
        )
        for p in pods
    )
    assert seen == [
        ("0", "0", "0", "Succeeded"),
        ("1", "1", "0", "Failed"),
        ("1", "1", "1", "Failed"),
        ("2", "2", "0", "Succeeded"),
        ("3", "3", "0", "Failed"),
        ("3", "3", "1", "Failed"),
    ]
    no_tracking_finalizers(pods)


def check_failjob(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_failed(job, "PodFailurePolicy", failed=1)
    pod = only(pods)
    name = pod["metadata"]["name"]
    expected = (
        f"Container main for pod sim-pfp-failjob/{name} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )
    assert [c["message"] for c in job["status"]["conditions"]] == [expected, expected]
    assert term(statuses(pod)["main"])["exitCode"] == 42


def check_ignore_disruption(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_complete(job, failed=0)  # the Ignore'd eviction is not counted (§1.8, §1.9)
    assert job["spec"]["podReplacementPolicy"] == "Failed"
    by_phase = {p["status"]["phase"]: p for p in pods}
    assert sorted(by_phase) == ["Failed", "Succeeded"]
    evicted = by_phase["Failed"]
    assert evicted["status"]["reason"] == "Evicted"
    disruption = [c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert [(c["status"], c["reason"]) for c in disruption] == [("True", "TerminationByKubelet")]
    no_tracking_finalizers(pods)


def check_suspended(job: Obj, pods: list[Obj], _: Store) -> None:
    assert conditions(job) == [("Suspended", "True", "JobSuspended")]
    assert job["status"]["conditions"][0]["message"] == "Job suspended"
    assert "startTime" not in job["status"]
    assert counts(job)["active"] == 0
    assert pods == []


def check_healthy(job: Obj, pods: list[Obj], _: Store) -> None:
    finished_complete(job, failed=0)
    pod = only(pods)
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["qosClass"] == "BestEffort"
    t = term(statuses(pod)["hello"])
    assert (t["exitCode"], t["reason"]) == (0, "Completed")
    no_tracking_finalizers(pods)


def check_pod_deleted(job: Obj, pods: list[Obj], _: Store) -> None:
    # Terminating pod counted as failed under TerminatingOrFailed (§1.1, §1.11).
    finished_complete(job, failed=1)
    assert job["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"
    assert only(pods)["status"]["phase"] == "Succeeded"


CHECKS: dict[str, Check] = {
    "backoff_limit_exceeded_never": check_backoff_never,
    "onfailure_crashloop_backoff_limit": check_onfailure_crashloop,
    "oomkilled": check_oom,
    "exit127_command_not_found": check_exit127,
    "start_error_128": check_start_error,
    "imagepullbackoff_stall": check_imagepull,
    "createcontainerconfigerror_stall": check_config_error,
    "unschedulable_stall": check_unschedulable,
    "deadline_exceeded": check_deadline,
    "complete_after_two_failures": check_complete_after_failures,
    "multi_container_completed_but_failed": check_multi_container,
    "onfailure_oom_then_success": check_oom_then_success,
    "failing_sidecar_succeeded_pod": check_sidecar,
    "cronjob_three_failures_then_success": check_cronjob,
    "indexed_per_index_backoff": check_indexed,
    "pod_failure_policy_failjob": check_failjob,
    "pod_failure_policy_ignore_disruption": check_ignore_disruption,
    "suspended": check_suspended,
    "healthy": check_healthy,
    "pod_deleted_counts_as_failed": check_pod_deleted,
}


def test_every_scenario_has_a_check_and_a_documented_telling_state() -> None:
    assert sorted(CHECKS) == sorted(SCENARIOS)
    assert len(SCENARIOS) == 20
    assert len({s.namespace for s in SCENARIOS.values()}) == 20
    for scenario in SCENARIOS.values():
        assert "Telling state:" in scenario.telling_state, scenario.name


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_scenario_telling_state(name: str, played: Store) -> None:
    scenario = SCENARIOS[name]
    job = played.try_get(JOBS, scenario.namespace, scenario.job) or {}
    pods, _ = played.list(PODS, scenario.namespace)
    CHECKS[name](job, pods, played)


async def test_job_pods_are_shaped_like_the_job_controllers(played: Store) -> None:
    pods, _ = played.list(PODS)
    assert pods
    for pod in pods:
        meta = pod["metadata"]
        ref = only(meta["ownerReferences"])
        assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == ("Job", True, True)
        labels = meta["labels"]
        assert labels["batch.kubernetes.io/controller-uid"] == ref["uid"]
        assert labels["controller-uid"] == ref["uid"]
        assert labels["batch.kubernetes.io/job-name"] == ref["name"] == labels["job-name"]
        assert meta["name"].startswith(meta["generateName"])


async def _events_during(name: str) -> list[Any]:
    """Every event of one scenario played to its telling state on virtual time, so a loaded
    machine cannot let the kubelet restart a container once more before the controller acts."""
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = Store(clock=clock.now)
    queue = store.subscribe()
    driver = asyncio.create_task(clock.drive())
    try:
        player = ScenarioPlayer(store, speed=1.0, clock=clock.now, sleep=clock.sleep)
        await player.run([name], until_settled=True)
    finally:
        driver.cancel()
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


async def test_failure_accounting_goes_through_uncounted_and_finalizer_removal() -> None:
    """§1.7: UID into uncountedTerminatedPods, finalizer removed, then counted. As in
    v1.37's trackJobStatusAndRemoveFinalizers, FailureTarget is written with the uncounted UID
    (the decision counts it) and Failed with the flushed count (tests/kube/test_sim_vs_real)."""
    steps: list[str] = []
    for event in await _events_during("oomkilled"):
        obj = event.object
        if event.resource == JOBS:
            st = obj["status"]
            if st.get("uncountedTerminatedPods", {}).get("failed"):
                steps.append("uncounted")
            if st.get("failed") and "counted" not in steps:
                steps.append("counted")
            for c in st.get("conditions", []):
                if c["type"] not in steps:
                    steps.append(c["type"])
        elif event.resource == PODS and event.old is not None:
            had = JOB_TRACKING_FINALIZER in event.old["metadata"].get("finalizers", [])
            has = JOB_TRACKING_FINALIZER in obj["metadata"].get("finalizers", [])
            if had and not has:
                steps.append("finalizer-removed")
    assert steps == ["uncounted", "FailureTarget", "finalizer-removed", "counted", "Failed"]


async def test_onfailure_crash_loop_shows_crashloopbackoff_then_fails_at_the_limit() -> None:
    waits, restart_counts = set(), []
    for event in await _events_during("onfailure_crashloop_backoff_limit"):
        if event.resource != PODS:
            continue
        for cs in event.object["status"].get("containerStatuses") or []:
            waiting = cs["state"].get("waiting")
            if waiting and waiting["reason"] == "CrashLoopBackOff":
                waits.add(waiting["message"].split(" restarting")[0])
                assert cs["lastState"]["terminated"]["exitCode"] == 1
            restart_counts.append(cs["restartCount"])
    assert waits == {"back-off 10s", "back-off 20s"}  # kubelet back-off (§3.2)
    assert max(restart_counts) == 3  # reaching backoffLimit 3 fails the Job (§1.3)


async def test_init_container_keeps_the_pod_pending_until_it_completes() -> None:
    phases = []
    for event in await _events_during("failing_sidecar_succeeded_pod"):
        if event.resource == PODS:
            init = {c["name"]: c for c in event.object["status"].get("initContainerStatuses", [])}
            migrate = init.get("migrate", {}).get("state", {})
            phases.append((event.object["status"]["phase"], next(iter(migrate), None)))
    assert ("Pending", "running") in phases
    assert ("Running", "running") not in phases
    assert phases[-1] == ("Succeeded", "terminated")


async def test_failing_job_deletes_active_pods_keeping_the_finalizer() -> None:
    """§1.7 deleteActivePods: the pod is marked deleting with the tracking finalizer on,
    so it is counted as failed before it goes."""
    marked = [
        e.object
        for e in await _events_during("deadline_exceeded")
        if e.resource == PODS
        and e.old is not None
        and "deletionTimestamp" in e.object["metadata"]
        and "deletionTimestamp" not in e.old["metadata"]
    ]
    assert len(marked) == 1
    assert marked[0]["metadata"]["finalizers"] == [JOB_TRACKING_FINALIZER]
    assert marked[0]["metadata"]["deletionGracePeriodSeconds"] == 30


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(UnknownScenarioError):
        asyncio.run(ScenarioPlayer(Store()).run(["nope"]))


async def test_settled_scenarios_stay_put_while_the_player_idles() -> None:
    """Stalls stay stalled: once settled, an idling player writes nothing more."""
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = Store(clock=clock.now)
    names = ["imagepullbackoff_stall", "unschedulable_stall", "suspended", "healthy"]

    driver = asyncio.create_task(clock.drive())
    player = ScenarioPlayer(store, speed=1.0, clock=clock.now, sleep=clock.sleep)
    task = asyncio.create_task(player.run(names))
    await player.all_settled.wait()
    assert len(player.settled([SCENARIOS[n] for n in names])) == len(names)
    await clock.sleep(100)  # let the last writes land
    rv = store.resource_version
    await clock.sleep(300)  # five idle minutes of virtual time
    assert store.resource_version == rv
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    driver.cancel()
