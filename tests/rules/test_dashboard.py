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


def test_panels_cover_the_issue_and_have_units() -> None:
    panels = build(load_config())["panels"]
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
