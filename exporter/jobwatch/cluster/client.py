"""Connecting to the API server: one kubernetes_asyncio `ApiClient` from the settings.

All Kubernetes I/O sits behind `cluster/` (design principle 3); this module only turns
`Settings.kubeconfig` / `Settings.context` into a configured client, and every way that can fail
into one `ClusterConfigError` line the CLI can print as is.

    async with connect(settings) as api:
        ...  # Informer(api, ...)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import ConfigException, load_incluster_config, load_kube_config

from jobwatch.settings import Settings

DEFAULT_KUBECONFIG = "~/.kube/config"
NO_SERVER = "the cluster of the selected context has no server URL"


class ClusterConfigError(Exception):
    """No usable cluster configuration; `str()` is one line that says why."""


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _default_paths() -> str:
    return os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def _existing(paths: str) -> list[Path]:
    found = [Path(p).expanduser() for p in paths.split(os.pathsep) if p]
    return [p for p in found if p.is_file()]


def _context_names(files: list[Path]) -> list[str]:
    names: list[str] = []
    for path in files:
        try:
            data: Any = yaml.safe_load(path.read_text())
        except UnicodeDecodeError:
            raise ClusterConfigError(f"kubeconfig {path}: not a text file") from None
        except (OSError, yaml.YAMLError, RecursionError) as error:
            raise ClusterConfigError(f"kubeconfig {path}: {_one_line(error)}") from None
        if not isinstance(data, dict):
            raise ClusterConfigError(f"kubeconfig {path}: not a kubeconfig mapping")
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.append(entry["name"])
    return names


async def _load_kubeconfig(config: Configuration, paths: str, context: str, shown: str) -> None:
    files = _existing(paths)
    if not files:
        raise ClusterConfigError(f"kubeconfig {shown}: no such file")
    known = _context_names(files)  # also proves every file is a kubeconfig mapping
    if context and context not in known:
        raise ClusterConfigError(f"context {context} not in kubeconfig {shown}")
    try:
        await load_kube_config(
            config_file=paths,
            context=context or None,
            client_configuration=config,
            persist_config=False,
        )
    except AssertionError:  # kubernetes_asyncio asserts a non-empty cluster entry
        raise ClusterConfigError(f"kubeconfig {shown}: {NO_SERVER}") from None
    except (
        ConfigException,
        OSError,
        yaml.YAMLError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
    ) as error:
        raise ClusterConfigError(f"kubeconfig {shown}: {_one_line(error)}") from None
    host = str(config.host or "")
    if not host.startswith(("https://", "http://")) or host.rstrip("/") in ("https:", "http:"):
        raise ClusterConfigError(f"kubeconfig {shown}: {NO_SERVER}")


async def configuration(settings: Settings) -> Configuration:
    """The client configuration `settings` select; raises ClusterConfigError."""
    config = Configuration()
    if settings.kubeconfig:
        path = settings.kubeconfig
        await _load_kubeconfig(config, path, settings.context, path)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as error:
            raise ClusterConfigError(f"in-cluster config: {_one_line(error)}") from None
    else:
        paths = _default_paths()
        await _load_kubeconfig(config, paths, settings.context, paths)
    return config


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[ApiClient]:
    """An ApiClient for the cluster `settings` select, closed on exit.

    `settings.kubeconfig` "": in-cluster config when KUBERNETES_SERVICE_HOST is set, else
    $KUBECONFIG or ~/.kube/config. Otherwise that file, with `settings.context` ("" = current).
    """
    config = await configuration(settings)
    async with ApiClient(configuration=config) as api:
        yield api
