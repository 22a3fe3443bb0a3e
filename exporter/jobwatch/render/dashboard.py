"""The Grafana dashboard, built as plain JSON from jobwatch.metrics and the config.

It is plain data so that `jobwatch render dashboard` needs no Grafana library at run time; the
tests load it through grafana-foundation-sdk (11.6) and require an exact round trip.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from jobwatch.metrics import BY_KEY, Metric
from jobwatch.render.config import Config
from jobwatch.render.context import alternation, namespace_matchers
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


def _stat(title: str, description: str, x: int, expr: str) -> dict[str, Any]:
    return _panel(
        "stat",
        title,
        description,
        (x, 0, 6, 4),
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


def build(cfg: Config) -> dict[str, Any]:
    """The dashboard as Grafana JSON (a dict): stable uid from the config, no numeric id."""
    s = _selectors(cfg)
    bj, bc, sel, exp = s.by_job, s.by_cron, s.job, s.exporter
    state, stalled = _name("job_state"), _name("job_stalled_since_timestamp_seconds")
    used, limit = _name("job_attempts_used"), _name("job_attempts_limit")
    remaining = _name("job_attempts_remaining")
    failed, running = State.FAILED, State.RUNNING
    trouble_states = alternation([State.FAILED, State.STALLED])
    last_attempt = (
        f"max by ({bj}) ({remaining}{{{sel}}}) == 0"
        f" and on ({bj}) max by ({bj}) ({used}{{{sel}}}) > 0"
        f' and on ({bj}) max by ({bj}) ({state}{{{sel},state="{running}"}})'
    )
    # Jobs in trouble: failed, stalled (or blocked by a stall reason), or on their last attempt.
    trouble = (
        f"max by ({bj}, cronjob, state, reason) ("
        f'{state}{{{sel},state=~"{trouble_states}"}}'
        f" or ({state}{{{sel}}} and on ({bj}) {stalled}{{{sel}}})"
        f" or ({state}{{{sel}}} and on ({bj}) ({last_attempt}))"
        ")"
    )

    def in_trouble(expr: str) -> str:
        return f"{expr} and on ({bj}) {trouble}"

    stats = [
        _stat(
            "Failed Jobs",
            "Jobs whose state is failed now (they stay until deleted or garbage-collected).",
            0,
            f'count(max by ({bj}) ({state}{{{sel},state="{failed}"}}))',
        ),
        _stat(
            "Stalled Jobs",
            "Jobs blocked by something that never counts as a failure (image pull, config "
            "error, unschedulable, init, sidecar, no pods).",
            6,
            f"count(max by ({bj}) ({stalled}{{{sel}}}))",
        ),
        _stat(
            "Jobs on their last attempt",
            "Running Jobs whose next counted failure fails them with BackoffLimitExceeded.",
            12,
            f"count({last_attempt})",
        ),
        _stat(
            "Jobs with hidden failures (24h)",
            "Jobs that finished in the last 24h with failures hidden behind their success.",
            18,
            f"count(max by ({bj}) ({_name('job_hidden_failures')}{{{sel}}}) > 0"
            f" and on ({bj}) (time() - max by ({bj}) ({_name('job_finish_timestamp_seconds')}{{{sel}}}) < 86400))",
        ),
    ]

    table_columns = {
        "B": ("attempts used", "none"),
        "C": ("attempts limit", "none"),
        "D": ("attempts remaining", "none"),
        "E": ("last exit code", "none"),
        "F": ("stalled for", "s"),
        "G": ("next retry in", "s"),
    }
    trouble_table = _panel(
        "table",
        "Jobs in trouble",
        "Failed, stalled and last-attempt Jobs, with their attempts, last exit code and cause, "
        "the stall reason and its age, and when the Job controller may create the next pod.",
        (0, 4, 24, 10),
        [
            _target(trouble, "A", table=True),
            _target(in_trouble(f"max by ({bj}) ({used}{{{sel}}})"), "B", table=True),
            _target(in_trouble(f"max by ({bj}) ({limit}{{{sel}}})"), "C", table=True),
            _target(in_trouble(f"max by ({bj}) ({remaining}{{{sel}}})"), "D", table=True),
            _target(
                in_trouble(
                    f"max by ({bj}, container, cause) ({_name('job_last_exit_code')}{{{sel}}})"
                ),
                "E",
                table=True,
            ),
            _target(
                f"time() - max by ({bj}, stall_reason) (label_replace({stalled}{{{sel}}},"
                ' "stall_reason", "$1", "reason", "(.*)"))',
                "F",
                table=True,
            ),
            _target(
                in_trouble(
                    f"max by ({bj}) ({_name('job_next_retry_timestamp_seconds')}{{{sel}}}) - time()"
                ),
                "G",
                table=True,
            ),
        ],
        unit="none",
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value #A": True},
                    "renameByName": {
                        f"Value #{ref}": name for ref, (name, _) in table_columns.items()
                    },
                },
            },
        ],
        overrides=[_column(name, unit) for name, unit in table_columns.values()],
    )

    failures = _name("job_failures_total")
    container_failures = _name("container_failures_total")
    over_time = [
        _panel(
            "timeseries",
            "Job failures by reason",
            "Jobs that reached a failed state, by Job condition reason.",
            (0, 14, 12, 8),
            [
                _target(
                    f"sum by (reason) (increase({failures}{{{sel}}}[$__rate_interval]))",
                    "A",
                    "{{reason}}",
                )
            ],
            unit="short",
        ),
        _panel(
            "timeseries",
            "Container failures by cause",
            "Failed container terminations in Job pods, by what the exit code and reason mean.",
            (12, 14, 12, 8),
            [
                _target(
                    f"sum by (cause) (increase({container_failures}{{{sel}}}[$__rate_interval]))",
                    "A",
                    "{{cause}}",
                )
            ],
            unit="short",
        ),
    ]

    exit_codes = _panel(
        "bargauge",
        "Last exit code of failing Jobs",
        "How many Jobs' most recent failed container exited with each code, and its cause.",
        (0, 22, 12, 8),
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
    )

    cron_columns = {
        "A": ("last success age", "s"),
        "B": ("consecutive failures", "none"),
        "C": ("watched for", "s"),
    }
    cronjobs = _panel(
        "table",
        "CronJob health",
        "Per CronJob: time since its last successful run (empty if it never succeeded), "
        "failed runs since then, and its last run's state.",
        (12, 22, 12, 8),
        [
            _target(
                f"time() - max by ({bc}) ({_name('cronjob_last_success_timestamp_seconds')}{{{sel}}})",
                "A",
                table=True,
            ),
            _target(
                f"max by ({bc}) ({_name('cronjob_consecutive_failures')}{{{sel}}})", "B", table=True
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
        unit="none",
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value #D": True},
                    "renameByName": {
                        f"Value #{ref}": name for ref, (name, _) in cron_columns.items()
                    },
                },
            },
        ],
        overrides=[_column(name, unit) for name, unit in cron_columns.values()],
    )

    exporter = [
        _panel(
            "timeseries",
            "Exporter: time since last watch event",
            "Seconds since the last watch event or bookmark per resource; bookmarks arrive "
            "about every minute, so a rising line is a broken watch. 'up' is the scrape.",
            (0, 30, 6, 8),
            [
                _target(
                    f"time() - max by (instance, resource) ({_name('exporter_last_event_timestamp_seconds')}{{{exp}}})",
                    "A",
                    "{{instance}} {{resource}}",
                )
            ],
            unit="s",
        ),
        _panel(
            "timeseries",
            "Exporter: API requests",
            "Kubernetes list/watch requests per second by outcome, and relists after 410 Expired.",
            (6, 30, 6, 8),
            [
                _target(
                    f"sum by (resource, verb, result) (rate({_name('exporter_api_requests_total')}{{{exp}}}[$__rate_interval]))",
                    "A",
                    "{{resource}} {{verb}} {{result}}",
                ),
                _target(
                    f"sum by (resource) (rate({_name('exporter_relists_total')}{{{exp}}}[$__rate_interval]))",
                    "B",
                    "relist {{resource}}",
                ),
            ],
            unit="reqps",
        ),
        _panel(
            "timeseries",
            "Exporter: watch events and parse errors",
            "Watch events per second by resource and type (ADDED, MODIFIED, DELETED, BOOKMARK), "
            "and objects skipped because they could not be parsed.",
            (12, 30, 6, 8),
            [
                _target(
                    f"sum by (resource, type) (rate({_name('exporter_events_total')}{{{exp}}}[$__rate_interval]))",
                    "A",
                    "{{resource}} {{type}}",
                ),
                _target(
                    f"sum by (resource) (rate({_name('exporter_parse_errors_total')}{{{exp}}}[$__rate_interval]))",
                    "B",
                    "parse errors {{resource}}",
                ),
            ],
            unit="ops",
        ),
        _panel(
            "timeseries",
            "Exporter: up, synced, tracked objects and render time",
            "1 while Prometheus scrapes jobwatch and each resource's initial list completed; "
            "objects held in the store; average time to re-render a Job's exposition (seconds).",
            (18, 30, 6, 8),
            [
                _target(f"min by (instance) (up{{{exp}}})", "A", "up {{instance}}"),
                _target(
                    f"min by (instance, resource) ({_name('exporter_synced')}{{{exp}}})",
                    "B",
                    "synced {{instance}} {{resource}}",
                ),
                _target(
                    f"sum by (instance, resource) ({_name('exporter_tracked_objects')}{{{exp}}})",
                    "D",
                    "tracked {{instance}} {{resource}}",
                ),
                _target(
                    f"sum by (instance) (rate({_name('exporter_render_seconds')}_sum{{{exp}}}[$__rate_interval]))"
                    f" / sum by (instance) (rate({_name('exporter_render_seconds')}_count{{{exp}}}[$__rate_interval]))",
                    "C",
                    "render {{instance}}",
                ),
            ],
            unit="none",
            overrides=[
                {
                    "matcher": {"id": "byFrameRefID", "options": "C"},
                    "properties": [{"id": "unit", "value": "s"}],
                }
            ],
        ),
    ]

    return {
        "uid": cfg["dashboard"]["uid"],
        "title": cfg["dashboard"]["title"],
        "description": "Why Kubernetes Jobs and CronJobs fail, stall or hide failures (jobwatch).",
        "tags": ["jobwatch", "kubernetes", "jobs"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": cfg["dashboard"]["time_from"], "to": "now"},
        "refresh": cfg["dashboard"]["refresh"],
        "schemaVersion": 39,
        "templating": {"list": _variables(cfg)},
        "annotations": {"list": []},
        "links": [],
        "panels": [*stats, trouble_table, *over_time, exit_codes, cronjobs, *exporter],
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
        for target in panel["targets"]
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
