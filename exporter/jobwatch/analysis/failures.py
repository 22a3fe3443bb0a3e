"""Which pods the Job controller counts as failed (docs/job-semantics.md §1.1, §1.7, §1.9)."""

from __future__ import annotations

from enum import StrEnum

from jobwatch.model import Job, Pod, PodFailurePolicyRule


class PolicyAction(StrEnum):
    FAIL_JOB = "FailJob"
    FAIL_INDEX = "FailIndex"
    IGNORE = "Ignore"
    COUNT = "Count"


def only_replace_failed(job: Job) -> bool:
    """`onlyReplaceFailedPods`: a podFailurePolicy, or podReplacementPolicy Failed (§1.1, §1.11)."""
    return job.pod_failure_policy is not None or job.pod_replacement_policy == "Failed"


def is_pod_failed(job: Job, pod: Pod) -> bool:
    """`isPodFailed` (§1.1): phase Failed; else, unless only failed pods are replaced, a pod
    with a deletion timestamp that has not Succeeded counts as failed at once."""
    if pod.phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return pod.deleting_at is not None and pod.phase != "Succeeded"


def _exit_codes_match(rule: PodFailurePolicyRule, pod: Pod) -> bool:
    # containerStatuses first, then initContainerStatuses; current state only; exit 0 skipped.
    ordered = [c for c in pod.containers if c.kind == "regular"]
    ordered += [c for c in pod.containers if c.kind != "regular"]
    for status in ordered:
        term = status.terminated
        if term is None or term.exit_code == 0:
            continue
        if rule.container_name is not None and status.name != rule.container_name:
            continue
        if rule.operator == "In" and term.exit_code in rule.values:
            return True
        if rule.operator == "NotIn" and term.exit_code not in rule.values:
            return True
    return False


def _conditions_match(rule: PodFailurePolicyRule, pod: Pod) -> bool:
    return any(
        c.type == want_type and c.status == want_status
        for want_type, want_status in rule.pod_conditions
        for c in pod.conditions
    )


def matched_policy_action(job: Job, pod: Pod) -> tuple[PolicyAction, int] | None:
    """`matchPodFailurePolicy` (§1.9): the first matching rule decides; unknown actions are
    skipped; only Failed pods are matched. Returns the action and the rule's index."""
    if job.pod_failure_policy is None or pod.phase != "Failed":
        return None
    for index, rule in enumerate(job.pod_failure_policy):
        try:
            action = PolicyAction(rule.action)
        except ValueError:
            continue
        if action is PolicyAction.FAIL_INDEX and job.backoff_limit_per_index is None:
            continue
        if rule.pod_conditions:
            matched = _conditions_match(rule, pod)
        elif rule.operator:
            matched = _exit_codes_match(rule, pod)
        else:
            matched = False
        if matched:
            return action, index
    return None


def is_ignored(job: Job, pod: Pod) -> bool:
    match = matched_policy_action(job, pod)
    return match is not None and match[0] is PolicyAction.IGNORE


def is_counted_failure(job: Job, pod: Pod) -> bool:
    """A failed pod that counts toward backoffLimit (not Ignored by the policy)."""
    return is_pod_failed(job, pod) and not is_ignored(job, pod)


def newly_failed_pods(job: Job, pods: list[Pod]) -> list[Pod]:
    """Failed pods the controller has not yet folded into status (§1.2, §1.7): they still hold the
    tracking finalizer, are not in uncountedTerminatedPods, and (Indexed) have a valid index."""
    out = []
    for pod in pods:
        if not pod.tracked or pod.uid in job.uncounted_failed:
            continue
        if job.indexed and not _valid_index(job, pod):
            continue
        if is_counted_failure(job, pod):
            out.append(pod)
    return out


def _valid_index(job: Job, pod: Pod) -> bool:
    index = pod.completion_index
    return index is not None and index >= 0 and (job.completions is None or index < job.completions)
