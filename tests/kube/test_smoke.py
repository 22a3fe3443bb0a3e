"""The harness starts a working control plane: API, RBAC, admission, controllers, kubectl."""

from __future__ import annotations

import json
import os
import time

import pytest

from jobwatch_testbed.kube.controlplane import ControlPlane, ControlPlaneError
from jobwatch_testbed.kube.versions import KUBERNETES
from tests.tools import kube_binaries


def test_version_is_the_pinned_release(control_plane: ControlPlane) -> None:
    assert control_plane.request("GET", "/version")["gitVersion"] == KUBERNETES
    client = json.loads(control_plane.kubectl("version", "--client", "-o", "json"))
    assert client["clientVersion"]["gitVersion"] == KUBERNETES


def test_rbac_denies_an_unbound_service_account(control_plane: ControlPlane) -> None:
    ns = "smoke-rbac"
    control_plane.kubectl("create", "namespace", ns)
    control_plane.kubectl("-n", ns, "create", "serviceaccount", "nobody")
    token = control_plane.kubectl("-n", ns, "create", "token", "nobody").strip()
    assert token.count(".") == 2  # a signed JWT from the ServiceAccount token issuer
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "namespace": ns,
                "verb": "list",
                "resource": "jobs",
                "group": "batch",
            }
        },
    }
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert control_plane.request("POST", path, review, token=token)["status"]["allowed"] is False
    with pytest.raises(ControlPlaneError, match="HTTP 403"):
        control_plane.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs", token=token)
    assert control_plane.request("POST", path, review)["status"]["allowed"] is True


def test_pod_security_admission_enforces_restricted(control_plane: ControlPlane) -> None:
    ns = "smoke-restricted"
    control_plane.kubectl("create", "namespace", ns)
    control_plane.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    with pytest.raises(ControlPlaneError, match=r"violates PodSecurity \"restricted"):
        control_plane.request("POST", f"/api/v1/namespaces/{ns}/pods", pod)


def test_job_controller_creates_a_pod(control_plane: ControlPlane) -> None:
    ns = "smoke-job"
    control_plane.kubectl("create", "namespace", ns)
    control_plane.kubectl("-n", ns, "create", "job", "hello", "--image=busybox", "--", "true")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pods = control_plane.request("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
        if pods:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the Job controller created no pod in 30 s")
    meta = pods[0]["metadata"]
    assert meta["ownerReferences"][0]["kind"] == "Job"
    assert "batch.kubernetes.io/job-tracking" in meta["finalizers"]


def test_restarts_and_stop_leave_nothing_behind() -> None:
    cp = ControlPlane(bins=kube_binaries())
    cp.start()
    try:
        cp.request("POST", "/api/v1/namespaces", {"metadata": {"name": "kept"}})
        cp.restart_etcd()
        cp.restart_apiserver()
        assert cp.request("GET", "/api/v1/namespaces/kept")["metadata"]["name"] == "kept"
        pids, root = cp.pids(), cp.dir
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
    finally:
        cp.stop()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not root.exists()
