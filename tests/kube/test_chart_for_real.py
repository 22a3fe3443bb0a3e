"""The chart on the real API server: its objects pass server-side validation (the pinned
prometheus-operator CRDs included), the real deployment and replicaset controllers create the
exporter's pod under Pod Security `restricted`, the exporter works with a token of the chart's
ServiceAccount bound by the chart's RBAC (cluster-wide and namespaced), and says what is
forbidden when one permission is missing.

The prometheus-operator built from its pinned module then reads our ServiceMonitor and
PrometheusRule from this API server; real Prometheus runs the scrape and rule configuration the
operator generated, against the exporter watching the sim: the series keep the Job's namespace
and container and the alert names the right Job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from jobwatch.metrics import EXPORTER_UNAVAILABLE, JOB_LAST_EXIT_CODE
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.kube.controlplane import ControlPlane, ControlPlaneError, free_port
from jobwatch_testbed.kube.operator import Operator, install_crds, operator_binary
from jobwatch_testbed.monitoring import PROMETHEUS, Prometheus, run_prometheus_with
from jobwatch_testbed.sim import ScenarioPlayer, SimServer
from tests.deploy.chart import render
from tests.tools import tool, unavailable

NS = "jobwatch-chart"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
POD_IP = "10.244.0.17"  # what a CNI would give the exporter's pod; never dialled
FAST = {
    "prometheus": {"monitor": {"enabled": True, "interval": "1s", "scrapeTimeout": "1s"}},
    "prometheusRule": {"enabled": True, "alerts": {"JobCannotStart": {"for": "1s"}}},
    "dashboard": {"enabled": True},
}


def _apply(cp: ControlPlane, docs: list[dict[str, Any]], tmp: Path, *extra: str) -> str:
    path = tmp / f"apply-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return cp.kubectl("apply", "-f", str(path), *extra)


def _wait(what: str, probe: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _namespace(cp: ControlPlane, name: str, labels: dict[str, str] | None = None) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }
    with contextlib.suppress(ControlPlaneError):
        cp.request("POST", "/api/v1/namespaces", body)


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prometheus-operator CRDs and the chart (every CRD object on) in a restricted namespace."""
    if not os.access(operator_binary(), os.X_OK):
        unavailable(f"missing {operator_binary()}: run `make kube`")
    tmp = tmp_path_factory.mktemp("chart")
    install_crds(control_plane)
    _namespace(control_plane, NS, RESTRICTED)
    _apply(control_plane, render(FAST, namespace=NS), tmp)
    return tmp


# --- the chart for real ----------------------------------------------------------------------


def test_service_monitor_and_prometheus_rule_pass_the_crd_schemas(
    control_plane: ControlPlane, installed: Path
) -> None:
    for kind in ("servicemonitors", "prometheusrules"):
        got = json.loads(
            control_plane.kubectl("get", f"{kind}.monitoring.coreos.com", "-n", NS, "-o", "json")
        )
        assert [o["metadata"]["name"] for o in got["items"]] == ["jobwatch"]
    # Control: the server really validates against the schema.
    monitor = next(d for d in render(FAST, namespace=NS) if d["kind"] == "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["honorLabels"] = "yes"
    with pytest.raises(ControlPlaneError, match="honorLabels"):
        _apply(control_plane, [monitor], installed, "--dry-run=server")


def _pods(cp: ControlPlane, namespace: str, instance: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={instance}"
    path = f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}"
    items: list[dict[str, Any]] = cp.request("GET", path)["items"]
    return items


def test_the_real_controllers_create_the_exporter_pod_under_restricted(
    control_plane: ControlPlane, installed: Path
) -> None:
    pods = _wait("the exporter pod", lambda: _pods(control_plane, NS, "jobwatch"))
    assert len(pods) == 1
    owner = pods[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ReplicaSet"
    assert owner["name"].startswith("jobwatch-")
    # Control: a pod the restricted level refuses never gets created by the ReplicaSet.
    values = {
        "fullnameOverride": "jobwatch-unsafe",
        "securityContext": {"allowPrivilegeEscalation": True},
    }
    docs = render(values, namespace=NS, release="unsafe")
    # The ServiceAccount first, so the ReplicaSet's first refusal is admission's.
    _apply(control_plane, [d for d in docs if d["kind"] == "ServiceAccount"], installed)
    _apply(control_plane, [d for d in docs if d["kind"] == "Deployment"], installed)

    def refused() -> str:
        path = f"/apis/apps/v1/namespaces/{NS}/replicasets?labelSelector=app.kubernetes.io/instance=unsafe"
        for rs in control_plane.request("GET", path)["items"]:
            for cond in rs.get("status", {}).get("conditions", []):
                if cond["type"] == "ReplicaFailure":
                    return str(cond["message"])
        return ""

    assert 'violates PodSecurity "restricted:latest"' in _wait("ReplicaFailure", refused)
    assert _pods(control_plane, NS, "unsafe") == []


# --- RBAC for real ---------------------------------------------------------------------------


def _token_kubeconfig(cp: ControlPlane, namespace: str, account: str, path: Path) -> Path:
    token = cp.kubectl("-n", namespace, "create", "token", account, "--duration=1h").strip()
    config = json.loads(cp.kubeconfig.read_text())
    config["users"] = [{"name": account, "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = account
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@contextlib.contextmanager
def _serve_process(kubeconfig: Path, log: Path, *flags: str) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobwatch", "serve", f"--kubeconfig={kubeconfig}",
             f"--web.listen-address=127.0.0.1:{port}", *flags],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def _unavailable(metrics: str) -> str:
    """The resource-unavailable self-metric's samples that are 1."""
    return "\n".join(
        line
        for line in metrics.splitlines()
        if line.startswith(EXPORTER_UNAVAILABLE.name + "{") and line.endswith(" 1")
    )


def _job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "work", "image": "busybox"}],
                }
            },
        },
    }


RBAC_MODES = {
    "cluster-role": ("rbac-cluster", {}),
    "namespaced-roles": ("rbac-ns", {"namespaces": ["rbac-ns-a", "rbac-ns-b"]}),
}


@pytest.mark.parametrize(("release", "values"), RBAC_MODES.values(), ids=RBAC_MODES.keys())
def test_exporter_works_with_the_chart_rbac_and_says_what_is_forbidden(
    control_plane: ControlPlane, installed: Path, release: str, values: dict[str, Any]
) -> None:
    ns = release
    _namespace(control_plane, ns)
    watched = values.get("namespaces", [f"{release}-jobs"])
    for name in watched:
        _namespace(control_plane, name)
        control_plane.request(
            "POST", f"/apis/batch/v1/namespaces/{name}/jobs", _job(f"{release}-job")
        )
    docs = [
        d
        for d in render(values, namespace=ns, release=release)
        if d["kind"]
        in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
    ]
    _apply(control_plane, docs, installed)
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    kubeconfig = _token_kubeconfig(control_plane, ns, account, installed / f"{release}.kubeconfig")
    flags = [f"--namespaces={','.join(watched)}"] if "namespaces" in values else []

    with _serve_process(kubeconfig, installed / f"{release}.log", *flags) as url:
        _wait("/readyz 200", lambda: _get(f"{url}/readyz")[0] == 200)
        metrics = _get(f"{url}/metrics")[1]
        for name in watched:
            assert f'namespace="{name}",job_name="{release}-job"' in metrics

    # Take one permission away: list on pods.
    for role in (d for d in docs if d["kind"] in ("ClusterRole", "Role")):
        role["rules"] = [r for r in role["rules"] if r["resources"] != ["pods"]]
        role["rules"].append({"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]})
    _apply(control_plane, [d for d in docs if d["kind"] in ("ClusterRole", "Role")], installed)
    log = installed / f"{release}-forbidden.log"

    def forbidden() -> str:
        for line in log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                message = str(json.loads(line).get("msg", ""))
                if "forbidden" in message:
                    return message
        return ""

    with _serve_process(kubeconfig, log, *flags, "--log.format=json") as url:
        said = _wait("a forbidden line", forbidden)
        # The other resources are still served; the missing one is reported as forbidden.
        metrics = _wait("the unavailable metric", lambda: _unavailable(_get(f"{url}/metrics")[1]))
        assert 'resource="pods"' in metrics
        assert 'problem="forbidden"' in metrics
    assert "Informer(pods" in said
    assert "list forbidden (HTTP 403)" in said
    assert f'User "system:serviceaccount:{ns}:{account}" cannot list resource "pods"' in said
    assert said.endswith("retrying in " + said.rsplit("retrying in ", 1)[1])
    assert "Traceback" not in log.read_text()


# --- prometheus-operator's configuration, real Prometheus -------------------------------------


def _bind_and_run(cp: ControlPlane, pod: dict[str, Any]) -> None:
    """The scheduler's and the kubelet's part for the exporter's pod: bound, Running, Ready."""
    name = pod["metadata"]["name"]
    base = f"/api/v1/namespaces/{NS}/pods/{name}"
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "scripted-node"}}  # fmt: skip
    cp.request("POST", f"{base}/binding", binding)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "status": {
            "phase": "Running",
            "podIP": POD_IP,
            "podIPs": [{"ip": POD_IP}],
            "startTime": now,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": "jobwatch", "ready": True, "restartCount": 0,
                                   "image": pod["spec"]["containers"][0]["image"], "imageID": "",
                                   "started": True, "state": {"running": {"startedAt": now}}}],
        }
    }  # fmt: skip
    cp.request("PATCH", f"{base}/status", status, "application/merge-patch+json")


def _endpoints(pod: dict[str, Any]) -> dict[str, Any]:
    """What the endpoints controller writes for the chart's Service and its Ready pod."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "jobwatch", "namespace": NS, "labels": pod["metadata"]["labels"]},
        "subsets": [
            {
                "addresses": [{"ip": POD_IP, "nodeName": "scripted-node", "targetRef": {
                    "kind": "Pod", "namespace": NS, "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"]}}],
                "ports": [{"name": "http-metrics", "port": 9816, "protocol": "TCP"}],
            }
        ],
    }  # fmt: skip


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _meta(prefix: str, obj: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kind in ("label", "annotation"):
        for key, value in (obj["metadata"].get(f"{kind}s") or {}).items():
            out[f"{prefix}_{kind}_{_sanitize(key)}"] = value
            out[f"{prefix}_{kind}present_{_sanitize(key)}"] = "true"
    return out


def _discovered(cp: ControlPlane) -> list[dict[str, Any]]:
    """What Prometheus's `role: endpoints` discovery yields for the chart's Service, read from
    the real Endpoints, Service and Pod (discovery/kubernetes/endpoints.go: the endpoint, its
    target pod and the container whose port matches, and the Service's labels)."""
    base = f"/api/v1/namespaces/{NS}"
    endpoints = cp.request("GET", f"{base}/endpoints/jobwatch")
    service = cp.request("GET", f"{base}/services/jobwatch")
    groups = []
    for subset in endpoints["subsets"]:
        for address in subset["addresses"]:
            pod = cp.request("GET", f"{base}/pods/{address['targetRef']['name']}")
            for port in subset["ports"]:
                labels = {
                    "__meta_kubernetes_namespace": NS,
                    "__meta_kubernetes_endpoints_name": endpoints["metadata"]["name"],
                    **_meta("__meta_kubernetes_endpoints", endpoints),
                    "__meta_kubernetes_endpoint_node_name": address["nodeName"],
                    "__meta_kubernetes_endpoint_ready": "true",
                    "__meta_kubernetes_endpoint_port_name": port["name"],
                    "__meta_kubernetes_endpoint_port_protocol": port["protocol"],
                    "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                    "__meta_kubernetes_endpoint_address_target_name": pod["metadata"]["name"],
                    "__meta_kubernetes_pod_name": pod["metadata"]["name"],
                    "__meta_kubernetes_pod_ip": pod["status"]["podIP"],
                    **_meta("__meta_kubernetes_pod", pod),
                    "__meta_kubernetes_pod_node_name": pod["spec"]["nodeName"],
                    "__meta_kubernetes_pod_ready": "true",
                    "__meta_kubernetes_pod_phase": pod["status"]["phase"],
                    "__meta_kubernetes_pod_uid": pod["metadata"]["uid"],
                    "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
                    "__meta_kubernetes_pod_controller_name": pod["metadata"]["ownerReferences"][0]["name"],
                    "__meta_kubernetes_service_name": service["metadata"]["name"],
                    **_meta("__meta_kubernetes_service", service),
                }  # fmt: skip
                for c in pod["spec"]["containers"]:
                    for cport in c.get("ports", []):
                        if cport["containerPort"] == port["port"]:
                            labels.update({
                                "__meta_kubernetes_pod_container_name": c["name"],
                                "__meta_kubernetes_pod_container_image": c["image"],
                                "__meta_kubernetes_pod_container_init": "false",
                                "__meta_kubernetes_pod_container_port_name": cport.get("name", ""),
                                "__meta_kubernetes_pod_container_port_number": str(cport["containerPort"]),
                                "__meta_kubernetes_pod_container_port_protocol": cport["protocol"],
                            })  # fmt: skip
                groups.append({"targets": [f"{address['ip']}:{port['port']}"], "labels": labels})
    return groups


def _local(config_text: str, cp: ControlPlane, exporter: str, rules_dir: Path) -> str:
    """The operator's configuration as this machine can run it, its relabelings untouched:
    the config-reloader's $(VAR) expansion; the rule files where we wrote them; discovery as
    static target groups, because Debian's Prometheus is built without Kubernetes discovery
    (`field kubernetes_sd_configs not found`); and the scrape address, because the Endpoints
    hold the pod IP (the API server refuses loopback endpoints) and the exporter is on loopback."""
    text = config_text.replace("$(SHARD)", "0").replace("$(POD_NAME)", "prometheus-k8s-0")
    config = yaml.safe_load(text)
    config["rule_files"] = [str(rules_dir / "*.yaml")]
    groups = _discovered(cp)
    for job in config["scrape_configs"]:
        sd = job.pop("kubernetes_sd_configs")
        assert sd == [{"role": "endpoints", "namespaces": {"names": [NS]}}]
        job["static_configs"] = groups
        job["relabel_configs"].append({"target_label": "__address__", "replacement": exporter})
    return yaml.safe_dump(config, sort_keys=False)


async def _until(what: str, probe: Any, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            last = await probe()
            if last:
                return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last answer {last!r}")


def test_operator_generated_scrape_keeps_the_jobs_labels_and_the_alert_names_the_job(
    control_plane: ControlPlane, installed: Path
) -> None:
    cp = control_plane
    tool(PROMETHEUS)
    pod = _wait("the exporter pod", lambda: _pods(cp, NS, "jobwatch"))[0]
    _bind_and_run(cp, pod)
    pod = cp.request("GET", f"/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}")
    # Control: the same ServiceMonitor with honorLabels: false, as job="unhonored".
    control = next(d for d in render(FAST, namespace=NS) if d["kind"] == "ServiceMonitor")
    control["metadata"]["name"] = "jobwatch-unhonored"
    endpoint = control["spec"]["endpoints"][0]
    endpoint["honorLabels"] = False
    endpoint["relabelings"] = [{"targetLabel": "job", "replacement": "unhonored"}]
    prometheus = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "k8s", "namespace": NS},
        "spec": {"version": "v2.42.0", "evaluationInterval": "1s", "scrapeInterval": "1s",
                 "serviceMonitorSelector": {}, "ruleSelector": {}},
    }  # fmt: skip
    _apply(cp, [_endpoints(pod), control, prometheus], installed)
    with Operator(cp, NS, installed) as operator:

        def both_monitors() -> str:
            text = operator.generated_config("k8s")
            return text if text.count("job_name: serviceMonitor/") == 2 else ""

        config_text = _wait("both ServiceMonitors in the generated config", both_monitors)
        rules = operator.generated_rules("k8s")
    assert "honor_labels: true" in config_text
    # The operator's rule files hold exactly the chart's PrometheusRule groups.
    chart_rule = next(d for d in render(FAST, namespace=NS) if d["kind"] == "PrometheusRule")
    groups = [g for text in rules.values() for g in yaml.safe_load(text)["groups"]]
    assert groups == chart_rule["spec"]["groups"]
    rules_dir = installed / "rules"
    rules_dir.mkdir(exist_ok=True)
    for name, text in rules.items():
        (rules_dir / name).write_text(text, encoding="utf-8")
    asyncio.run(_scrape_and_alert(cp, config_text, rules_dir, installed))


async def _scrape_and_alert(cp: ControlPlane, config_text: str, rules_dir: Path, tmp: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        kubeconfig = sim.write_kubeconfig(tmp / "sim.kubeconfig")
        exporter_settings = settings(kubeconfig=str(kubeconfig), listen_address="127.0.0.1:0")
        async with Exporter(exporter_settings) as exporter:
            await exporter.wait_ready()
            player = ScenarioPlayer(sim.store, speed=20)
            playing = asyncio.create_task(player.run(["exit127_command_not_found"]))
            try:
                target = exporter.url.removeprefix("http://")
                config = _local(config_text, cp, target, rules_dir)
                async with run_prometheus_with(config) as prom:
                    await _check(prom)
            finally:
                playing.cancel()
                await asyncio.gather(playing, return_exceptions=True)


async def _check(prom: Prometheus) -> None:
    series = JOB_LAST_EXIT_CODE.name + '{job="jobwatch",job_name="missing-command"}'
    found = await _until(series, lambda: prom.query(series))
    labels = found[0]["metric"]
    # The Job's own labels survived the operator's target labels.
    assert labels["namespace"] == "sim-exit127"
    assert labels["container"] == "task"  # the Job's container, not the exporter's
    assert "exported_namespace" not in labels
    assert labels["service"] == "jobwatch"
    assert labels["endpoint"] == "http-metrics"
    assert labels["pod"].startswith(
        "jobwatch-"
    )  # the exporter's pod: jobwatch exports no pod label
    # Control: without honor_labels they would be the exporter's, and the Job's renamed.
    unhonored = await _until(
        "unhonored", lambda: prom.query(series.replace('job="jobwatch"', 'job="unhonored"'))
    )
    assert unhonored[0]["metric"]["namespace"] == "jobwatch-chart"
    assert unhonored[0]["metric"]["container"] == "jobwatch"
    assert unhonored[0]["metric"]["exported_namespace"] == "sim-exit127"

    async def firing() -> list[dict[str, Any]]:
        return [
            a
            for a in await prom.alerts()
            if a["labels"]["alertname"] == "JobCannotStart" and a["state"] == "firing"
        ]

    alert = (await _until("JobCannotStart firing", firing))[0]
    assert alert["labels"]["namespace"] == "sim-exit127"
    assert alert["labels"]["job_name"] == "missing-command"
    assert alert["labels"]["container"] == "task"
    summary = alert["annotations"]["summary"]  # the rule's {{ $labels.x }} survived Helm
    assert "sim-exit127/missing-command" in summary
    assert "container task" in summary
