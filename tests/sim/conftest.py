"""Fixtures for the sim tests."""

from __future__ import annotations

import asyncio

import pytest

from jobwatch_testbed.sim.player import ScenarioPlayer
from jobwatch_testbed.sim.store import Store

FAST = 1000.0


@pytest.fixture(scope="session")
def played() -> Store:
    """A store in which every scenario was played (1000x) to its telling state."""
    store = Store()

    async def play() -> None:
        await asyncio.wait_for(ScenarioPlayer(store, speed=FAST).run(until_settled=True), 60)

    asyncio.run(play())
    return store
