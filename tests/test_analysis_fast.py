"""The fast analysis and Job renderer (issue 12) against the ones they replaced.

`analyse` sorts the pods once and hands each rule only the pods that can change its answer;
`render_job` writes each family's line in one f-string. Both must give exactly what the previous
code gave: `tests/analysis_reference.py` is that code, and generated Jobs and pods (small
vocabularies, so that failures, deletions, policies, indexes, sidecars and stalls meet) must
produce equal reports, equal rule results and byte-identical fragments.
"""

from __future__ import annotations

import dataclasses
import math
import shlex

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobwatch import exposition as ex
from jobwatch.analysis import backoff, budget, exits, hidden, job, stalls
from jobwatch.analysis.report import ExitInfo, JobReport
from jobwatch.body import ChunkedFamilies
from jobwatch.metrics import JOB_FAMILIES
from jobwatch.model import Condition, ContainerStatus, Job, Pod, PodFailurePolicyRule, Termination
from jobwatch.vocabulary import Cause
from tests import analysis_reference as ref

T = 1_800_000_000.0
times = st.sampled_from([None, T, T + 5, T + 12.5, T + 30, T + 700])
some_time = st.sampled_from([T, T + 5, T + 12.5, T + 30, T + 700])

conditions = st.builds(
    Condition,
    type=st.sampled_from(
        ["PodScheduled", "Ready", "ContainersReady", "Initialized", "DisruptionTarget"]
    ),
    status=st.sampled_from(["True", "False"]),
    reason=st.sampled_from(
        ["", "Unschedulable", "SchedulingGated", "EvictionByEvictionAPI", "TerminationByKubelet"]
    ),
    transition_at=times,
)
terminations = st.builds(
    Termination,
    exit_code=st.sampled_from([0, 1, 2, 126, 127, 128, 137, 139, 143, 150, -1, 300]),
    reason=st.sampled_from(
        ["", "Error", "Completed", "OOMKilled", "StartError", "ContainerStatusUnknown"]
    ),
    signal=st.sampled_from([0, 9]),
    finished_at=times,
)
containers = st.builds(
    ContainerStatus,
    name=st.sampled_from(["a", "b", "side"]),
    kind=st.sampled_from(["init", "sidecar", "regular"]),
    restart_count=st.integers(0, 3),
    ready=st.booleans(),
    started=st.booleans(),
    waiting_reason=st.sampled_from(
        [
            "",
            "",
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "CreateContainerConfigError",
            "PodInitializing",
        ]
    ),
    running=st.booleans(),
    running_since=times,
    terminated=st.none() | terminations,
    last_terminated=st.none() | terminations,
)
pods = st.builds(
    Pod,
    namespace=st.just("ns"),
    name=st.sampled_from(["p0", "p1", "p2", "p3"]),
    uid=st.sampled_from(["u0", "u1", "u2", "u3", "u4"]),  # repeats: the rules key pods by uid
    job_uid=st.just("j"),
    phase=st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"]),
    reason=st.sampled_from(["", "", "Evicted", "DeadlineExceeded", "NodeLost"]),
    restart_policy=st.sampled_from(["Never", "OnFailure"]),
    created_at=times,
    deleting_at=st.none() | some_time,
    deletion_grace_seconds=st.sampled_from([None, 0, 30]),
    tracked=st.booleans(),
    conditions=st.lists(conditions, max_size=4).map(tuple),
    containers=st.lists(containers, max_size=3).map(tuple),
    init_count=st.integers(0, 2),
    completion_index=st.sampled_from([None, -1, 0, 1, 2, 3]),
    index_failure_count=st.integers(0, 3),
    index_ignored_failure_count=st.integers(0, 2),
)
rules = st.builds(
    PodFailurePolicyRule,
    action=st.sampled_from(["FailJob", "FailIndex", "Ignore", "Count", "Later"]),
    container_name=st.sampled_from([None, "a"]),
    operator=st.sampled_from(["In", "NotIn", ""]),
    values=st.frozensets(st.sampled_from([1, 2, 137]), max_size=2),
    pod_conditions=st.lists(
        st.tuples(st.sampled_from(["DisruptionTarget", "Ready"]), st.sampled_from(["True"])),
        max_size=1,
    ).map(tuple),
)
job_conditions = st.builds(
    Condition,
    type=st.sampled_from(
        ["FailureTarget", "Failed", "SuccessCriteriaMet", "Complete", "Suspended"]
    ),
    status=st.sampled_from(["True", "True", "False"]),
    reason=st.sampled_from(["", "BackoffLimitExceeded", "DeadlineExceeded", "JobSuspended"]),
    transition_at=times,
)
index_sets = st.sampled_from(["", "0", "1-2", "0,3", "x"])
jobs = st.builds(
    Job,
    namespace=st.just("ns"),
    name=st.just("job"),
    uid=st.just("j"),
    created_at=times,
    cronjob=st.sampled_from(["", "nightly"]),
    cronjob_uid=st.just(""),
    restart_policy=st.sampled_from(["Never", "OnFailure"]),
    completion_mode=st.sampled_from(["NonIndexed", "Indexed"]),
    parallelism=st.none() | st.integers(0, 3),
    completions=st.none() | st.integers(0, 4),
    backoff_limit=st.integers(0, 4),
    backoff_limit_per_index=st.none() | st.integers(0, 3),
    max_failed_indexes=st.none() | st.integers(0, 2),
    active_deadline_seconds=st.none() | st.just(10),
    suspend=st.booleans(),
    managed_by=st.sampled_from(["", "", "kubernetes.io/job-controller", "example.com/other"]),
    pod_replacement_policy=st.sampled_from(["TerminatingOrFailed", "Failed"]),
    pod_failure_policy=st.none() | st.lists(rules, max_size=3).map(tuple),
    active=st.integers(0, 2),
    ready=st.integers(0, 2),
    succeeded=st.integers(0, 2),
    failed=st.integers(0, 3),
    terminating=st.integers(0, 1),
    uncounted_failed=st.frozensets(st.sampled_from(["u0", "u1"]), max_size=2),
    uncounted_succeeded=st.just(frozenset()),
    conditions=st.lists(job_conditions, max_size=2).map(tuple),
    start_time=times,
    completion_time=times,
    failed_indexes=index_sets,
    completed_indexes=index_sets,
)
nows = st.sampled_from([T, T + 8, T + 20, T + 100, T + 2000])
SETTINGS = settings(
    max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@SETTINGS
@given(jobs, st.lists(pods, max_size=5), nows)
def test_analyse_equals_every_rule_over_every_pod(job_: Job, pods_: list[Pod], now: float) -> None:
    assert job.analyse(job_, pods_, now) == ref.analyse(job_, pods_, now)


@SETTINGS
@given(jobs, st.lists(pods, max_size=5), nows, st.none() | some_time)
def test_each_rule_equals_its_previous_form(
    job_: Job, pods_: list[Pod], now: float, retry: float | None
) -> None:
    assert job.job_state(job_) == ref.job_state(job_)
    for failed in (False, True):
        assert budget.attempts(job_, pods_, failed=failed) == ref.attempts(
            job_, pods_, failed=failed
        )
    assert backoff.next_retry_at(job_, pods_) == ref.next_retry_at(job_, pods_)
    assert stalls.job_stall(job_, pods_, now, retry) == ref.job_stall(job_, pods_, now, retry)
    for pod in pods_:
        assert stalls.pod_stall(pod) == ref.pod_stall(pod)
    for succeeded in (False, True):
        assert hidden.hidden_failures(job_, pods_, succeeded=succeeded) == ref.hidden_failures(
            job_, pods_, succeeded=succeeded
        )
    for deadline in (False, True):
        found = exits.container_exits(pods_, job_deadline_exceeded=deadline)
        assert found == ref.container_exits(pods_, job_deadline_exceeded=deadline)
        assert exits.last_exit(found) == ref.last_exit(found)


label_text = st.sampled_from(["", "ns", 'a"b', "back\\slash", "new\nline", "ünï", "a\ud800b"]) | (
    st.text(max_size=6)
)
values = st.sampled_from([0.0, 1.5, -2.0, 2.0**53, 1e300, math.inf, -math.inf, math.nan]) | (
    st.floats(allow_nan=False, allow_infinity=False)
)


@SETTINGS
@given(
    job_=jobs,
    pods_=st.lists(pods, max_size=4),
    now=nows,
    namespace=label_text,
    name=label_text,
    cronjob=label_text,
    container=st.none() | label_text,
    times_=st.lists(values, min_size=4, max_size=4),
    restarts=st.integers(-5, 10**12),
)
def test_render_job_writes_what_the_generic_lines_write(
    *,
    job_: Job,
    pods_: list[Pod],
    now: float,
    namespace: str,
    name: str,
    cronjob: str,
    container: str | None,
    times_: list[float],
    restarts: int,
) -> None:
    report = job.analyse(job_, pods_, now)
    # Free text where the cluster puts it, odd numbers where timestamps and counts go.
    last = report.last_exit
    if last is not None and container is not None:
        last = dataclasses.replace(last, container=container, finished_at=times_[0])
    changed: JobReport = dataclasses.replace(
        report,
        namespace=namespace,
        name=name,
        cronjob=cronjob,
        last_exit=last,
        next_retry_at=times_[1],
        deadline_at=times_[2],
        finish_at=times_[3],
        container_restarts=restarts,
    )
    for one in (report, changed):
        assert ex.render_job(one) == ref.render_job(one)


def test_vocabulary_values_need_no_escaping() -> None:
    """`render_job` writes vocabulary values as they are; escaping would leave them unchanged."""
    assert "other" in ex._VERBATIM
    assert all(ex.escape_label(value) == value for value in ex._VERBATIM)
    assert 'a"b' not in ex._VERBATIM


def _fields(report: JobReport) -> tuple[object, ...]:
    return tuple(getattr(report, f.name) for f in dataclasses.fields(report))


@SETTINGS
@given(
    first=st.tuples(jobs, st.lists(pods, max_size=3), nows),
    second=st.tuples(jobs, st.lists(pods, max_size=3), nows),
    field=st.sampled_from([f.name for f in dataclasses.fields(JobReport)]),
)
def test_report_equality_is_the_dataclass_equality(
    first: tuple[Job, list[Pod], float],
    second: tuple[Job, list[Pod], float],
    field: str,
) -> None:
    """`JobReport.__eq__` compares fields in its own order; the answer must be the generated
    one's (the tuples of fields), a NaN timestamp held by both included."""
    a, b = job.analyse(*first), job.analyse(*second)
    nan = math.nan
    with_nan = dataclasses.replace(a, next_retry_at=nan)
    pairs = [
        (a, b),
        (a, job.analyse(*first)),
        (a, dataclasses.replace(a, **{field: getattr(b, field)})),
        (with_nan, dataclasses.replace(with_nan)),
        (with_nan, dataclasses.replace(a, next_retry_at=math.nan)),
    ]
    for x, y in pairs:
        assert (x == y) is (_fields(x) == _fields(y))
        assert (x != y) is (_fields(x) != _fields(y))
        if x == y:
            assert hash(x) == hash(y)
    assert a == job.analyse(*first)
    assert a != "not a report"


@SETTINGS
@given(namespace=label_text, pod=label_text, container=label_text, previous=st.booleans())
def test_logs_command_is_shlex_join_of_its_words(
    namespace: str, pod: str, container: str, previous: bool
) -> None:
    exit_ = ExitInfo(pod, container, 1, "Error", Cause.APP_ERROR, "", None, previous=previous)
    words = ["kubectl", "-n", namespace, "logs", pod, "-c", container]
    assert job.logs_command(namespace, exit_) == shlex.join(
        [*words, "--previous"] if previous else words
    )


family_names = st.sampled_from([f.name for f in JOB_FAMILIES[:4]])
fragment_maps = st.dictionaries(family_names, st.sampled_from([b"a\n", b"b\n", b"c\n"]))


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(["u0", "u1", "u2"]), st.none() | fragment_maps), max_size=12)
)
def test_chunked_families_mark_exactly_the_changed_families(
    steps: list[tuple[str, dict[str, bytes] | None]],
) -> None:
    """`ChunkedFamilies.set` finds the changed families in loops; the definition is the set of
    families whose lines differ between the Job's old and new fragments."""
    families = ChunkedFamilies(JOB_FAMILIES, chunk=2)
    held: dict[str, dict[str, bytes]] = {}
    stale: set[tuple[str, int]] = set()
    for uid, fragments in steps:
        old, new = held.get(uid, {}), fragments or {}
        changed = {n for n in old.keys() | new.keys() if old.get(n) != new.get(n)}
        before = families._chunk_of.get(uid)
        assert families.set(uid, fragments) is bool(changed)
        index = families._chunk_of.get(uid, before)
        if fragments is None:
            held.pop(uid, None)
        else:
            held[uid] = fragments
        stale |= {(n, index) for n in changed if index is not None}
        assert families._stale == stale
