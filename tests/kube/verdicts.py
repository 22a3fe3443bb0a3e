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
from jobwatch_testbed.kube.scenarios import Mirror
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
    def __init__(self, namespaces: set[str]) -> None:
        self.namespaces = namespaces
        self.mirror = Mirror()
        self.by_job: dict[tuple[str, str], list[Verdict]] = defaultdict(list)
        self._owner: dict[str, tuple[str, str]] = {}  # Job uid -> (namespace, name)

    def __call__(self, resource: Resource, event: str, obj: Obj, now: float) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        if namespace not in self.namespaces or resource not in (JOBS, PODS):
            return
        self.mirror.observe(resource, event, obj)
        if resource is JOBS:
            self._owner[meta["uid"]] = (namespace, meta["name"])
            key = (namespace, meta["name"])
        else:
            owner = next(
                (r["uid"] for r in meta.get("ownerReferences") or [] if r.get("controller")), ""
            )
            if owner not in self._owner:
                return
            key = self._owner[owner]
        job = self.mirror.try_get(JOBS, *key)
        if job is None:
            return
        uid = job["metadata"]["uid"]
        pods, _ = self.mirror.list(PODS, key[0])
        mine = [
            parse_pod(p)
            for p in pods
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]
        report = analyse(parse_job(job), mine, now)
        self.by_job[key].append(Verdict(now, real_state(job), report))


@dataclass(frozen=True)
class ScenarioRun:
    """Every scenario played once on the real control plane, for all of tests/kube."""

    run: KubeRun  # the Job traces (test_sim_vs_real)
    verdicts: Verdicts  # jobwatch at every event (test_analysis_vs_real)
