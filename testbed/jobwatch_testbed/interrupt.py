"""Run a command's coroutine until it finishes or the user interrupts it (Ctrl-C, SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any


def run_until_interrupted(coroutine: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run` the coroutine; SIGINT or SIGTERM cancels it, so its `finally` and
    `async with` blocks stop whatever it started, and this returns normally."""

    async def main() -> None:
        task = asyncio.create_task(coroutine)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
