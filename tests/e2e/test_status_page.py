"""The exporter's status page in a real browser (Debian's Chromium through Playwright), against
the sim demo: rows in trouble first, filters, a live update without reload, and markup from the
cluster shown as text. Writes the README's screenshot when JOBWATCH_SCREENSHOT names a file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from jobwatch_testbed.sim import JOBS
from jobwatch_testbed.stack import run_stack
from tests.e2e.browser import chromium

SCENARIOS = [
    "healthy",
    "exit127_command_not_found",
    "imagepullbackoff_stall",
    "complete_after_two_failures",
    "cronjob_three_failures_then_success",
]
INJECTED = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
ROWS = "rows => rows.map(r => [r.dataset.namespace, r.dataset.name, r.className])"


def _injected_job() -> dict[str, Any]:
    """A Job no controller drives (the test writes its status), named with markup."""
    return {
        "metadata": {"namespace": "sim-hostile", "name": INJECTED},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            },
        },
        "status": {"active": 1, "startTime": "2026-01-01T00:00:00Z"},
    }


def _failed(job: dict[str, Any]) -> None:
    job["status"] = {
        "failed": 3,
        "active": 0,
        "startTime": "2026-01-01T00:00:00Z",
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"},
        ],
    }


async def _drive(screenshot: Path) -> None:
    async with (
        run_stack(scenarios=SCENARIOS, alerting=False) as stack,
        chromium() as browser,
    ):
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = await page.goto(f"{stack.exporter.url}/")
        assert response is not None
        assert response.ok
        assert "script-src 'self'" in response.headers["content-security-policy"]
        await page.evaluate("window.__loaded = 'same page'")

        # Rows, trouble first: the Job that cannot start leads, the healthy one comes after.
        await page.wait_for_selector('tr.job.cannot_start[data-name="missing-command"]')
        await page.wait_for_selector('tr.job.stalled[data-name="invalid-image"]')
        await page.wait_for_selector('tr.job.hidden_failures[data-name="flaky"]')
        await page.wait_for_selector('tr.job[data-name="hello"][data-state="succeeded"]')
        rows = await page.eval_on_selector_all("#jobs tbody tr.job", ROWS)
        names = [name for _, name, _ in rows]
        assert names[0] == "missing-command", rows
        assert names.index("invalid-image") < names.index("hello"), rows
        cannot_start = page.locator('tr.job[data-name="missing-command"]')
        text = await cannot_start.inner_text()
        assert "exit 127" in text
        assert "used" not in text  # the attempts column is "used / limit · left"
        assert " left" in text
        commands = await cannot_start.locator("details.commands code").all_text_contents()
        assert "kubectl -n sim-exit127 describe job missing-command" in commands
        await page.wait_for_selector('#cronjobs tr.cronjob[data-name="nightly-report"]')
        await cannot_start.locator("details.commands summary").click()
        await page.screenshot(path=str(screenshot), full_page=True)

        # Filters: by namespace, then by state; the URL keeps them.
        await page.select_option("#namespace", "sim-imagepull")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#jobs tbody tr.job')]"
            ".every(r => r.dataset.namespace === 'sim-imagepull')"
        )
        assert "namespace=sim-imagepull" in page.url
        assert await page.locator("#jobs tbody tr.job").count() == 1
        await page.select_option("#namespace", "")
        await page.select_option("#state", "succeeded")
        await page.wait_for_function(
            "() => { const r = [...document.querySelectorAll('#jobs tbody tr.job')];"
            " return r.length > 0 && r.every(x => x.dataset.state === 'succeeded'); }"
        )
        shown = {n for _, n, _ in await page.eval_on_selector_all("#jobs tbody tr.job", ROWS)}
        assert {"hello", "flaky"} <= shown
        assert "missing-command" not in shown
        await page.select_option("#state", "")

        # Live: a Job appears, then fails, with no reload; its markup name stays text.
        sim = stack.sim
        assert sim is not None  # the embedded cluster, whose store the test writes to
        sim.store.create(JOBS, _injected_job())
        row = page.locator('tr.job[data-namespace="sim-hostile"]')
        await row.wait_for()
        sim.store.update(JOBS, "sim-hostile", INJECTED, _failed)
        await page.wait_for_selector('tr.job.failed[data-namespace="sim-hostile"]')
        assert await page.evaluate("window.__loaded") == "same page"
        assert (await row.locator("td.name").inner_text()).startswith(f"sim-hostile/{INJECTED}")
        assert await page.evaluate("window.__pwned") is None
        assert await page.locator("#jobs img, #jobs script").count() == 0

        # A resource the exporter is refused is said on the page, and goes when allowed again.
        assert await page.locator("#problems").is_hidden()
        sim.faults.refuse("cronjobs", 403)
        sim.faults.drop_watches()
        banner = page.locator("#problems", has_text="not exported: cronjobs/*: forbidden")
        await banner.wait_for(state="visible", timeout=30_000)
        sim.faults.clear()
        await page.locator("#problems").wait_for(state="hidden", timeout=60_000)
        assert errors == []


@pytest.mark.timeout(240)
def test_status_page_in_chromium(tmp_path: Path) -> None:
    screenshot = Path(os.environ.get("JOBWATCH_SCREENSHOT") or tmp_path / "status-page.png")
    asyncio.run(_drive(screenshot))
    assert screenshot.stat().st_size > 10_000
