"""The Grafana dashboard: loads through grafana-foundation-sdk 11.6, every query parses with
promtool, every panel has a unit, and it names only declared metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import prometheus
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel

from jobwatch.cli import main
from jobwatch.render.config import load_config
from jobwatch.render.dashboard import build, panel_queries, variable_queries
from jobwatch.render.paths import repo_root
from jobwatch_testbed import promtool
from tests.rules.names import undeclared
from tests.tools import tool

COMMITTED = repo_root() / "dashboards" / "jobwatch.json"
CONFIGS = {"defaults": {}, "multi-cluster": {"cluster_label": "cluster"}}


def _contained(mine: Any, theirs: Any, path: str = "$") -> list[str]:
    """Where `theirs` lost or changed something `mine` has (it may add defaults)."""
    if isinstance(mine, dict):
        if not isinstance(theirs, dict):
            return [path]
        return [
            p
            for k, v in mine.items()
            for p in _contained(v, theirs.get(k, KeyError), f"{path}.{k}")
        ]
    if isinstance(mine, list):
        if not isinstance(theirs, list) or len(mine) != len(theirs):
            return [path]
        return [
            p
            for i, (a, b) in enumerate(zip(mine, theirs, strict=True))
            for p in _contained(a, b, f"{path}[{i}]")
        ]
    return [] if mine == theirs else [path]


@pytest.mark.parametrize("overrides", CONFIGS.values(), ids=CONFIGS.keys())
def test_dashboard_round_trips_through_the_sdk_model(overrides: dict[str, Any]) -> None:
    plugins.register_default_plugins()
    mine = build(load_config(overrides=overrides))
    model = Dashboard.from_json(mine)
    theirs = json.loads(json.dumps(model, cls=JSONEncoder))
    assert _contained(mine, theirs) == []
    # Stable: a second trip changes nothing, and every query was understood as Prometheus.
    again = json.loads(json.dumps(Dashboard.from_json(theirs), cls=JSONEncoder))
    assert again == theirs
    assert model.panels is not None
    for panel in model.panels:
        if type(panel).__name__ == "RowPanel":
            continue
        assert isinstance(panel, Panel)
        assert panel.targets
        for target in panel.targets:
            assert isinstance(target, prometheus.Dataquery)
            assert not isinstance(target, UnknownDataquery)


def test_uid_from_config_and_no_numeric_id() -> None:
    dashboard = build(load_config(overrides={"dashboard": {"uid": "my-jobs"}}))
    assert dashboard["uid"] == "my-jobs"
    assert "id" not in dashboard
    assert all("id" not in panel for panel in dashboard["panels"])


def test_variables_and_optional_cluster() -> None:
    names = [v["name"] for v in build(load_config())["templating"]["list"]]
    assert names == ["datasource", "namespace", "cronjob"]
    names = [
        v["name"]
        for v in build(load_config(overrides={"cluster_label": "cluster"}))["templating"]["list"]
    ]
    assert names == ["datasource", "cluster", "namespace", "cronjob"]


def test_rows_utc_tags_and_links_as_kubernetes_mixin_dashboards() -> None:
    cfg = load_config(overrides={"dashboard": {"status_page_url": "https://jobwatch.example"}})
    dashboard = build(cfg)
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Overview", "Jobs", "Failures over time", "CronJobs", "Exporter"]
    assert dashboard["panels"][0]["type"] == "row"
    assert dashboard["timezone"] == "utc"
    assert {"jobwatch", "kubernetes-mixin"} <= set(dashboard["tags"])
    assert [link["title"] for link in dashboard["links"]] == [
        "jobwatch status page",
        "Runbook: Jobs in trouble",
    ]
    trouble = next(p for p in dashboard["panels"] if p["title"] == "Jobs in trouble")
    (override,) = [o for o in trouble["fieldConfig"]["overrides"] if "links" in str(o)]
    assert override["matcher"]["options"] == "job_name"
    (link,) = override["properties"][0]["value"]
    assert link["url"] == (
        "https://jobwatch.example/?namespace=${__data.fields.namespace}"
        "&job=${__data.fields.job_name}"
    )
    runbooks = [link["url"] for link in trouble["links"]]
    assert runbooks[0].endswith("/JobCannotStart.md")
    # Panels never overlap: each row's panels sit below it and above the next row.
    cells = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))


def test_each_exporter_panel_has_one_unit() -> None:
    panels = build(load_config())["panels"]
    exporter = [p for p in panels if p["title"].startswith("Exporter") and p["type"] != "row"]
    assert len(exporter) == 6
    for panel in exporter:
        assert panel["fieldConfig"]["overrides"] == [], panel["title"]
    units = {p["title"]: p["fieldConfig"]["defaults"]["unit"] for p in exporter}
    assert units["Exporter: up and synced"] == "bool"
    assert units["Exporter: tracked objects"] == "short"
    assert units["Exporter: render time"] == "s"


def test_the_rules_and_the_dashboard_share_their_promql() -> None:
    from jobwatch.render import promql, rules

    cfg = load_config()
    sel, on = cfg["selector"], "namespace, job_name"
    (last,) = [r for r in rules.alert_rules(cfg) if r["alert"] == "JobLastAttempt"]
    assert promql.last_attempt(sel, on, "namespace, job_name, cronjob") in last["expr"]
    (failed,) = [r for r in rules.alert_rules(cfg) if r["alert"] == "JobBackoffLimitExceeded"]
    assert promql.cannot_start(sel, on) in failed["expr"]
    stat = next(p for p in build(cfg)["panels"] if p["title"] == "Jobs on their last attempt")
    assert "job_attempts_remaining" in stat["targets"][0]["expr"]


def test_panels_cover_the_issue_and_have_units() -> None:
    panels = [p for p in build(load_config())["panels"] if p["type"] != "row"]
    titles = [p["title"] for p in panels]
    assert titles[:5] == [
        "Failed Jobs",
        "Stalled Jobs",
        "Jobs on their last attempt",
        "Jobs with hidden failures (24h)",
        "Jobs in trouble",
    ]
    assert {
        "Container failures by cause",
        "Last exit code of failing Jobs",
        "CronJob health",
    } <= set(titles)
    assert any(t.startswith("Exporter") for t in titles)
    for panel in panels:
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    trouble = next(p for p in panels if p["title"] == "Jobs in trouble")
    columns = trouble["transformations"][1]["options"]["renameByName"].values()
    assert list(columns) == [
        "attempts used",
        "attempts limit",
        "attempts remaining",
        "last exit code",
        "stalled for",
        "next retry in",
    ]


def test_panel_queries_are_substituted_and_declared() -> None:
    for query in panel_queries(load_config(overrides={"cluster_label": "cluster"})):
        assert "$" not in query.expr.replace('"$1"', ""), query
        assert undeclared(query.expr, ["cluster"]) == [], query


@pytest.mark.tool
@pytest.mark.parametrize("overrides", CONFIGS.values(), ids=CONFIGS.keys())
def test_every_panel_and_variable_query_parses(overrides: dict[str, Any], tmp_path: Path) -> None:
    tool("promtool")
    cfg = load_config(overrides=overrides)
    exprs = [q.expr for q in panel_queries(cfg)] + variable_queries(cfg)
    rules = [{"record": f"jobwatch:panel_query:{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in promtool.check_rules(path)


def test_committed_dashboard_is_the_default_render() -> None:
    assert json.loads(COMMITTED.read_text()) == build(load_config())


def test_cli_prints_the_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "dashboard"]) == 0
    assert json.loads(capsys.readouterr().out)["uid"] == "jobwatch-jobs"
