"""`jobwatch serve` settings: one frozen dataclass, Prometheus-style flags, env-var stand-ins.

Every field has a flag (`--web.listen-address`) and an environment variable (`JOBWATCH_` plus the
flag name upper-cased with `.` and `-` as `_`, e.g. `JOBWATCH_WEB_LISTEN_ADDRESS`). A flag given
on the command line wins over the environment, which wins over the default.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_PORT = 9816
ENV_PREFIX = "JOBWATCH_"


class SettingsError(ValueError):
    """A flag or environment variable has a value that cannot be used."""


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
MAX_SECONDS = 7 * 24 * 3600.0  # no period or timeout here is sensible beyond a week
RESERVED_PATHS = frozenset({"/", "/healthz", "/readyz", "/livez", "/status", "/status.json"})


def _namespaces(text: str) -> tuple[str, ...]:
    names = {n.strip() for n in text.split(",") if n.strip()}
    if text.strip() and not names:  # ",,," must not silently mean cluster-wide
        raise ValueError(f"names no namespace: {text!r} (leave it empty for all namespaces)")
    for name in names:
        if not _DNS_LABEL.fullmatch(name):
            raise ValueError(f"{name!r} is not a namespace name (RFC 1123 label)")
    return tuple(sorted(names))


def _seconds(minimum: float, maximum: float = MAX_SECONDS) -> Callable[[str], float]:
    """A number of seconds in [minimum, maximum]; nan, inf and negatives are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"must be a number of seconds, got {text!r}") from None
        if not (minimum <= value <= maximum):  # False for NaN
            raise ValueError(f"must be between {minimum:g} and {maximum:g} seconds, got {text}")
        return value

    return parse


def _path(text: str) -> str:
    if not text.startswith("/") or any(c.isspace() for c in text) or "?" in text:
        raise ValueError(f"must be an absolute URL path such as /metrics, got {text!r}")
    if text in RESERVED_PATHS:
        raise ValueError(f"{text} is already served by jobwatch; pick another path")
    return text


def _optional_file(text: str) -> str:
    if text and not os.path.isfile(text):
        raise ValueError(f"no such file: {text}")
    return text


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be 1 or more, got {text}")
    return value


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


def _flag(
    name: str, default: Any, help_: str, parse: Callable[[str], Any] = str, metavar: str = ""
) -> Any:
    meta = {"flag": name, "help": help_, "parse": parse, "metavar": metavar}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class Settings:
    """How `jobwatch serve` connects, what it watches and how it serves."""

    kubeconfig: str = _flag(
        "kubeconfig",
        "",
        "kubeconfig file; empty: in-cluster config when running in a pod, else $KUBECONFIG or "
        "~/.kube/config",
        metavar="FILE",
    )
    """Path to a kubeconfig; "" picks in-cluster config, then the usual kubeconfig locations."""

    context: str = _flag(
        "context", "", "kubeconfig context (default: the current one)", metavar="NAME"
    )
    """kubeconfig context to use; "" is the current context."""

    namespaces: tuple[str, ...] = _flag(
        "namespaces",
        (),
        "comma-separated namespaces to watch, one watch per namespace so namespace-scoped RBAC "
        "works (default: all namespaces, which needs cluster-wide list/watch)",
        _namespaces,
        "NS[,NS...]",
    )
    """Namespaces to watch; empty means all, with one cluster-wide watch per resource."""

    job_selector: str = _flag(
        "job.label-selector",
        "",
        "only Jobs matching this label selector, e.g. team=data (default: all Jobs)",
        metavar="SELECTOR",
    )
    """Server-side label selector for Jobs; "" watches every Job."""

    controller_uid_label: str = _flag(
        "pod.controller-uid-label",
        "batch.kubernetes.io/controller-uid",
        "label that marks Job pods; the pod watch selects on its existence (use controller-uid "
        "for clusters older than 1.27)",
        metavar="LABEL",
    )
    """Pods are watched with `labelSelector=<this label>` so only Job pods are listed."""

    watch_cronjobs: bool = _flag(
        "watch.cronjobs",
        True,
        "also list/watch CronJobs, so per-CronJob series go when the CronJob is deleted; false "
        "if RBAC allows only Jobs and pods (the series then stay until restart)",
        _bool,
        "BOOL",
    )
    """Watch CronJobs to drop the history of deleted ones (needs list/watch on cronjobs)."""

    listen_address: str = _flag(
        "web.listen-address",
        f":{DEFAULT_PORT}",
        "address to serve /metrics and the probes on",
        metavar="HOST:PORT",
    )
    """host:port to bind; ":9816" binds every interface."""

    telemetry_path: str = _flag(
        "web.telemetry-path", "/metrics", "path of the metrics endpoint", _path, "PATH"
    )
    """Where Prometheus scrapes."""

    watch_idle_timeout: float = _flag(
        "watch.idle-timeout",
        120.0,
        "seconds a watch may stay silent (no event, no bookmark) before it is reconnected; keep "
        "it at most twice the API server's bookmark period",
        _seconds(0.1, 3600.0),
        "SECONDS",
    )
    """Client read timeout on a watch stream: how a black-holed connection is noticed."""

    livez_max_silence: float = _flag(
        "livez.max-silence",
        300.0,
        "/livez fails when no list, event or bookmark arrived for this many seconds",
        _seconds(1.0),
        "SECONDS",
    )
    """Bound on API silence before the liveness probe fails and the kubelet restarts us."""

    resync_period: float = _flag(
        "resync.period",
        30.0,
        "seconds between re-analyses of every Job, for states that change with time alone",
        _seconds(0.1, 3600.0),
        "SECONDS",
    )
    """Time-driven changes (a stall's grace ending) are picked up at most this late."""

    shard: int = _flag(
        "shard",
        0,
        "this instance's shard, 0 to --total-shards minus 1 (a StatefulSet passes its ordinal)",
        _non_negative,
        "I",
    )
    """Which part of the cluster this instance exports; see `total_shards`."""

    total_shards: int = _flag(
        "total-shards",
        1,
        "split the cluster's Jobs across this many instances, kube-state-metrics style: each "
        "watches everything and exports the Jobs whose UID (or CronJob's UID) hashes to --shard",
        _positive_int,
        "N",
    )
    """1: one instance exports everything. N: shard `shard` of N."""
    relist_period: float = _flag(
        "relist.period",
        600.0,
        "seconds between full relists that check the store against the API server and heal "
        "any difference (jittered up to +20%%); catches a watch resumed into another server's "
        "history",
        _seconds(1.0),
        "SECONDS",
    )
    """A periodic LIST per informer, compared with the store; differences are counted and healed."""

    namespace_retention: float = _flag(
        "counters.namespace-retention",
        3600.0,
        "seconds the failure counter series of a namespace stay after its last Job is gone",
        _seconds(0.0),
        "SECONDS",
    )
    """Counter series of a namespace without Jobs are dropped after this long (bounded series)."""

    web_config_file: str = _flag(
        "web.config.file",
        "",
        "Prometheus exporter-toolkit web config (tls_server_config, basic_auth_users with bcrypt "
        "hashes); re-read on change. Empty: plain HTTP without auth",
        _optional_file,
        "FILE",
    )
    """TLS, client-certificate and basic-auth settings in exporter-toolkit's format."""

    web_open_probes: bool = _flag(
        "web.open-probes",
        True,
        "serve /healthz, /readyz and /livez without basic auth or a client certificate (the "
        "kubelet presents neither); TLS still applies",
        _bool,
        "BOOL",
    )
    """Leave the probes open to the kubelet when auth is configured."""

    log_level: str = _flag(
        "log.level",
        "info",
        "debug, info, warning or error",
        _choice("debug", "info", "warning", "error"),
        "LEVEL",
    )
    """Minimum level logged."""

    log_format: str = _flag(
        "log.format", "logfmt", "logfmt or json", _choice("logfmt", "json"), "FORMAT"
    )
    """Log line format on stderr."""


DEFAULTS: Mapping[str, object] = {f.name: f.default for f in fields(Settings)}


def settings(**overrides: Any) -> Settings:
    """Settings with defaults, changed by keyword (tests, the demo)."""
    return Settings(**overrides)


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.upper().replace(".", "_").replace("-", "_")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field; the help names the env var and the default."""
    for f in fields(Settings):
        meta = f.metadata
        default = DEFAULTS[f.name]
        shown = ",".join(default) if isinstance(default, tuple) else default
        if isinstance(default, bool):
            shown = str(default).lower()
        parser.add_argument(
            f"--{meta['flag']}",
            dest=f.name,
            default=None,
            metavar=meta["metavar"] or None,
            help=f"{meta['help']} [env {env_name(meta['flag'])}; default {shown!r}]",
        )


def from_args(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    """Flags over environment over defaults; a bad value raises SettingsError (one line)."""
    values: dict[str, Any] = {}
    for f in fields(Settings):
        meta = f.metadata
        given = getattr(args, f.name, None)
        source = f"--{meta['flag']}"
        if given is None:
            given = environ.get(env_name(meta["flag"]))
            source = env_name(meta["flag"])
        if given is None:
            continue
        try:
            values[f.name] = meta["parse"](given)
        except ValueError as error:
            raise SettingsError(f"{source}: {error}") from None
    result = Settings(**values)
    if result.shard >= result.total_shards:
        raise SettingsError(
            f"--shard {result.shard} needs --total-shards above it (got {result.total_shards})"
        )
    return result


def split_listen_address(address: str) -> tuple[str, int]:
    """ ":9816" → ("0.0.0.0", 9816); "127.0.0.1:0" → ("127.0.0.1", 0); "[::1]:9816" → ("::1", 9816)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or len(port) > 5:
        raise SettingsError(f"--web.listen-address {address!r} is not HOST:PORT")
    if int(port) > 65535:
        raise SettingsError(f"--web.listen-address {address!r}: port must be 0 to 65535")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)
