"""The chart's side of issue 11 §8: a Secret with the web config is mounted and passed to
`serve`, probes and the ServiceMonitor switch to HTTPS, and the NetworkPolicy, when on, admits only
the chosen Prometheus (never any source)."""

from __future__ import annotations

from typing import Any

from jobwatch.cli import build_parser
from jobwatch.settings import from_args
from tests.deploy.chart import Manifest, of_kind, one, render


def _container(docs: list[Manifest]) -> Any:
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_web_config_secret_is_mounted_and_passed() -> None:
    values = {
        "webConfig": {"secretName": "jobwatch-web", "tls": True},
        "prometheus": {"monitor": {"enabled": True, "tlsConfig": {"serverName": "jobwatch"}}},
    }
    docs = render(values)
    container = _container(docs)
    args: list[str] = container["args"]
    assert "--web.config.file=/etc/jobwatch/web/web-config.yml" in args
    assert "--web.open-probes=true" in args
    parsed = build_parser().parse_args([a for a in args if "web.config" not in a])
    assert from_args(parsed, environ={}).web_open_probes is True
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["web-config"]["readOnly"] is True
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["web-config"]["secret"]["secretName"] == "jobwatch-web"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    endpoint = one(docs, "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {"serverName": "jobwatch"}


def test_without_web_config_nothing_changes() -> None:
    container = _container(render({}))
    assert not any("web.config" in a for a in container["args"])
    assert "scheme" not in container["livenessProbe"]["httpGet"]


def test_network_policy_admits_only_prometheus_by_default() -> None:
    policy = one(render({"networkPolicy": {"enabled": True}}), "NetworkPolicy")
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    chosen = [{"podSelector": {"matchLabels": {"app": "my-prometheus"}}}]
    policy = one(
        render({"networkPolicy": {"enabled": True, "ingressFrom": chosen}}), "NetworkPolicy"
    )
    assert policy["spec"]["ingress"][0]["from"] == chosen
    assert of_kind(render({}), "NetworkPolicy") == []
