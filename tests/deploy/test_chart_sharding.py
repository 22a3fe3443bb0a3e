"""helm/jobwatch with sharding.enabled: a StatefulSet whose ordinal is the shard."""

from __future__ import annotations

import argparse

import kubernetes_validate

from jobwatch import settings
from jobwatch.cli import build_parser
from tests.deploy.chart import of_kind, one, render

SHARDED = {"sharding": {"enabled": True, "shards": 3}}
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"


def _container(values: dict[str, object]) -> dict[str, object]:
    spec = one(render(values), "StatefulSet")["spec"]
    containers = spec["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, object] = containers[0]
    return found


def test_sharded_chart_runs_a_statefulset_of_n_shards_and_no_deployment() -> None:
    docs = render(SHARDED)
    assert of_kind(docs, "Deployment") == []
    spec = one(docs, "StatefulSet")["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == one(docs, "Service")["metadata"]["name"]
    assert "strategy" not in spec
    kubernetes_validate.validate(one(docs, "StatefulSet"), "1.30.0", strict=True)


def test_each_pod_takes_its_shard_from_its_ordinal() -> None:
    c = _container({**SHARDED, "env": [{"name": "EXTRA", "value": "1"}]})
    env = c["env"]
    assert isinstance(env, list)
    shard = next(e for e in env if e["name"] == "JOBWATCH_SHARD")
    assert shard["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX
    assert {"name": "EXTRA", "value": "1"} in env
    args = c["args"]
    assert isinstance(args, list)
    parsed: argparse.Namespace = build_parser().parse_args([str(a) for a in args])
    for ordinal in range(3):  # what the pod-index label gives pod jobwatch-<ordinal>
        resolved = settings.from_args(parsed, environ={"JOBWATCH_SHARD": str(ordinal)})
        assert (resolved.shard, resolved.total_shards) == (ordinal, 3)


def test_unsharded_chart_is_unchanged_by_the_option() -> None:
    docs = render({"sharding": {"enabled": False, "shards": 4}})
    assert of_kind(docs, "StatefulSet") == []
    spec = one(docs, "Deployment")["spec"]
    assert spec["replicas"] == 1
    args = spec["template"]["spec"]["containers"][0]["args"]
    assert not any(str(a).startswith("--total-shards") for a in args)
