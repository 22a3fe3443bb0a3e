"""The real kubectl works against the sim through a written kubeconfig."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jobwatch_testbed.sim.player import ScenarioPlayer
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS, PODS
from tests.tools import kube_binaries

from .helpers import simple_job

# Each test is bounded: a hung watch fails it instead of the whole run.
pytestmark = pytest.mark.timeout(30)

JOB_YAML = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: from-kubectl
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: docker.io/library/busybox:1.36
        command: ["sh", "-c", "echo hi"]
"""


def _kubectl() -> str:
    """The pinned kubectl built by `make kube` (the release the control plane runs)."""
    return str(kube_binaries().kubectl)


@pytest.mark.tool
async def test_kubectl_get_create_delete(tmp_path: Path) -> None:
    kubectl = _kubectl()
    manifest = tmp_path / "job.yaml"
    manifest.write_text(JOB_YAML)

    async with SimServer() as sim:
        config = sim.write_kubeconfig(tmp_path / "kubeconfig", namespace="team-a")
        sim.store.create(JOBS, simple_job("team-a", "existing"))

        async def k(*args: str) -> str:
            proc = await asyncio.create_subprocess_exec(
                kubectl,
                f"--kubeconfig={config}",
                f"--cache-dir={tmp_path / 'cache'}",
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            return out.decode()

        listed = await k("get", "jobs")
        assert "existing" in listed
        assert "existing" in await k("get", "jobs", "--all-namespaces")
        created = await k("create", "--validate=false", "-f", str(manifest))
        assert "job.batch/from-kubectl created" in created
        job = sim.store.get(JOBS, "team-a", "from-kubectl")
        assert job["spec"]["backoffLimit"] == 2
        assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "from-kubectl"
        assert "from-kubectl" in await k("get", "job", "from-kubectl", "-o", "name")
        table = await k("get", "jobs", "-o", "wide")
        assert table.split()[:5] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
        deleted = await k("delete", "job", "from-kubectl")
        assert 'job.batch "from-kubectl" deleted' in deleted
        assert sim.store.try_get(JOBS, "team-a", "from-kubectl") is None


@pytest.mark.tool
async def test_kubectl_shows_the_error_of_a_failed_two_container_pod(tmp_path: Path) -> None:
    """Server-side printing follows printPod at v1.37.2 (docs/job-semantics.md §5.1): the first
    container's "Completed" yields to the other container's non-zero exit."""
    kubectl = _kubectl()

    async with SimServer() as sim:
        config = sim.write_kubeconfig(tmp_path / "kubeconfig", namespace="sim-multicontainer")
        player = ScenarioPlayer(sim.store, speed=1000)
        await player.run(["multi_container_completed_but_failed"], until_settled=True)
        proc = await asyncio.create_subprocess_exec(
            kubectl,
            f"--kubeconfig={config}",
            f"--cache-dir={tmp_path / 'cache'}",
            "get",
            "pods",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        header, row = out.decode().splitlines()
        assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert row.split()[1:4] == ["0/2", "Error", "0"]
        pod = sim.store.list(PODS, "sim-multicontainer")[0][0]
        assert pod["status"]["phase"] == "Failed"
