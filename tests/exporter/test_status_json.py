"""/jobs.json and the status page over real sockets: the diagnose contract, filters, a capped
page, one-line 400s, and headers that keep cluster data from running as code."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from jobwatch import server
from jobwatch.cli import main
from jobwatch.model import JOBS
from jobwatch.state import ExporterState
from jobwatch.status import rfc3339
from tests.builders import cond, job

NOW = 1_800_000_000.0


def _objects(count: int) -> list[dict[str, Any]]:
    objects = []
    for n in range(count):
        failed = n % 3 == 0
        obj = job(
            name=f"job-{n:05d}",
            conditions=[cond("Failed", reason="BackoffLimitExceeded")] if failed else None,
            status={"active": 0 if failed else 1, "failed": 7 if failed else 0},
        )
        obj["metadata"]["uid"] = f"uid-{n}"
        obj["metadata"]["namespace"] = f"ns-{n % 2}"
        objects.append(obj)
    return objects


def _state(count: int) -> ExporterState:
    state = ExporterState(clock=lambda: NOW)
    state.replace(JOBS, None, _objects(count))
    return state


def _get(state: ExporterState, path: str) -> tuple[int, dict[str, str], str]:
    async def body() -> tuple[int, dict[str, str], str]:
        app = server.build_app(state, state.telemetry, status=state, clock=lambda: NOW)
        runner, port = await server.start(app, "127.0.0.1", 0)
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}{path}") as response,
            ):
                return response.status, dict(response.headers), await response.text()
        finally:
            await runner.cleanup()

    return asyncio.run(body())


def test_jobs_json_is_the_diagnose_contract_trouble_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, headers, text = _get(_state(6), "/jobs.json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    served: dict[str, Any] = json.loads(text)
    assert (served["total"], served["matched"], served["counts"]["in_trouble"]) == (6, 6, 2)
    assert [j["trouble"] for j in served["jobs"]] == ["failed", "failed", *[None] * 4]
    assert served["jobs"][0]["attempts"] == {"used": 7, "limit": 6, "remaining": 0}

    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"kind": "List", "items": _objects(6)}))
    assert main(["diagnose", "-f", str(dump), "-o", "json", "--now", rfc3339(NOW) or ""]) == 0
    # The same contract, plus what only the exporter knows: what it is refused or waits for.
    assert served.pop("exporter") == {"unavailable": [], "pending": []}
    assert json.loads(capsys.readouterr().out) == served


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?namespace=ns-1", ["job-00003", "job-00001", "job-00005"]),
        ("?state=failed", ["job-00000", "job-00003"]),
        ("?state=trouble&namespace=ns-0", ["job-00000"]),
        ("?job=job-00004", ["job-00004"]),
        ("?limit=2&offset=1", ["job-00003", "job-00002"]),
    ],
    ids=["namespace", "state", "trouble_in_namespace", "job", "page"],
)
def test_filters_and_pages(query: str, names: list[str]) -> None:
    _, _, text = _get(_state(6), f"/jobs.json{query}")
    assert [j["name"] for j in json.loads(text)["jobs"]] == names


def test_a_big_cluster_gets_a_capped_page() -> None:
    state = _state(1500)
    doc = json.loads(_get(state, "/jobs.json")[2])
    assert (doc["total"], len(doc["jobs"])) == (1500, server.DEFAULT_PAGE)
    doc = json.loads(_get(state, f"/jobs.json?limit={server.MAX_PAGE}")[2])
    assert len(doc["jobs"]) == server.MAX_PAGE


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=0", "limit must be a whole number from 1 to 1000, got '0'"),
        ("?limit=5000", "limit must be a whole number from 1 to 1000, got '5000'"),
        ("?offset=-1", "offset must be a whole number from 0 to 1000000000, got '-1'"),
        ("?state=broken", "state must be one of trouble, cannot_start"),
    ],
    ids=["zero_limit", "over_cap", "negative_offset", "unknown_state"],
)
def test_bad_parameters_are_a_one_line_400(query: str, message: str) -> None:
    status, _, text = _get(_state(1), f"/jobs.json{query}")
    assert status == 400
    assert text.startswith(message)
    assert len(text.strip().splitlines()) == 1


def test_the_page_runs_no_inline_script_and_escapes_nothing_from_the_cluster() -> None:
    status, headers, text = _get(_state(1), "/")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert '<script src="static/status.js" defer></script>' in text
    assert text.count("<script") == 1  # the page itself carries no data, only the script tag
    status, headers, script = _get(_state(1), "/static/status.js")
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert "innerHTML" not in script
    assert "textContent" in script
