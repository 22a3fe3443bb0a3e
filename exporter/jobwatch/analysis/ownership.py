"""Which pods belong to which Job: the controller ownerReference UID, else the controller-uid
labels (`model.parse_pod` resolves both into `Pod.job_uid`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from jobwatch.model import Pod


def pods_by_job(pods: Iterable[Pod]) -> dict[str, list[Pod]]:
    grouped: dict[str, list[Pod]] = defaultdict(list)
    for pod in pods:
        if pod.job_uid:
            grouped[pod.job_uid].append(pod)
    return dict(grouped)
