"""The Grafana dashboard, built as plain JSON from jobwatch.metrics and the config.

It is plain data so that `jobwatch render dashboard` needs no Grafana library at run time; the
tests load it through grafana-foundation-sdk (11.6) and require an exact round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobwatch.metrics import BY_KEY, Metric
from jobwatch.render import promql
from jobwatch.render.config import Config
from jobwatch.render.context import namespace_matchers
from jobwatch.render.symbolic import Knob
from jobwatch.vocabulary import State

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# What a Grafana variable stands for when a panel query is checked or run outside Grafana.
SUBSTITUTIONS = {
    "$__rate_interval": "5m",
    "$namespace": ".*",
    "$cronjob": ".*",
    "$cluster": ".*",
}


def _name(key: str) -> str:
    metric: Metric = BY_KEY[key]
    return metric.name


@dataclass(frozen=True)
class _Selectors:
    job: str  # Job and CronJob series: exporter, namespaces, dashboard variables
    exporter: str  # the exporter's own series
    by_job: str
    by_cron: str


def _selectors(cfg: Config) -> _Selectors:
    cl = cfg["cluster_label"]
    cluster = f',{cl}=~"$cluster"' if cl else ""
    prefix = f"{cl}, " if cl else ""
    return _Selectors(
        job=cfg["selector"]
        + namespace_matchers(cfg)
        + cluster
        + ',namespace=~"$namespace",cronjob=~"$cronjob"',
        exporter=cfg["selector"] + cluster,
        by_job=f"{prefix}namespace, job_name",
        by_cron=f"{prefix}namespace, cronjob",
    )


def _target(expr: str, ref: str, legend: str = "", *, table: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr, "refId": ref}
    if table:
        target.update({"format": "table", "instant": True, "range": False})
    else:
        target.update({"legendFormat": legend or "__auto", "range": True})
    return target


def _panel(
    kind: str,
    title: str,
    description: str,
    grid: tuple[int, int, int, int],
    targets: list[dict[str, Any]],
    *,
    unit: str,
    **extra: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": extra.pop("overrides", [])},
    }
    panel.update(extra)
    return panel


def _timeseries(
    title: str,
    description: str,
    grid: tuple[int, int, int, int],
    unit: str,
    *queries: tuple[str, str],
) -> dict[str, Any]:
    """A time series panel of (expr, legend) queries, refIds A, B, C... in order."""
    targets = [_target(e, chr(ord("A") + i), legend) for i, (e, legend) in enumerate(queries)]
    return _panel("timeseries", title, description, grid, targets, unit=unit)


def _stat(title: str, description: str, x: int, expr: str, y: int) -> dict[str, Any]:
    return _panel(
        "stat",
        title,
        description,
        (x, y, 6, 4),
        [_target(f"{expr} or vector(0)", "A", title)],
        unit="none",
        options={
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        overrides=[],
    )


def _column(name: str, unit: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "unit", "value": unit}],
    }


def _table(
    title: str,
    description: str,
    grid: tuple[int, int, int, int],
    targets: list[dict[str, Any]],
    columns: dict[str, tuple[str, str]],
    *,
    hidden: str,
    overrides: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A table merging instant queries into one row per series: `columns` names and units each
    query's value by refId; the value of `hidden` (a query that only brings labels) is dropped."""
    return _panel(
        "table",
        title,
        description,
        grid,
        targets,
        unit="none",
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, f"Value #{hidden}": True},
                    "renameByName": {f"Value #{ref}": name for ref, (name, _) in columns.items()},
                },
            },
        ],
        overrides=[_column(name, unit) for name, unit in columns.values()] + (overrides or []),
        **extra,
    )


def _row(title: str, y: int) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        "panels": [],
    }


def _runbook(cfg: Config, alert: str) -> str:
    """The alert's runbook URL; in the Helm chart's render, the Helm expression that makes it."""
    pattern = cfg["runbook_url_pattern"]
    if isinstance(pattern, Knob):
        return pattern.session.knob(
            f'{pattern.expr} | replace "{{alert}}" "{alert}" '
            f'| replace "{{alert_lower}}" "{alert.lower()}"'
        )
    url: str = pattern.format(alert=alert, alert_lower=alert.lower())
    return url


def _overview(s: _Selectors, y: int) -> list[dict[str, Any]]:
    bj, sel = s.by_job, s.job
    state, failed = _name("job_state"), State.FAILED
    return [
        _stat(
            "Failed Jobs",
            "Jobs whose state is failed now (they stay until deleted or garbage-collected).",
            0,
            f'count(max by ({bj}) ({state}{{{sel},state="{failed}"}}))',
            y,
        ),
        _stat(
            "Stalled Jobs",
            "Jobs blocked by something that never counts as a failure (image pull, config "
            "error, unschedulable, init, sidecar, no pods).",
            6,
            f"count(max by ({bj}) ({_name('job_stalled_since_timestamp_seconds')}{{{sel}}}))",
            y,
        ),
        _stat(
            "Jobs on their last attempt",
            "Running Jobs whose next counted failure fails them with BackoffLimitExceeded.",
            12,
            f"count({promql.last_attempt(sel, bj)})",
            y,
        ),
        _stat(
            "Jobs with hidden failures (24h)",
            "Jobs that finished in the last 24h with failures hidden behind their success.",
            18,
            f"count(max by ({bj}) ({_name('job_hidden_failures')}{{{sel}}}) > 0"
            f" and on ({bj}) (time() - max by ({bj}) ({_name('job_finish_timestamp_seconds')}{{{sel}}}) < 86400))",
            y,
        ),
    ]


def _status_link(cfg: Config) -> dict[str, Any]:
    """From a row of the table to that Job on the exporter's status page."""
    base = cfg["dashboard"]["status_page_url"].rstrip("/")
    return {
        "title": "${__data.fields.namespace}/${__data.fields.job_name} on the jobwatch status page",
        "url": f"{base}/?namespace=${{__data.fields.namespace}}&job=${{__data.fields.job_name}}",
        "targetBlank": True,
    }


def _trouble(cfg: Config, s: _Selectors, y: int) -> list[dict[str, Any]]:
    bj, sel = s.by_job, s.job
    trouble = promql.in_trouble(sel, bj)

    def in_trouble(expr: str) -> str:
        return f"{expr} and on ({bj}) {trouble}"

    stalled = _name("job_stalled_since_timestamp_seconds")
    columns = {
        "B": ("attempts used", "none"),
        "C": ("attempts limit", "none"),
        "D": ("attempts remaining", "none"),
        "E": ("last exit code", "none"),
        "F": ("stalled for", "s"),
        "G": ("next retry in", "s"),
    }
    exprs = {
        "A": trouble,
        "B": in_trouble(f"max by ({bj}) ({_name('job_attempts_used')}{{{sel}}})"),
        "C": in_trouble(f"max by ({bj}) ({_name('job_attempts_limit')}{{{sel}}})"),
        "D": in_trouble(f"max by ({bj}) ({_name('job_attempts_remaining')}{{{sel}}})"),
        "E": in_trouble(
            f"max by ({bj}, container, cause) ({_name('job_last_exit_code')}{{{sel}}})"
        ),
        "F": f"time() - max by ({bj}, stall_reason) (label_replace({stalled}{{{sel}}},"
        ' "stall_reason", "$1", "reason", "(.*)"))',
        "G": in_trouble(
            f"max by ({bj}) ({_name('job_next_retry_timestamp_seconds')}{{{sel}}}) - time()"
        ),
    }
    runbooks = ["JobCannotStart", "JobBackoffLimitExceeded", "JobLastAttempt", "JobStalled"]
    return [
        _table(
            "Jobs in trouble",
            "Failed, stalled, last-attempt and cannot-start Jobs, with their attempts, last exit "
            "code and cause, the stall reason and its age, and when the Job controller may create "
            "the next pod. A Job's name opens it on the jobwatch status page (advice and kubectl "
            "commands); the panel links open the runbooks.",
            (0, y, 24, 10),
            [_target(e, ref, table=True) for ref, e in exprs.items()],
            columns,
            hidden="A",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "job_name"},
                    "properties": [{"id": "links", "value": [_status_link(cfg)]}],
                }
            ],
            links=[
                {"title": f"Runbook: {alert}", "url": _runbook(cfg, alert), "targetBlank": True}
                for alert in runbooks
            ],
        )
    ]


def _history(s: _Selectors, y: int) -> list[dict[str, Any]]:
    bj, sel = s.by_job, s.job
    failures, containers = _name("job_failures_total"), _name("container_failures_total")
    return [
        _timeseries(
            "Job failures by reason",
            "Jobs that reached a failed state, by Job condition reason.",
            (0, y, 12, 8),
            "short",
            (f"sum by (reason) (increase({failures}{{{sel}}}[$__rate_interval]))", "{{reason}}"),
        ),
        _timeseries(
            "Container failures by cause",
            "Failed container terminations in Job pods, by what the exit code and reason mean.",
            (12, y, 12, 8),
            "short",
            (f"sum by (cause) (increase({containers}{{{sel}}}[$__rate_interval]))", "{{cause}}"),
        ),
        _panel(
            "bargauge",
            "Last exit code of failing Jobs",
            "How many Jobs' most recent failed container exited with each code, and its cause.",
            (0, y + 8, 24, 8),
            [
                _target(
                    f'count_values by (cause) ("exit_code", max by ({bj}, cause) '
                    f'({_name("job_last_exit_code")}{{{sel},cause!="success"}}))',
                    "A",
                    "{{exit_code}} {{cause}}",
                )
            ],
            unit="none",
            options={
                "displayMode": "basic",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
        ),
    ]


def _cronjobs(s: _Selectors, y: int) -> list[dict[str, Any]]:
    bc, sel = s.by_cron, s.job
    columns = {
        "A": ("last success age", "s"),
        "B": ("consecutive failures", "none"),
        "C": ("watched for", "s"),
    }
    return [
        _table(
            "CronJob health",
            "Per CronJob: time since its last successful run (empty if it never succeeded), "
            "failed runs since then, and its last run's state.",
            (0, y, 24, 8),
            [
                _target(
                    f"time() - max by ({bc}) ({_name('cronjob_last_success_timestamp_seconds')}{{{sel}}})",
                    "A",
                    table=True,
                ),
                _target(
                    f"max by ({bc}) ({_name('cronjob_consecutive_failures')}{{{sel}}})",
                    "B",
                    table=True,
                ),
                _target(
                    f"time() - max by ({bc}) ({_name('cronjob_first_seen_timestamp_seconds')}{{{sel}}})",
                    "C",
                    table=True,
                ),
                _target(
                    f"max by ({bc}, state, reason) ({_name('cronjob_last_run_state')}{{{sel}}})",
                    "D",
                    table=True,
                ),
            ],
            columns,
            hidden="D",
        )
    ]


def _exporter(s: _Selectors, y: int) -> list[dict[str, Any]]:
    """One unit per panel: seconds, requests/s, events/s, a 0/1 state, a count, a duration."""
    exp = s.exporter
    render = _name("exporter_render_seconds")
    return [
        _timeseries(
            "Exporter: time since last watch event",
            "Seconds since the last watch event or bookmark per resource; bookmarks arrive "
            "about every minute, so a rising line is a broken watch.",
            (0, y, 8, 8),
            "s",
            (
                f"time() - max by (instance, resource) ({_name('exporter_last_event_timestamp_seconds')}{{{exp}}})",
                "{{instance}} {{resource}}",
            ),
        ),
        _timeseries(
            "Exporter: API requests",
            "Kubernetes list/watch requests per second by outcome, and relists after 410 Expired.",
            (8, y, 8, 8),
            "reqps",
            (
                f"sum by (resource, verb, result) (rate({_name('exporter_api_requests_total')}{{{exp}}}[$__rate_interval]))",
                "{{resource}} {{verb}} {{result}}",
            ),
            (
                f"sum by (resource) (rate({_name('exporter_relists_total')}{{{exp}}}[$__rate_interval]))",
                "relist {{resource}}",
            ),
        ),
        _timeseries(
            "Exporter: watch events and parse errors",
            "Watch events per second by resource and type (ADDED, MODIFIED, DELETED, BOOKMARK), "
            "objects skipped because they could not be parsed, and objects read by the slower "
            "tolerant path because a field had an unexpected type.",
            (16, y, 8, 8),
            "ops",
            (
                f"sum by (resource, type) (rate({_name('exporter_events_total')}{{{exp}}}[$__rate_interval]))",
                "{{resource}} {{type}}",
            ),
            (
                f"sum by (resource) (rate({_name('exporter_parse_errors_total')}{{{exp}}}[$__rate_interval]))",
                "parse errors {{resource}}",
            ),
            (
                f"sum by (resource) (rate({_name('exporter_tolerant_decodes_total')}{{{exp}}}[$__rate_interval]))",
                "tolerant decodes {{resource}}",
            ),
        ),
        _timeseries(
            "Exporter: up and synced",
            "1 while Prometheus scrapes jobwatch ('up') and while each resource's initial list "
            "has completed (synced).",
            (0, y + 8, 8, 8),
            "bool",
            (f"min by (instance) (up{{{exp}}})", "up {{instance}}"),
            (
                f"min by (instance, resource) ({_name('exporter_synced')}{{{exp}}})",
                "synced {{instance}} {{resource}}",
            ),
        ),
        _timeseries(
            "Exporter: tracked objects",
            "Jobs, pods and CronJobs held in the exporter's store.",
            (8, y + 8, 8, 8),
            "short",
            (
                f"sum by (instance, resource) ({_name('exporter_tracked_objects')}{{{exp}}})",
                "{{instance}} {{resource}}",
            ),
        ),
        _timeseries(
            "Exporter: render time",
            "Average time to re-analyse and re-render one Job's exposition.",
            (16, y + 8, 8, 8),
            "s",
            (
                f"sum by (instance) (rate({render}_sum{{{exp}}}[$__rate_interval]))"
                f" / sum by (instance) (rate({render}_count{{{exp}}}[$__rate_interval]))",
                "{{instance}}",
            ),
        ),
    ]


def build(cfg: Config) -> dict[str, Any]:
    """The dashboard as Grafana JSON (a dict): stable uid from the config, no numeric id; one
    row per question (kubernetes-mixin style), UTC, tags, links to the runbooks."""
    s = _selectors(cfg)
    rows: list[tuple[str, Callable[[int], list[dict[str, Any]]], int]] = [
        ("Overview", lambda y: _overview(s, y), 4),
        ("Jobs", lambda y: _trouble(cfg, s, y), 10),
        ("Failures over time", lambda y: _history(s, y), 16),
        ("CronJobs", lambda y: _cronjobs(s, y), 8),
        ("Exporter", lambda y: _exporter(s, y), 16),
    ]
    panels: list[dict[str, Any]] = []
    y = 0
    for title, make, height in rows:
        panels.append(_row(title, y))
        panels.extend(make(y + 1))
        y += 1 + height
    return {
        "uid": cfg["dashboard"]["uid"],
        "title": cfg["dashboard"]["title"],
        "description": "Why Kubernetes Jobs and CronJobs fail, stall or hide failures (jobwatch).",
        "tags": ["jobwatch", "kubernetes", "kubernetes-mixin", "jobs"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": cfg["dashboard"]["time_from"], "to": "now"},
        "refresh": cfg["dashboard"]["refresh"],
        "schemaVersion": 39,
        "templating": {"list": _variables(cfg)},
        "annotations": {"list": []},
        "links": [
            {
                "title": "jobwatch status page",
                "type": "link",
                "url": cfg["dashboard"]["status_page_url"],
                "targetBlank": True,
                "tooltip": "Jobs in trouble with advice and kubectl commands, live",
            },
            {
                "title": "Runbook: Jobs in trouble",
                "type": "link",
                "url": _runbook(cfg, "JobFailed"),
                "targetBlank": True,
                "tooltip": "What the jobwatch Job alerts mean and what to do (links to the others)",
            },
        ],
        "panels": panels,
    }


def _query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def _variables(cfg: Config) -> list[dict[str, Any]]:
    cl = cfg["cluster_label"]
    datasource = cfg["dashboard"]["datasource"]
    base = cfg["selector"] + namespace_matchers(cfg)
    cluster = f',{cl}=~"$cluster"' if cl else ""
    out: list[dict[str, Any]] = [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Data source",
            "query": "prometheus",
            "current": {"selected": True, "text": datasource, "value": datasource},
        }
    ]
    if cl:
        out.append(
            _query_variable(
                "cluster", "Cluster", f"label_values({_name('job_state')}{{{base}}}, {cl})"
            )
        )
    out.append(
        _query_variable(
            "namespace",
            "Namespace",
            f"label_values({_name('job_state')}{{{base}{cluster}}}, namespace)",
        )
    )
    out.append(
        _query_variable(
            "cronjob",
            "CronJob",
            f'label_values({_name("cronjob_last_run_state")}{{{base}{cluster},namespace=~"$namespace"}}, cronjob)',
        )
    )
    return out


def render_json(cfg: Config) -> str:
    return json.dumps(build(cfg), indent=2, ensure_ascii=False) + "\n"


def substitute(expr: str) -> str:
    """A panel query with its Grafana variables replaced, ready for Prometheus or promtool."""
    for variable, value in SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    return expr


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref_id: str
    expr: str


def panel_queries(cfg: Config, *, substituted: bool = True) -> list[PanelQuery]:
    """Every panel query (the e2e hook: run each against a live Prometheus and expect data)."""
    return [
        PanelQuery(
            panel["title"],
            target["refId"],
            substitute(target["expr"]) if substituted else target["expr"],
        )
        for panel in build(cfg)["panels"]
        for target in panel.get("targets", [])
    ]


def variable_queries(cfg: Config) -> list[str]:
    """The series selectors inside each `label_values(...)` variable query, substituted."""
    pattern = re.compile(r"^label_values\((.*), *[a-zA-Z_][a-zA-Z0-9_]*\)$")
    out = []
    for variable in build(cfg)["templating"]["list"]:
        if variable["type"] == "query":
            match = pattern.match(variable["query"]["query"])
            assert match is not None, variable["query"]
            out.append(substitute(match.group(1)))
    return out
