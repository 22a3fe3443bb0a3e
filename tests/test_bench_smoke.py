"""`python -m bench` still runs and reports every section; timings are not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import bench.__main__ as bench_main
import pytest
from bench import e2e, goals, parse, realapi, scrape, throughput
from bench.__main__ import Plan

from jobwatch_testbed.kube.build import binaries

TINY = Plan(
    name="tiny",
    parse=lambda: parse.run(rounds=1, target=0.002),
    scrape=lambda: scrape.run(sizes=(4, 8), rounds=1, full_rounds=1, target=0.002),
    throughput=lambda: throughput.run(jobs=4, distinct_events=40, seconds=0.1, scrape_every=0.02),
    e2e=lambda: e2e.run(jobs=4, pods_per_job=1, rates=(40,), seconds=0.3, scrape_every=0.1),
    goals=lambda: goals.run(
        goals.Sizes(
            small=(6, 2),
            large=(10, 2),
            sync=(8, 2),
            churn=5,
            rounds=2,
            naive_rounds=1,
            rate=20,
            every=0.2,
            scrapes=2,
        )
    ),
    realapi=lambda: realapi.run(
        realapi.Sizes(6, 2, workers=4, rate=20, seconds=0.5, every=0.2, scrapes=2)
    ),
)


def test_quick_mode_writes_every_section(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bench_main, "QUICK", TINY)
    output = tmp_path / "docs" / "performance.md"
    assert bench_main.main(["--quick", "--output", str(output)]) == 0
    report = output.read_text()
    document = json.loads(output.with_suffix(".json").read_text())
    assert len(document["goals"]) == 9
    for goal in document["goals"]:
        assert set(goal) == {"figure", "bound", "measured", "met"}
        assert isinstance(goal["met"], bool)
    assert "## 5. Cluster-scale goals (issue 12)" in report
    assert "## 6. Real API server (issue 12)" in report
    if not binaries().missing():  # CI has them: the real API server run happened
        assert "| kube-apiserver + etcd | 6 / 12 |" in report
        assert "| sim | 6 / 12 |" in report
    for title in (
        "## 1. Parse cost per pod event",
        "## 2. Scrape cost vs cluster size",
        "## 3. Event throughput in process",
        "## 4. End to end over HTTP",
    ):
        assert title in report
    assert report.count("**What it measures.**") == 6
    assert report.count("**For users.**") == 6
    for fact in ("| python |", "| cpu count |", "| date (UTC) |", "| command |"):
        assert fact in report
