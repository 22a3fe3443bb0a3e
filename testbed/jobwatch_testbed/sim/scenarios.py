"""The named Job scenarios. Each has its own namespace, so they can all run together.

`SCENARIOS` maps a stable snake_case name to a `Scenario` (namespace, Job name, one-line
summary, `play` coroutine, `settled` predicate). Each `play` function's docstring states the
scenario's *telling state*: what the objects look like once it is reached (the exporter tests
assert on it). The kubelet side of each pod is a script (see `jobwatch_testbed.sim.kubelet`); the Job
controller side is `jobwatch_testbed.sim.controller.JobController`, which follows the spec.
Durations are simulated seconds; at the default speed (20x) every scenario is settled in < 15 s.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from jobwatch_testbed.sim.clock import rfc3339
from jobwatch_testbed.sim.cluster import Cluster, View, create_and_run
from jobwatch_testbed.sim.controller import ScriptFor
from jobwatch_testbed.sim.kubelet import PodHandle, Script
from jobwatch_testbed.sim.objects import (
    CRONJOB_SCHEDULED,
    container,
    new_cronjob,
    new_job,
    owner_reference,
)
from jobwatch_testbed.sim.store import CRONJOBS, JOBS, PODS, Obj

Play = Callable[[Cluster, "Scenario"], Coroutine[Any, Any, None]]
Settled = Callable[[View, "Scenario"], bool]


@dataclass(frozen=True)
class Scenario:
    name: str
    namespace: str
    job: str
    """The Job's name (for the CronJob scenario: the CronJob's name)."""
    summary: str
    play: Play
    settled: Settled

    @property
    def telling_state(self) -> str:
        return (self.play.__doc__ or "").strip()


# ---------------------------------------------------------------------- kubelet scripts
def exits(seconds: float, **codes: tuple[int, str | None]) -> Script:
    """Run all containers `seconds`, then they exit with {container: (code, reason)}."""

    async def script(pod: PodHandle) -> None:
        await pod.run_to_exit(codes, seconds)

    return script


def same(script: Script) -> ScriptFor:
    return lambda _attempt, _index: script


def by_attempt(*scripts: Script) -> ScriptFor:
    """Attempt n gets scripts[n] (the last one repeats)."""
    return lambda attempt, _index: scripts[min(attempt, len(scripts) - 1)]


async def run_forever(pod: PodHandle) -> None:
    pod.schedule()
    await pod.time.sleep(0.5)
    pod.start()


async def run_job(cluster: Cluster, job: Obj, scripts: ScriptFor) -> Obj:
    return await create_and_run(cluster, job, scripts)


# ---------------------------------------------------------------------- settled predicates
def _job(store: View, sc: Scenario) -> Obj | None:
    return store.try_get(JOBS, sc.namespace, sc.job)


def job_finished(store: View, sc: Scenario) -> bool:
    job = _job(store, sc)
    conds = (job or {}).get("status", {}).get("conditions", [])
    return any(c["type"] in ("Complete", "Failed") for c in conds)


def pod_waiting(reason: str) -> Settled:
    def settled(store: View, sc: Scenario) -> bool:
        items, _ = store.list(PODS, sc.namespace)
        return any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") == reason
            for p in items
            for cs in p.get("status", {}).get("containerStatuses") or []
        )

    return settled


def pod_unschedulable(store: View, sc: Scenario) -> bool:
    items, _ = store.list(PODS, sc.namespace)
    return any(
        c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
        for p in items
        for c in p.get("status", {}).get("conditions", [])
    )


def job_suspended(store: View, sc: Scenario) -> bool:
    job = _job(store, sc)
    conds = (job or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Suspended" and c["status"] == "True" for c in conds)


# ---------------------------------------------------------------------- scenarios
BUSYBOX_E2E = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"


async def backoff_limit_exceeded_never(env: Cluster, sc: Scenario) -> None:
    """Never, backoffLimit 1, every pod exits 1: the 2nd failure exceeds the limit (§1.2).

    Telling state: Job conditions [FailureTarget, Failed], both reason BackoffLimitExceeded;
    status.failed 2, no active, uncountedTerminatedPods {}; two pods, phase Failed, container
    `c` terminated exitCode 1 reason Error, no finalizers. The 2nd pod was created 10 s
    (simulated) after the 1st failed (§3.1)."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("c", ["/bin/sh", "-c", "exit 1"], image=BUSYBOX_E2E)],
        backoffLimit=1,
    )
    await run_job(env, job, same(exits(2, c=(1, None))))


async def onfailure_crashloop_backoff_limit(env: Cluster, sc: Scenario) -> None:
    """OnFailure, backoffLimit 3, container crash-loops (exit 1) in CrashLoopBackOff (§3.2):
    restartCount reaches 3 → the Job fails on *reaching* the limit (§1.3).

    Telling state: Job conditions [FailureTarget, Failed] reason BackoffLimitExceeded,
    status.failed 1 (the one active pod, not the restarts), no pods left (the crash-looping pod
    was deleted by the controller, its logs are gone). While in progress the pod shows
    waiting CrashLoopBackOff with lastState.terminated exitCode 1 and a growing restartCount."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("main", ["/bin/sh", "-c", "echo connecting; exit 1"])],
        restart_policy="OnFailure",
        backoffLimit=3,
    )

    async def crash(pod: PodHandle) -> None:
        pod.schedule()
        await pod.time.sleep(0.5)
        pod.start()
        await pod.crash_loop("main", [(1, None)] * 20, seconds=2)

    await run_job(env, job, same(crash))


async def oomkilled(env: Cluster, sc: Scenario) -> None:
    """Never, backoffLimit 0, the container is OOM-killed.

    Telling state: Job [FailureTarget, Failed] BackoffLimitExceeded, status.failed 1; the pod
    is Failed with container `memory-demo-ctr` terminated exitCode 137 reason OOMKilled."""
    stress = container(
        "memory-demo-ctr",
        ["stress"],
        image="docker.io/polinux/stress:1.0.4",
        args=["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"],
        resources={"limits": {"memory": "100Mi"}, "requests": {"memory": "50Mi"}},
    )
    job = new_job(sc.namespace, sc.job, [stress], backoffLimit=0)
    await run_job(env, job, same(exits(1, **{"memory-demo-ctr": (137, "OOMKilled")})))


async def exit127_command_not_found(env: Cluster, sc: Scenario) -> None:
    """Never, backoffLimit 0, `sh -c` runs a missing command: the shell exits 127.

    Telling state: Job [FailureTarget, Failed] BackoffLimitExceeded, status.failed 1; pod
    Failed, container `task` terminated exitCode 127 reason Error."""
    task = container("task", ["/bin/sh", "-c", "generate-report --daily"])
    job = new_job(sc.namespace, sc.job, [task], backoffLimit=0)
    await run_job(env, job, same(exits(1, task=(127, None))))


async def start_error_128(env: Cluster, sc: Scenario) -> None:
    """Never, backoffLimit 0, the entrypoint binary `x` does not exist (containerd StartError).

    Telling state: Job [FailureTarget, Failed] BackoffLimitExceeded, status.failed 1; pod
    Failed, container `app` terminated exitCode 128 reason StartError, startedAt
    1970-01-01T00:00:00Z, message containing `exec: "x": executable file not found in $PATH`."""
    job = new_job(sc.namespace, sc.job, [container("app", ["x"])], backoffLimit=0)

    async def script(pod: PodHandle) -> None:
        pod.schedule()
        await pod.time.sleep(1)
        pod.start_error("app", "x")

    await run_job(env, job, same(script))


async def imagepullbackoff_stall(env: Cluster, sc: Scenario) -> None:
    """The image does not exist: ErrImagePull, then ImagePullBackOff forever (§4).

    Telling state: Job without conditions, status.active 1, no failed; pod Pending, container
    `invalid-image` waiting reason ImagePullBackOff (message `Back-off pulling image "…"`),
    restartCount 0, the tracking finalizer still on."""
    image = "registry.example.com/team/non-existing-image:1.0"
    job = new_job(sc.namespace, sc.job, [container("invalid-image", ["run"], image=image)])

    async def script(pod: PodHandle) -> None:
        pod.schedule()
        await pod.time.sleep(1)
        pod.waiting(
            "invalid-image",
            "ErrImagePull",
            f'failed to pull and unpack image "{image}": failed to resolve reference '
            f'"{image}": {image}: not found',
        )
        await pod.time.sleep(1)
        pod.waiting("invalid-image", "ImagePullBackOff", f'Back-off pulling image "{image}"')

    await run_job(env, job, same(script))


async def createcontainerconfigerror_stall(env: Cluster, sc: Scenario) -> None:
    """A ConfigMap key is missing: CreateContainerConfigError forever (§4).

    Telling state: Job without conditions, status.active 1; pod Pending, container
    `config-app` waiting reason CreateContainerConfigError, message
    `couldn't find key DATABASE_HOST in ConfigMap sim-configerror/app-settings`."""
    app = container(
        "config-app",
        ["/bin/sh", "-c", "echo $DATABASE_HOST"],
        env=[
            {
                "name": "DATABASE_HOST",
                "valueFrom": {"configMapKeyRef": {"name": "app-settings", "key": "DATABASE_HOST"}},
            }
        ],
    )
    job = new_job(sc.namespace, sc.job, [app])

    async def script(pod: PodHandle) -> None:
        pod.schedule()
        await pod.time.sleep(1)
        pod.waiting(
            "config-app",
            "CreateContainerConfigError",
            f"couldn't find key DATABASE_HOST in ConfigMap {sc.namespace}/app-settings",
        )

    await run_job(env, job, same(script))


async def unschedulable_stall(env: Cluster, sc: Scenario) -> None:
    """The pod asks for 64 CPUs: the scheduler cannot place it (§4).

    Telling state: Job without conditions, status.active 1; pod Pending without nodeName or
    containerStatuses, condition PodScheduled=False reason Unschedulable."""
    big = container("compute", ["/bin/sh", "-c", "crunch"], resources={"requests": {"cpu": "64"}})
    job = new_job(sc.namespace, sc.job, [big])

    async def script(pod: PodHandle) -> None:
        await pod.time.sleep(0.5)
        pod.unschedulable(
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod."
        )

    await run_job(env, job, same(script))


async def deadline_exceeded(env: Cluster, sc: Scenario) -> None:
    """activeDeadlineSeconds 10 with a pod that sleeps (and ignores SIGTERM) (§1.13).

    Telling state: Job [FailureTarget, Failed] reason DeadlineExceeded, message `Job was active
    longer than specified deadline`, status.failed 1 (the active pod was deleted and counted),
    no pods left (killed with 137 after the 30 s grace period, then removed)."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("c", ["sleep", "3600"], image=BUSYBOX_E2E)],
        activeDeadlineSeconds=10,
        backoffLimit=6,
    )

    async def script(pod: PodHandle) -> None:
        pod.sigterm_exit = 137
        await run_forever(pod)

    await run_job(env, job, same(script))


async def complete_after_two_failures(env: Cluster, sc: Scenario) -> None:
    """Never, backoffLimit 6: two pods exit 1, the third succeeds ("Complete hides failures").

    Telling state: Job [SuccessCriteriaMet, Complete] reason CompletionsReached, status.failed
    2, status.succeeded 1; three pods kept (two Failed exit 1 Error, one Succeeded exit 0
    Completed), none with a finalizer."""
    job = new_job(
        sc.namespace, sc.job, [container("c", ["/bin/sh", "-c", "./flaky.sh"])], backoffLimit=6
    )
    failing = exits(2, c=(1, None))
    await run_job(env, job, by_attempt(failing, failing, exits(2, c=(0, None))))


async def multi_container_completed_but_failed(env: Cluster, sc: Scenario) -> None:
    """Two containers: `app` exits 0, `worker` exits 1. The pod is Failed. The v1.28-era printer
    showed Completed (the alphabetically first container); printPod at v1.37.2 shows the worker's
    Error (docs/job-semantics.md §5.1, §6).

    Telling state: Job [FailureTarget, Failed] BackoffLimitExceeded, status.failed 1; pod phase
    Failed, containerStatuses sorted [app: exitCode 0 reason Completed, worker: exitCode 1
    reason Error]."""
    job = new_job(
        sc.namespace,
        sc.job,
        [
            container("worker", ["/bin/sh", "-c", "process-queue"]),
            container("app", ["/bin/sh", "-c", "upload-results"]),
        ],
        backoffLimit=0,
    )
    await run_job(env, job, same(exits(2, app=(0, None), worker=(1, None))))


async def onfailure_oom_then_success(env: Cluster, sc: Scenario) -> None:
    """OnFailure, backoffLimit 6: OOM-killed twice, restarted in place, then succeeds (§1.3:
    restarts of a pod that succeeded leave no trace in Job status).

    Telling state: Job [SuccessCriteriaMet, Complete] CompletionsReached, succeeded 1, no
    failed; pod Succeeded with container `main` restartCount 2, lastState.terminated exitCode
    137 reason OOMKilled, state.terminated exitCode 0 reason Completed."""
    job = new_job(
        sc.namespace,
        sc.job,
        [
            container(
                "main",
                ["/bin/sh", "-c", "load-data"],
                resources={"limits": {"memory": "256Mi"}},
            )
        ],
        restart_policy="OnFailure",
        backoffLimit=6,
    )

    async def script(pod: PodHandle) -> None:
        pod.schedule()
        await pod.time.sleep(0.5)
        pod.start()
        runs: list[tuple[int, str | None]] = [(137, "OOMKilled"), (137, "OOMKilled"), (0, None)]
        await pod.crash_loop("main", runs, seconds=2)

    await run_job(env, job, same(script))


async def failing_sidecar_succeeded_pod(env: Cluster, sc: Scenario) -> None:
    """A regular init container `migrate` runs first (exit 0); then a native sidecar
    `log-shipper` (init container with restartPolicy Always) starts, crashes once, is restarted,
    and exits 143 when stopped; the main container exits 0, so the pod Succeeds (§1.4, §1.5).

    Telling state: Job [SuccessCriteriaMet, Complete], succeeded 1, no failed; pod Succeeded;
    initContainerStatuses [migrate: exitCode 0 reason Completed, log-shipper: restartCount 1,
    lastState.terminated exitCode 1 reason Error, state.terminated exitCode 143];
    containerStatuses[main] exitCode 0."""
    migrate = container("migrate", ["/bin/sh", "-c", "migrate --up"])
    sidecar = container(
        "log-shipper",
        ["fluent-bit", "-c", "/etc/fluent-bit.conf"],
        image="docker.io/fluent/fluent-bit:3.0",
        restartPolicy="Always",
    )
    job = new_job(
        sc.namespace,
        sc.job,
        [container("main", ["/bin/sh", "-c", "run-batch"])],
        init_containers=[migrate, sidecar],
        backoffLimit=0,
    )

    async def script(pod: PodHandle) -> None:
        pod.schedule()
        await pod.time.sleep(0.5)
        pod.start("migrate")
        await pod.time.sleep(1)
        pod.exit("migrate", 0)
        pod.start("log-shipper")
        await pod.time.sleep(0.5)
        pod.start("main")
        await pod.time.sleep(1)
        pod.exit("log-shipper", 1)
        pod.restart("log-shipper")  # first restart is immediate (§3.2)
        await pod.time.sleep(2)
        pod.exits({"main": (0, None), "log-shipper": (143, "Error")})

    await run_job(env, job, same(script))


async def cronjob_three_failures_then_success(env: Cluster, sc: Scenario) -> None:
    """CronJob `nightly-report` (every minute, failedJobsHistoryLimit 3): three runs fail
    (exit 1, backoffLimit 0), the fourth succeeds. Each run is its own Job
    `nightly-report-<scheduled time in minutes>` owned by the CronJob (controller
    ownerReference), annotated `batch.kubernetes.io/cronjob-scheduled-timestamp`. Scheduled
    times are the four minutes ending with the current one.

    Telling state: four Jobs; the three oldest [FailureTarget, Failed] BackoffLimitExceeded with
    failed 1, the newest [SuccessCriteriaMet, Complete] with succeeded 1; CronJob status has
    lastScheduleTime and lastSuccessfulTime of the last run and no active Jobs."""
    template = new_job(
        sc.namespace,
        "template",
        [container("report", ["/bin/sh", "-c", "generate-report"])],
        backoffLimit=0,
    )["spec"]
    cron = await env.create(
        CRONJOBS,
        new_cronjob(sc.namespace, sc.job, "*/1 * * * *", template, failedJobsHistoryLimit=3),
    )
    now = env.time.now().replace(second=0, microsecond=0)
    runs = 4
    for run in range(runs):
        scheduled = now - timedelta(minutes=runs - 1 - run)
        minutes = int(scheduled.replace(tzinfo=UTC).timestamp() // 60)
        job = new_job(
            sc.namespace,
            f"{sc.job}-{minutes}",
            [],
            annotations={CRONJOB_SCHEDULED: rfc3339(scheduled)},
            owner=cron,
        )
        job["spec"] = dict(template)
        created = await env.create(JOBS, job)
        ref = {
            k: v
            for k, v in owner_reference(created).items()
            if k in ("apiVersion", "kind", "name", "uid")
        }
        ref.update(namespace=sc.namespace, resourceVersion=created["metadata"]["resourceVersion"])
        await env.update_status(
            CRONJOBS, sc.namespace, sc.job, _cron_started(ref, rfc3339(scheduled))
        )
        script = exits(2, report=(0 if run == runs - 1 else 1, None))
        final = await env.run_job(created, same(script))
        conditions = final.get("status", {}).get("conditions", [])
        succeeded = any(c["type"] == "Complete" for c in conditions)
        done_at = env.time.stamp()

        def finish(c: Obj, ok: bool = succeeded, at: str = done_at) -> None:
            c.setdefault("status", {}).pop("active", None)
            if ok:
                c["status"]["lastSuccessfulTime"] = at

        await env.update_status(CRONJOBS, sc.namespace, sc.job, finish)
        if run < runs - 1:
            await env.pause(max(0.0, 60 - 3))


def _cron_started(ref: Obj, scheduled: str) -> Callable[[Obj], None]:
    def mutate(cron: Obj) -> None:
        cron.setdefault("status", {}).update(active=[ref], lastScheduleTime=scheduled)

    return mutate


def cronjob_settled(store: View, sc: Scenario) -> bool:
    cron = store.try_get(CRONJOBS, sc.namespace, sc.job)
    return cron is not None and "lastSuccessfulTime" in cron.get("status", {})


async def indexed_per_index_backoff(env: Cluster, sc: Scenario) -> None:
    """Indexed Job, completions 4, parallelism 4, backoffLimitPerIndex 1, maxFailedIndexes 1.
    Indexes 0 and 2 succeed; 1 and 3 fail twice each (failure-count 0 then 1) (§1.10).

    Telling state: Job [FailureTarget, Failed] reason MaxFailedIndexesExceeded, status.failed 4,
    succeeded 2, completedIndexes "0,2", failedIndexes "1,3"; six pods with the
    `batch.kubernetes.io/job-completion-index` annotation and label and the
    `batch.kubernetes.io/job-index-failure-count` annotation ("0" or "1")."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("worker", ["/bin/sh", "-c", "process-shard $JOB_COMPLETION_INDEX"])],
        completions=4,
        parallelism=4,
        completionMode="Indexed",
        backoffLimitPerIndex=1,
        maxFailedIndexes=1,
    )
    scripts = {
        0: exits(2, worker=(0, None)),
        1: exits(2, worker=(1, None)),
        2: exits(3, worker=(0, None)),
        3: exits(4, worker=(1, None)),
    }
    await run_job(env, job, lambda _attempt, index: scripts[index or 0])


POLICY_RULES_FAILJOB = [
    {
        "action": "FailJob",
        "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
    },
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
]


async def pod_failure_policy_failjob(env: Cluster, sc: Scenario) -> None:
    """podFailurePolicy FailJob on exit code 42 (backoffLimit 6 is not used up) (§1.9).

    Telling state: Job [FailureTarget, Failed] reason PodFailurePolicy, message `Container main
    for pod sim-pfp-failjob/<pod> failed with exit code 42 matching FailJob rule at index 0`,
    status.failed 1; pod Failed with `main` exitCode 42."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("main", ["/bin/sh", "-c", "validate-input || exit 42"])],
        backoffLimit=6,
        podFailurePolicy={"rules": POLICY_RULES_FAILJOB},
    )
    await run_job(env, job, same(exits(2, main=(42, None))))


async def pod_failure_policy_ignore_disruption(env: Cluster, sc: Scenario) -> None:
    """podFailurePolicy Ignore on DisruptionTarget, backoffLimit 0: the first pod is evicted
    by the kubelet under memory pressure; it is not counted, and the replacement succeeds.

    Telling state: Job [SuccessCriteriaMet, Complete], status.succeeded 1, no status.failed;
    the evicted pod stays: phase Failed, reason Evicted, condition DisruptionTarget=True reason
    TerminationByKubelet, no finalizer; the replacement pod Succeeded."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("main", ["/bin/sh", "-c", "crunch-numbers"])],
        backoffLimit=0,
        podFailurePolicy={"rules": [POLICY_RULES_FAILJOB[1]]},
    )

    async def evicted(pod: PodHandle) -> None:
        await run_forever(pod)
        await pod.time.sleep(2)
        pod.evict(
            "TerminationByKubelet",
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: "
            "92Mi. Container main was using 1200Mi, request is 0, has larger consumption of "
            "memory.",
        )

    await run_job(env, job, by_attempt(evicted, exits(2, main=(0, None))))


async def suspended(env: Cluster, sc: Scenario) -> None:
    """A Job created with spec.suspend true (§1.14).

    Telling state: Job conditions [Suspended=True reason JobSuspended message `Job suspended`],
    no startTime, no active, no pods."""
    job = new_job(
        sc.namespace, sc.job, [container("c", ["/bin/sh", "-c", "echo hi"])], suspend=True
    )
    await run_job(env, job, same(exits(1, c=(0, None))))


async def healthy(env: Cluster, sc: Scenario) -> None:
    """A Job whose only pod succeeds.

    Telling state: Job [SuccessCriteriaMet, Complete] reason CompletionsReached, succeeded 1, no
    failed, completionTime set; pod Succeeded, container `hello` exitCode 0 reason Completed."""
    job = new_job(sc.namespace, sc.job, [container("hello", ["/bin/sh", "-c", "echo hello"])])
    await run_job(env, job, same(exits(2, hello=(0, None))))


async def pod_deleted_counts_as_failed(env: Cluster, sc: Scenario) -> None:
    """Someone deletes the running pod (`kubectl delete pod`, grace 30 s); with the default
    podReplacementPolicy TerminatingOrFailed the terminating pod counts as failed at once
    (§1.1); the replacement, created after the 10 s backoff, succeeds.

    Telling state: Job [SuccessCriteriaMet, Complete], status.failed 1, succeeded 1; only the
    replacement pod is left (Succeeded); the deleted pod is gone."""
    job = new_job(
        sc.namespace,
        sc.job,
        [container("c", ["/bin/sh", "-c", "long-task"])],
        backoffLimit=2,
    )

    async def deleted(pod: PodHandle) -> None:
        await run_forever(pod)
        await pod.time.sleep(2)
        pod.delete(grace_period_seconds=30)

    await run_job(env, job, by_attempt(deleted, exits(2, c=(0, None))))


def _scenario(
    play: Play, namespace: str, job: str, summary: str, settled: Settled = job_finished
) -> Scenario:
    return Scenario(play.__name__, namespace, job, summary, play, settled)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        _scenario(
            backoff_limit_exceeded_never,
            "sim-backoff-never",
            "backofflimit",
            "Never, backoffLimit 1, two failed pods -> BackoffLimitExceeded",
        ),
        _scenario(
            onfailure_crashloop_backoff_limit,
            "sim-onfailure",
            "fail-onfailure",
            "OnFailure crash loop until restartCount reaches backoffLimit 3",
        ),
        _scenario(oomkilled, "sim-oomkilled", "memory-hog", "OOMKilled (137), backoffLimit 0"),
        _scenario(
            exit127_command_not_found,
            "sim-exit127",
            "missing-command",
            "sh -c with a missing command exits 127",
        ),
        _scenario(
            start_error_128,
            "sim-starterror",
            "bad-entrypoint",
            "entrypoint not found: StartError, exit 128",
        ),
        _scenario(
            imagepullbackoff_stall,
            "sim-imagepull",
            "invalid-image",
            "image does not exist: ImagePullBackOff stall",
            pod_waiting("ImagePullBackOff"),
        ),
        _scenario(
            createcontainerconfigerror_stall,
            "sim-configerror",
            "config-app",
            "missing ConfigMap key: CreateContainerConfigError stall",
            pod_waiting("CreateContainerConfigError"),
        ),
        _scenario(
            unschedulable_stall,
            "sim-unschedulable",
            "huge-request",
            "64 CPUs requested: Unschedulable stall",
            pod_unschedulable,
        ),
        _scenario(
            deadline_exceeded,
            "sim-deadline",
            "sleepy",
            "activeDeadlineSeconds 10 -> DeadlineExceeded",
        ),
        _scenario(
            complete_after_two_failures,
            "sim-retry-success",
            "flaky",
            "two failed pods, then success: Complete with failed 2",
        ),
        _scenario(
            multi_container_completed_but_failed,
            "sim-multicontainer",
            "two-containers",
            "app exits 0, worker exits 1: pod Failed, kubectl shows the worker's Error",
        ),
        _scenario(
            onfailure_oom_then_success,
            "sim-oom-restarts",
            "memory-spiky",
            "OnFailure: OOMKilled twice, then success",
        ),
        _scenario(
            failing_sidecar_succeeded_pod,
            "sim-sidecar",
            "with-sidecar",
            "native sidecar crashes, pod still Succeeded",
        ),
        _scenario(
            cronjob_three_failures_then_success,
            "sim-cronjob",
            "nightly-report",
            "CronJob: three failed runs, then a success",
            cronjob_settled,
        ),
        _scenario(
            indexed_per_index_backoff,
            "sim-indexed",
            "per-index",
            "Indexed, backoffLimitPerIndex 1, maxFailedIndexes 1 -> MaxFailedIndexesExceeded",
        ),
        _scenario(
            pod_failure_policy_failjob,
            "sim-pfp-failjob",
            "exit-42",
            "podFailurePolicy FailJob on exit code 42",
        ),
        _scenario(
            pod_failure_policy_ignore_disruption,
            "sim-pfp-ignore",
            "evictable",
            "podFailurePolicy Ignore on DisruptionTarget: eviction not counted",
        ),
        _scenario(suspended, "sim-suspended", "paused", "suspended Job", job_suspended),
        _scenario(healthy, "sim-healthy", "hello", "healthy Job, succeeds first time"),
        _scenario(
            pod_deleted_counts_as_failed,
            "sim-pod-deleted",
            "deleted-pod",
            "running pod deleted: counted as failed, replacement succeeds",
        ),
    ]
}
