"""External tools for tests: fail in CI (CI=true) when one is missing, skip elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of `name`; pytest.fail under CI=true if it is missing, pytest.skip otherwise."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (make tools installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)
