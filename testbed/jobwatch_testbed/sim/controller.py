"""The Job controller half of the simulation, written from the spec (docs/job-semantics.md, cited as
§n; never from jobwatch.analysis).

`JobController(env, namespace, name, scripts).run()` syncs one Job every simulated second until
it has a terminal condition, as kube-controller-manager's `syncJob` would (v1.31+ behaviour):

* pods are created from the template with the tracking finalizer (§1.7) and handed to the
  kubelet with the script `scripts(attempt, index)` picks;
* a pod is failed when its phase is Failed, or (default podReplacementPolicy) when it is
  terminating and not Succeeded (§1.1, §1.11);
* finished pods are accounted in three writes: UID into `status.uncountedTerminatedPods`,
  finalizer removed from the pod, UID moved into `status.failed`/`succeeded` (§1.7);
  podFailurePolicy `Ignore` matches only lose the finalizer (§1.9);
* Never fails on failures > backoffLimit, OnFailure also on summed restartCount >= backoffLimit
  (> 0 for a limit of 0) over Running/Pending pods (§1.2, §1.3); activeDeadlineSeconds
  (§1.13); FailJob rules (§1.9); per-index limits, maxFailedIndexes and FailedIndexes (§1.10);
* FailureTarget / SuccessCriteriaMet comes first, active pods are deleted keeping their
  finalizer (so they are counted as failed), and Failed / Complete is added only when no pod is
  left running or terminating and nothing is uncounted (§1.16);
* replacements wait the pod-failure backoff: 10 s doubling, capped at 10 min, from the last
  failure, reset only by a success (§3.1); per index from the index's failure count.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from jobwatch_testbed.sim.kubelet import Kubelet, Script
from jobwatch_testbed.sim.objects import (
    COMPLETION_INDEX,
    INDEX_FAILURE_COUNT,
    job_condition,
    pod_for_job,
)
from jobwatch_testbed.sim.store import JOB_TRACKING_FINALIZER, JOBS, PODS, Obj, Store
from jobwatch_testbed.sim.timing import SimTime

ScriptFor = Callable[[int, int | None], Script]
"""Chooses the kubelet script for a new pod: (attempt number, completion index or None)."""

BACKOFF_INITIAL = 10.0  # DefaultJobPodFailureBackOff (§3.1)
BACKOFF_MAX = 600.0  # MaxJobPodFailureBackOff = 10 minutes, not 6 (§3.1)
SYNC_PERIOD = 1.0

MESSAGES = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "DeadlineExceeded": "Job was active longer than specified deadline",
    "MaxFailedIndexesExceeded": "Job has exceeded the specified maximal number of failed indexes",
    "FailedIndexes": "Job has failed indexes",
    "CompletionsReached": "Reached expected number of succeeded pods",
}


def pod_backoff(failures: int) -> float:
    """Delay before the next pod after `failures` failures since the last success (§3.1)."""
    if failures <= 0:
        return 0.0
    return float(min(BACKOFF_INITIAL * 2.0 ** (failures - 1), BACKOFF_MAX))


@dataclass
class Env:
    """What scenario code and controllers share: store, simulated time and the kubelet."""

    store: Store
    time: SimTime
    kubelet: Kubelet


def intervals(indexes: set[int]) -> str:
    """`{1,3,4,5,7}` → `"1,3-5,7"` (status.completedIndexes / failedIndexes format)."""
    out: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_intervals(text: str | None) -> set[int]:
    result: set[int] = set()
    for part in (text or "").split(","):
        if "-" in part:
            a, b = part.split("-")
            result.update(range(int(a), int(b) + 1))
        elif part:
            result.add(int(part))
    return result


def _terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def _deleting(pod: Obj) -> bool:
    return "deletionTimestamp" in pod["metadata"]


def _index(pod: Obj) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    return int(value) if value is not None else None


def _failure_count(pod: Obj) -> int:
    return int((pod["metadata"].get("annotations") or {}).get(INDEX_FAILURE_COUNT, "0"))


def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str, str] | None:
    """First matching rule's (action, message) for a Failed pod (§1.9), else None."""
    policy = job["spec"].get("podFailurePolicy")
    if not policy or pod["status"].get("phase") != "Failed":
        return None
    meta = pod["metadata"]
    ref = f"{meta['namespace']}/{meta['name']}"
    statuses = (pod["status"].get("containerStatuses") or []) + (
        pod["status"].get("initContainerStatuses") or []
    )
    for i, rule in enumerate(policy.get("rules", [])):
        action = rule["action"]
        on_codes = rule.get("onExitCodes")
        if on_codes is not None:
            for cs in statuses:
                term = (cs.get("state") or {}).get("terminated")
                if term is None or term["exitCode"] == 0:
                    continue
                if on_codes.get("containerName") not in (None, cs["name"]):
                    continue
                hit = term["exitCode"] in on_codes["values"]
                if hit == (on_codes["operator"] == "In"):
                    return action, (
                        f"Container {cs['name']} for pod {ref} failed with exit code "
                        f"{term['exitCode']} matching {action} rule at index {i}"
                    )
        for pattern in rule.get("onPodConditions") or []:
            for cond in pod["status"].get("conditions") or []:
                if cond["type"] == pattern["type"] and cond["status"] == pattern.get(
                    "status", "True"
                ):
                    ctype = cond["type"]
                    return (
                        action,
                        f"Pod {ref} has condition {ctype} matching {action} rule at index {i}",
                    )
    return None


class JobController:
    """Drives one Job to a terminal condition (or forever, for stalls)."""

    def __init__(self, env: Env, namespace: str, name: str, scripts: ScriptFor) -> None:
        self.env, self.namespace, self.name, self.scripts = env, namespace, name, scripts
        self.failures_after_success = 0
        self.last_failure_at = 0.0
        self.started_at: float | None = None
        self.attempts = 0
        self.index_attempts: dict[int, int] = {}
        self.index_last_failure: dict[int, tuple[int, float]] = {}  # index -> (count, when)
        self.fail_job: str | None = None
        self.seen_failed: set[str] = set()
        self.deleted: set[str] = set()
        """UIDs of pods this controller deleted: until each is gone, its deletion expectation
        is unmet and the Job cannot finish (syncJob's `satisfiedExpectations`)."""

    @property
    def store(self) -> Store:
        return self.env.store

    def job(self) -> Obj:
        return self.store.get(JOBS, self.namespace, self.name)

    def pods(self, job: Obj) -> list[Obj]:
        uid = job["metadata"]["uid"]
        items, _ = self.store.list(PODS, self.namespace)
        return [
            p
            for p in items
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in p["metadata"].get("ownerReferences") or []
            )
        ]

    def update_status(self, mutate: Callable[[Obj], None]) -> Obj:
        return self.store.update(JOBS, self.namespace, self.name, lambda j: mutate(j["status"]))

    async def run(self) -> Obj:
        """Sync until the Job has Complete or Failed; returns the final Job."""
        while True:
            if self.store.try_get(JOBS, self.namespace, self.name) is None:
                return {}
            if self.sync():
                return self.job()
            await self.env.time.poll(SYNC_PERIOD)

    # ------------------------------------------------------------------ sync
    def sync(self) -> bool:
        job = self.job()
        spec, status = job["spec"], job.get("status", {})
        if any(c["type"] in ("Complete", "Failed") for c in status.get("conditions", [])):
            return True
        if spec.get("suspend"):
            self._suspend(job)
            return False
        if "startTime" not in status:
            self.started_at = self.env.time.elapsed()
            job = self.update_status(lambda s: s.update(startTime=self.env.time.stamp()))
        elif self.started_at is None:
            self.started_at = self.env.time.elapsed()
        pods = self.pods(job)
        if self._account(job, pods):
            return True
        job = self.job()
        pods = self.pods(job)
        target = self._target(job["status"])
        if target is None:
            target = self._decide(job, pods)
            if target is not None:
                self._set_target(job, pods, *target)
                job, pods = self.job(), self.pods(self.job())
        if target is None:
            self._create_pods(job, pods)
            job, pods = self.job(), self.pods(self.job())
        return self._write_counts(job, pods)

    def _suspend(self, job: Obj) -> None:
        """Suspended (§1.14): pods deleted without being counted (finalizer removed first)."""
        for pod in self.pods(job):
            if not _terminal(pod) and not _deleting(pod):
                self._remove_finalizer(pod)
                self.store.delete(PODS, self.namespace, pod["metadata"]["name"])
        if not any(c["type"] == "Suspended" for c in job["status"].get("conditions", [])):
            now = self.env.time.stamp()
            cond = job_condition("Suspended", now, "JobSuspended", "Job suspended")
            self.update_status(
                lambda s: s.update(
                    conditions=[*s.get("conditions", []), cond],
                    ready=0,
                    terminating=0,
                    uncountedTerminatedPods={},
                )
            )

    def _is_failed(self, job: Obj, pod: Obj) -> bool:
        """isPodFailed (§1.1)."""
        if pod["status"].get("phase") == "Failed":
            return True
        spec = job["spec"]
        if spec.get("podFailurePolicy") or spec.get("podReplacementPolicy") == "Failed":
            return False
        return _deleting(pod) and pod["status"].get("phase") != "Succeeded"

    def _remove_finalizer(self, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        if self.store.try_get(PODS, self.namespace, name) is None:
            return

        def drop(p: Obj) -> None:
            fins = p["metadata"].get("finalizers") or []
            p["metadata"]["finalizers"] = [f for f in fins if f != JOB_TRACKING_FINALIZER]

        self.store.update(PODS, self.namespace, name, drop)

    def _account(self, job: Obj, pods: list[Obj]) -> bool:
        """Three-step accounting of newly finished pods (§1.7), deciding on the way as
        `trackJobStatusAndRemoveFinalizers` does: the counts that decide include the pods
        being counted now, so FailureTarget / SuccessCriteriaMet is written together with
        their UIDs in `uncountedTerminatedPods`, and Failed / Complete together with the
        flushed counts once nothing is left. Returns True when the Job finished."""
        spec, status = job["spec"], job["status"]
        per_index = spec.get("backoffLimitPerIndex")
        counted_failed: list[Obj] = []
        counted_succeeded: list[Obj] = []
        ignored: list[Obj] = []
        now = self.env.time.elapsed()
        finishing = self._target(status) is not None
        for pod in pods:
            if JOB_TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or []):
                continue
            uid = pod["metadata"]["uid"]
            if self._is_failed(job, pod):
                match = match_pod_failure_policy(job, pod)
                action = match[0] if match else "Count"
                index = _index(pod)
                if uid not in self.seen_failed:
                    # Ignored failures still lengthen the backoff (§1.9, §3.1).
                    self.seen_failed.add(uid)
                    self.failures_after_success += 1
                    self.last_failure_at = now
                    if index is not None and per_index is not None:
                        bump = 0 if action == "Ignore" else 1
                        self.index_last_failure[index] = (_failure_count(pod) + bump, now)
                if action == "Ignore":
                    ignored.append(pod)
                    continue
                if per_index is not None and index is not None and not finishing:
                    count = _failure_count(pod)
                    exhausted = count >= per_index or action == "FailIndex"
                    replaced = any(_index(p) == index and _failure_count(p) > count for p in pods)
                    if not exhausted and not replaced:
                        continue  # finalizer kept until the replacement exists (§1.10)
                counted_failed.append(pod)
                if action == "FailJob" and match is not None and self.fail_job is None:
                    self.fail_job = match[1]
            elif pod["status"].get("phase") == "Succeeded":
                counted_succeeded.append(pod)
                self.failures_after_success = 0
        if not (counted_failed or counted_succeeded or ignored):
            return False
        failed_uids = [p["metadata"]["uid"] for p in counted_failed]
        indexed = spec.get("completionMode") == "Indexed"
        # An Indexed Job's completion index is enough to avoid recounting a succeeded pod: its
        # UID never goes into uncountedTerminatedPods, the index is written at once.
        succeeded_uids = [] if indexed else [p["metadata"]["uid"] for p in counted_succeeded]
        write_indexes, flush = self._flush(job, counted_failed, counted_succeeded)
        target = self._target(status)
        new_target: tuple[str, str, str] | None = None
        if target is None and (failed_uids or counted_succeeded):
            prospective = copy.deepcopy(status)
            flush(prospective)
            new_target = self._decide({**job, "status": prospective}, pods)
        if new_target is not None:
            self._delete_active(pods)
            pods = self.pods(job)
            target = new_target
        if failed_uids or counted_succeeded:
            stamp = self.env.time.stamp()

            def add_uncounted(s: Obj) -> None:
                apply_counts(s, pod_counts(pods))
                if indexed:
                    write_indexes(s)
                unc = s.setdefault("uncountedTerminatedPods", {})
                if failed_uids:
                    unc["failed"] = [*unc.get("failed", []), *failed_uids]
                if succeeded_uids:
                    unc["succeeded"] = [*unc.get("succeeded", []), *succeeded_uids]
                if new_target is not None:
                    cond = job_condition(new_target[0], stamp, *new_target[1:])
                    s["conditions"] = [*s.get("conditions", []), cond]

            self.update_status(add_uncounted)
        for pod in counted_failed + counted_succeeded + ignored:
            self._remove_finalizer(pod)
        if not (failed_uids or counted_succeeded):
            return False
        pods = self.pods(job)
        counts = pod_counts(pods)
        done = target is not None and self._nothing_left(pods, counts)

        def write(s: Obj) -> None:
            flush(s)
            apply_counts(s, counts)
            if done and target is not None:
                self._finish(s, target)

        self.update_status(write)
        return done

    def _nothing_left(self, pods: list[Obj], counts: dict[str, int]) -> bool:
        tracked = any(
            JOB_TRACKING_FINALIZER in (p["metadata"].get("finalizers") or []) for p in pods
        )
        awaited = any(p["metadata"]["uid"] in self.deleted for p in pods)
        return counts["active"] == 0 and counts["terminating"] == 0 and not tracked and not awaited

    def _finish(self, status: Obj, target: tuple[str, str, str]) -> None:
        """Failed / Complete after FailureTarget / SuccessCriteriaMet (§1.16)."""
        now = self.env.time.stamp()
        ctype = "Complete" if target[0] == "SuccessCriteriaMet" else "Failed"
        status["conditions"] = [
            *status.get("conditions", []),
            job_condition(ctype, now, *target[1:]),
        ]
        if ctype == "Complete":
            status["completionTime"] = now

    def _flush(
        self, job: Obj, counted_failed: list[Obj], counted_succeeded: list[Obj]
    ) -> tuple[Callable[[Obj], None], Callable[[Obj], None]]:
        """Two status changes: the completed/failed indexes alone, and the flush that moves the
        newly counted pods into failed/succeeded (indexes included)."""
        spec, status = job["spec"], job["status"]
        per_index = spec.get("backoffLimitPerIndex")
        failed_uids = [p["metadata"]["uid"] for p in counted_failed]
        succeeded_uids = [p["metadata"]["uid"] for p in counted_succeeded]
        completed = parse_intervals(status.get("completedIndexes"))
        failed_idx = parse_intervals(status.get("failedIndexes"))
        for pod in counted_succeeded:
            if (i := _index(pod)) is not None:
                completed.add(i)
        for pod in counted_failed:
            i = _index(pod)
            if i is None or per_index is None:
                continue
            match = match_pod_failure_policy(job, pod)
            if _failure_count(pod) >= per_index or (match is not None and match[0] == "FailIndex"):
                failed_idx.add(i)
        indexed = spec.get("completionMode") == "Indexed"

        def flush(s: Obj) -> None:
            s["uncountedTerminatedPods"] = {}
            if failed_uids:
                s["failed"] = s.get("failed", 0) + len(failed_uids)
            if indexed:
                write_indexes(s)
            elif succeeded_uids:
                s["succeeded"] = s.get("succeeded", 0) + len(succeeded_uids)

        def write_indexes(s: Obj) -> None:
            if completed:
                s["completedIndexes"] = intervals(completed)
                s["succeeded"] = len(completed)  # counts indexes, not pods (§1.7)
            if per_index is not None:
                s["failedIndexes"] = intervals(failed_idx)

        return write_indexes, flush

    @staticmethod
    def _target(status: Obj) -> tuple[str, str, str] | None:
        for c in status.get("conditions", []):
            if c["type"] in ("FailureTarget", "SuccessCriteriaMet") and c["status"] == "True":
                return c["type"], c["reason"], c["message"]
        return None

    def _decide(self, job: Obj, pods: list[Obj]) -> tuple[str, str, str] | None:
        spec, status = job["spec"], job["status"]
        if self.fail_job is not None:
            return "FailureTarget", "PodFailurePolicy", self.fail_job
        failed = status.get("failed", 0)
        limit = spec["backoffLimit"]
        if failed > limit:  # Never and OnFailure: exceeding the limit (§1.2)
            return self._failure("BackoffLimitExceeded")
        if spec["template"]["spec"].get("restartPolicy") == "OnFailure":
            restarts = sum(
                cs.get("restartCount", 0)
                for p in pods
                if p["status"].get("phase") in ("Running", "Pending")
                for cs in (p["status"].get("initContainerStatuses") or [])
                + (p["status"].get("containerStatuses") or [])
            )
            if (limit == 0 and restarts > 0) or (limit > 0 and restarts >= limit):
                return self._failure("BackoffLimitExceeded")  # reaching the limit (§1.3)
        deadline = spec.get("activeDeadlineSeconds")
        started = self.started_at
        if (
            deadline is not None
            and started is not None
            and self.env.time.elapsed() - started >= deadline
        ):
            return self._failure("DeadlineExceeded")
        completions = spec.get("completions") or 1
        if spec.get("backoffLimitPerIndex") is not None:
            failed_idx = parse_intervals(status.get("failedIndexes"))
            done = parse_intervals(status.get("completedIndexes"))
            max_failed = spec.get("maxFailedIndexes")
            if max_failed is not None and len(failed_idx) > max_failed:
                return self._failure("MaxFailedIndexesExceeded")
            if failed_idx and len(failed_idx | done) >= completions:
                return self._failure("FailedIndexes")
        if status.get("succeeded", 0) >= completions:
            return "SuccessCriteriaMet", "CompletionsReached", MESSAGES["CompletionsReached"]
        return None

    @staticmethod
    def _failure(reason: str) -> tuple[str, str, str]:
        return "FailureTarget", reason, MESSAGES[reason]

    def _set_target(self, job: Obj, pods: list[Obj], ctype: str, reason: str, msg: str) -> None:
        """Active pods are deleted first, so the condition is written with the counts that
        follow (active 0, terminating), in one status update as syncJob does."""
        now = self.env.time.stamp()
        cond = job_condition(ctype, now, reason, msg)
        self._delete_active(pods)
        counts = pod_counts(self.pods(job))

        def write(s: Obj) -> None:
            s["conditions"] = [*s.get("conditions", []), cond]
            apply_counts(s, counts)

        self.update_status(write)

    def _delete_active(self, pods: list[Obj]) -> None:
        for pod in pods:
            if not _terminal(pod) and not _deleting(pod):
                # deleteActivePods keeps the finalizer: they are counted as failed (§1.7).
                self.deleted.add(pod["metadata"]["uid"])
                self.store.delete(PODS, self.namespace, pod["metadata"]["name"])

    def _create_pods(self, job: Obj, pods: list[Obj]) -> None:
        spec, status = job["spec"], job["status"]
        now = self.env.time.elapsed()
        only_failed = bool(spec.get("podFailurePolicy")) or (
            spec.get("podReplacementPolicy") == "Failed"
        )

        def occupies(p: Obj) -> bool:
            if _terminal(p):
                return False
            return not _deleting(p) or only_failed

        if spec.get("completionMode") == "Indexed":
            done = parse_intervals(status.get("completedIndexes")) | parse_intervals(
                status.get("failedIndexes")
            )
            busy = {_index(p) for p in pods if occupies(p)}
            free = spec.get("parallelism", 1) - len(busy)
            for index in range(spec.get("completions") or 0):
                if free <= 0:
                    break
                if index in done or index in busy:
                    continue
                count, failed_at = self.index_last_failure.get(index, (0, 0.0))
                if count and now < failed_at + pod_backoff(count):
                    continue
                self._new_pod(job, index, count)
                free -= 1
            return
        active = sum(1 for p in pods if occupies(p))
        remaining = (spec.get("completions") or 1) - status.get("succeeded", 0)
        want = min(spec.get("parallelism", 1), remaining) - active
        if want <= 0:
            return
        if now < self.last_failure_at + pod_backoff(self.failures_after_success):
            return
        for _ in range(want):
            self._new_pod(job, None, 0)

    def _new_pod(self, job: Obj, index: int | None, failure_count: int) -> None:
        if index is None:
            attempt = self.attempts
            self.attempts += 1
        else:
            attempt = self.index_attempts.get(index, 0)
            self.index_attempts[index] = attempt + 1
        pod = pod_for_job(job, index, failure_count)
        created = self.store.create(PODS, pod)
        script = self.scripts(attempt, index)
        self.env.kubelet.launch(self.namespace, created["metadata"]["name"], script)

    def _write_counts(self, job: Obj, pods: list[Obj]) -> bool:
        """active/ready/terminating, and the terminal condition once nothing is left (§1.16)."""
        status = job["status"]
        counts = pod_counts(pods)
        target = self._target(status)
        finish = (
            target is not None
            and self._nothing_left(pods, counts)
            and not (status.get("uncountedTerminatedPods") or {})
        )
        stale = any(status.get(k, 0 if k == "active" else None) != v for k, v in counts.items())
        if not finish and not stale:
            return False

        def write(s: Obj) -> None:
            apply_counts(s, counts)
            s.setdefault("uncountedTerminatedPods", {})
            if finish and target is not None:
                self._finish(s, target)

        self.update_status(write)
        return finish


def pod_counts(pods: list[Obj]) -> dict[str, int]:
    """status.active (not terminal, not terminating), ready, terminating (§1.11)."""
    active = [p for p in pods if not _terminal(p) and not _deleting(p)]
    ready = sum(
        1
        for p in active
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    )
    terminating = sum(1 for p in pods if _deleting(p) and not _terminal(p))
    return {"active": len(active), "ready": ready, "terminating": terminating}


def apply_counts(status: Obj, counts: dict[str, int]) -> None:
    """`active` is omitted when 0 (omitempty); `ready` and `terminating` are always written."""
    if counts["active"]:
        status["active"] = counts["active"]
    else:
        status.pop("active", None)
    status["ready"], status["terminating"] = counts["ready"], counts["terminating"]
