"""jobwatch's verdict at every watch event of the scenarios' run on the real control plane.

`Verdicts` is a `KubeCluster` listener: it keeps its own mirror of Jobs and pods and, after each
event, analyses the Job concerned as jobwatch would at that moment. tests/kube/conftest.py plays
every scenario once per session with it attached; test_analysis_vs_real compares the verdicts
with what the real Job controller said (docs/job-semantics.md §1.16, §2).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from jobwatch.analysis import JobReport, analyse
from jobwatch.model import parse_job, parse_pod
from jobwatch_testbed.kube.compare import KubeRun
from jobwatch_testbed.sim.store import JOBS, PODS, Obj, Resource

VERDICT_CONDITIONS = (
    ("FailureTarget", "failed"),
    ("Failed", "failed"),
    ("SuccessCriteriaMet", "succeeded"),
    ("Complete", "succeeded"),
)


def real_state(job: Obj) -> tuple[str, str]:
    """What the real controller says about the Job: its verdict conditions, else suspended (it
    acts on spec.suspend, and writes Suspended once it has), else running."""
    conditions = {c["type"]: c for c in job.get("status", {}).get("conditions") or []}
    for type_, state in VERDICT_CONDITIONS:
        c = conditions.get(type_)
        if c is not None and c["status"] == "True":
            return state, c.get("reason") or ("Completed" if type_ == "Complete" else "")
    if job.get("spec", {}).get("suspend"):
        c = conditions.get("Suspended")
        return "suspended", c.get("reason", "") if c and c["status"] == "True" else "JobSuspended"
    return "running", ""


@dataclass(frozen=True)
class Verdict:
    at: float
    real: tuple[str, str]
    report: JobReport


class Verdicts:
    """Listener that keeps a snapshot of the Job and its pods at every event (cheap: references
    to the watch's objects, which are never mutated), and analyses them only when asked, so the
    run it watches keeps its timing."""

    def __init__(self, namespaces: set[str]) -> None:
        self.namespaces = namespaces
        self._jobs: dict[str, Obj] = {}  # Job uid -> latest object
        self._key: dict[str, tuple[str, str]] = {}  # Job uid -> (namespace, name)
        self._pods: dict[str, dict[str, Obj]] = defaultdict(dict)  # Job uid -> pod uid -> pod
        self._snapshots: dict[tuple[str, str], list[tuple[float, Obj, tuple[Obj, ...]]]] = (
            defaultdict(list)
        )
        self._verdicts: dict[tuple[str, str], list[Verdict]] = {}

    def __call__(self, resource: Resource, event: str, obj: Obj, now: float) -> None:
        meta = obj["metadata"]
        if meta.get("namespace", "") not in self.namespaces:
            return
        if resource is JOBS:
            uid = meta["uid"]
            if event == "DELETED":
                return
            self._jobs[uid] = obj
            self._key[uid] = (meta["namespace"], meta["name"])
        elif resource is PODS:
            uid = next(
                (r["uid"] for r in meta.get("ownerReferences") or [] if r.get("controller")), ""
            )
            if uid not in self._jobs:
                return
            if event == "DELETED":
                self._pods[uid].pop(meta["uid"], None)
            else:
                self._pods[uid][meta["uid"]] = obj
        else:
            return
        self._snapshots[self._key[uid]].append(
            (now, self._jobs[uid], tuple(self._pods[uid].values()))
        )

    @property
    def jobs(self) -> list[tuple[str, str]]:
        return list(self._snapshots)

    def of(self, key: tuple[str, str]) -> list[Verdict]:
        """jobwatch's verdict after each event of that Job, and the real controller's."""
        if key not in self._verdicts:
            self._verdicts[key] = [
                Verdict(
                    at, real_state(job), analyse(parse_job(job), [parse_pod(p) for p in pods], at)
                )
                for at, job, pods in self._snapshots[key]
            ]
        return self._verdicts[key]


@dataclass(frozen=True)
class ScenarioRun:
    """Every scenario played once on the real control plane, for all of tests/kube."""

    run: KubeRun  # the Job traces (test_sim_vs_real)
    verdicts: Verdicts  # jobwatch at every event (test_analysis_vs_real)
