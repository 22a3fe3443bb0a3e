"""A kubeconfig pointing at the sim: plain http, no auth (kubectl and kubernetes_asyncio)."""

from __future__ import annotations

import yaml


def kubeconfig_yaml(url: str, namespace: str = "default", name: str = "jobwatch-sim") -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
        ],
        "current-context": name,
    }
    return yaml.safe_dump(config, sort_keys=False)
