"""The one config of the rule pack: defaults from `rules/config.yaml`, overrides deep-merged.

An override may only change knobs the defaults declare (a typo is an error, not a silent no-op),
and each knob keeps the type of its default. Mappings named `labels` are free-form.
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from jobwatch.render.errors import ConfigError, RenderError
from jobwatch.render.paths import default_config_path

Config = dict[str, Any]

SEVERITIES = ("critical", "warning", "info")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_FREE_FORM = frozenset({"labels"})
# Fields `runbook_url_pattern` may use.
RUNBOOK_FIELDS = ("alert", "alert_lower")
# Labels the rules compute or their tests check: `labels` may add labels, never replace these.
CHECKED_LABELS = frozenset(
    {
        "severity",
        "alertname",
        "namespace",
        "job_name",
        "cronjob",
        "container",
        "cause",
        "reason",
        "kind",
        "resource",
        "instance",
        "job",
    }
)
_STRING = r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'" + r"|`[^`]*`"
_MATCHER = rf"\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*(?:{_STRING})\s*"
_MATCHERS = re.compile(rf"^{_MATCHER}(?:,{_MATCHER})*$")
_DURATION_KNOBS = frozenset({"for", "resolve_after", "window", "max_duration"})

__all__ = [
    "SEVERITIES",
    "Config",
    "ConfigError",
    "RenderError",
    "duration_seconds",
    "load_config",
]


def duration_seconds(value: str) -> int:
    """Seconds in a Prometheus duration such as `1h30m`; ConfigError if it is not one."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not value or match is None:
        raise ConfigError(f"{value!r} is not a Prometheus duration (e.g. 90s, 10m, 24h)")
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if n)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {path}{where} is not valid YAML") from exc


def _merge(base: Any, override: Any, where: str) -> Any:
    if isinstance(base, dict):
        if not isinstance(override, Mapping):
            raise ConfigError(f"{where or 'config'} must be a mapping, got {override!r}")
        free = where.rsplit(".", 1)[-1] in _FREE_FORM
        merged = dict(base)
        for key, value in override.items():
            path = f"{where}.{key}" if where else str(key)
            if key not in base:
                if not free:
                    known = ", ".join(sorted(map(str, base))) or "none"
                    raise ConfigError(f"unknown config key {path!r} (known here: {known})")
                merged[key] = value
            else:
                merged[key] = _merge(base[key], value, path)
        return merged
    if isinstance(base, bool) or isinstance(override, bool):
        if type(base) is not type(override):
            raise ConfigError(f"{where} must be {type(base).__name__}, got {override!r}")
        return override
    if isinstance(base, int | float) and isinstance(override, int | float):
        return override
    if type(base) is not type(override):
        raise ConfigError(f"{where} must be {type(base).__name__}, got {override!r}")
    return override


def _check_regex(value: str, where: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{where} is not a valid regex: {exc}") from exc


def _check_duration(value: str, where: str) -> None:
    try:
        duration_seconds(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_runbook_pattern(pattern: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        raise ConfigError(
            f"runbook_url_pattern {pattern!r}: {exc} (write {{{{ }}}} for a brace)"
        ) from None
    known = ", ".join(f"{{{f}}}" for f in RUNBOOK_FIELDS)
    for field in fields:
        if field not in RUNBOOK_FIELDS:
            raise ConfigError(
                f"runbook_url_pattern {pattern!r} uses {{{field}}}; the fields are {known}"
            )
    if not fields:
        raise ConfigError(f"runbook_url_pattern must contain {known}, got {pattern!r}")


def _check_labels(labels: Mapping[str, Any], where: str, cluster_label: str) -> None:
    checked = CHECKED_LABELS | ({cluster_label} if cluster_label else set())
    for key in labels:
        if not isinstance(key, str) or not _LABEL_NAME.match(key):
            raise ConfigError(f"{where}: {key!r} is not a label name")
        if key in checked:
            hint = " (set alerts.<name>.severity instead)" if key == "severity" else ""
            raise ConfigError(
                f"{where}.{key} would override a label the rules compute{hint}; "
                f"labels may only add: {', '.join(sorted(checked))} are taken"
            )


def _validate(cfg: Config) -> None:
    if cfg["cluster_label"] and not _LABEL_NAME.match(cfg["cluster_label"]):
        raise ConfigError(f"cluster_label {cfg['cluster_label']!r} is not a label name")
    if not _MATCHERS.match(cfg["selector"]):
        raise ConfigError(
            f"selector {cfg['selector']!r} is not PromQL label matchers such as "
            "'job=\"jobwatch\"' (quote each value; separate matchers with commas)"
        )
    for key in ("include", "exclude"):
        _check_regex(cfg["namespaces"][key], f"namespaces.{key}")
    _check_runbook_pattern(cfg["runbook_url_pattern"])
    _check_labels(cfg["labels"], "labels", cfg["cluster_label"])
    for name, alert in cfg["alerts"].items():
        _check_labels(alert["labels"], f"alerts.{name}.labels", cfg["cluster_label"])
        for key, value in alert.items():
            if key in _DURATION_KNOBS or (key == "threshold" and isinstance(value, str)):
                _check_duration(value, f"alerts.{name}.{key}")
        for key in ("severity", "critical_severity"):
            if key in alert and alert[key] not in SEVERITIES:
                raise ConfigError(
                    f"alerts.{name}.{key} must be one of {', '.join(SEVERITIES)}, got {alert[key]!r}"
                )
    for key in ("group_wait", "group_interval", "repeat_interval"):
        _check_duration(cfg["alertmanager"][key], f"alertmanager.{key}")


def load_config(
    path: Path | str | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Defaults, then the YAML file at `path`, then `overrides` (for tests), validated."""
    cfg: Config = _read_yaml(default_config_path())
    if path is not None:
        user = _read_yaml(Path(path))
        if user is not None:
            cfg = _merge(cfg, user, "")
    if overrides:
        cfg = _merge(cfg, copy.deepcopy(dict(overrides)), "")
    _validate(cfg)
    return cfg
