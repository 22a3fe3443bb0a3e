"""Shared helpers for the sim tests: a running server and a kubernetes_asyncio client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from jobwatch_testbed.sim.objects import container, new_job
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS, Obj


@contextlib.asynccontextmanager
async def api(sim: SimServer) -> AsyncIterator[client.ApiClient]:
    config = client.Configuration(host=sim.url)
    async with client.ApiClient(config) as api_client:
        yield api_client


def error_body(error: ApiException) -> str:
    """The body of an API error response (the client decodes it; its stubs say bytes)."""
    body: object = error.body
    assert isinstance(body, str), type(body)
    return body


def raw(obj: Any) -> Any:
    """A raw dict where the client's stubs want a model object: the client sends it as is."""
    return obj


def simple_job(namespace: str, name: str, labels: dict[str, str] | None = None) -> Obj:
    job = new_job(namespace, name, [container("c", ["sh", "-c", "exit 0"])])
    if labels:
        job["metadata"]["labels"] = labels
    return job


def add_jobs(sim: SimServer, namespace: str, count: int) -> list[Obj]:
    return [sim.store.create(JOBS, simple_job(namespace, f"job-{i:03d}")) for i in range(count)]
