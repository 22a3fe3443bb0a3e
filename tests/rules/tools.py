"""External tools for tests: fail in CI (CI=true) when one is missing, skip elsewhere."""

from __future__ import annotations

import shutil

from tests.tools import unavailable


def require_tool(name: str) -> str:
    """Path of `name`; pytest.fail under CI=true if it is missing, pytest.skip otherwise."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make tools installs it)")
    return path
