"""Debian's Chromium driven by Playwright: no browser download, ever."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from tests.tools import unavailable

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A Playwright Browser on /usr/bin/chromium (`make tools` installs it from Debian)."""
    if not CHROMIUM.is_file():  # noqa: ASYNC240 - one stat before anything starts
        unavailable("missing /usr/bin/chromium: run `make tools`")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
