"""jobwatch.cluster: all Kubernetes I/O (design principle 3).

    async with connect(settings) as api:
        tasks = [asyncio.create_task(i.run()) for i in informers(api, settings, sink, telemetry)]

Each `Informer` lists, then watches from the resourceVersion with bookmarks, and relists only on
410, feeding raw orjson-parsed dicts to a `Sink` and its progress to a `Telemetry` (`jobwatch.sink`).
Nothing outside this package imports kubernetes_asyncio.
"""

from __future__ import annotations

from kubernetes_asyncio.client import ApiClient

from jobwatch.cluster.client import ClusterConfigError, connect
from jobwatch.cluster.informer import Informer
from jobwatch.settings import Settings
from jobwatch.sink import Resource, Sink, Telemetry

__all__ = ["ClusterConfigError", "Informer", "connect", "informers"]


def informers(
    api: ApiClient, settings: Settings, sink: Sink, telemetry: Telemetry
) -> list[Informer]:
    """Jobs (`job_selector`), Job pods (existence of `controller_uid_label`) and, with
    `watch_cronjobs`, CronJobs (so a deleted CronJob's series go): one informer per namespace in
    `settings.namespaces`, or one cluster-wide each when that is empty."""
    scopes: tuple[str | None, ...] = settings.namespaces or (None,)
    selectors: dict[Resource, str] = {
        "jobs": settings.job_selector,
        "pods": settings.controller_uid_label,
    }
    if settings.watch_cronjobs:
        selectors["cronjobs"] = ""
    return [
        Informer(
            api,
            resource,
            scope,
            selector,
            sink,
            telemetry,
            idle_timeout=settings.watch_idle_timeout,
            relist_period=settings.relist_period,
        )
        for resource, selector in selectors.items()
        for scope in scopes
    ]
