"""External binaries the tests run for real. Missing in CI (CI=true) is a failure, never a skip."""

from __future__ import annotations

import os
import shutil

import pytest


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    message = f"missing {', '.join(missing)}: run `make tools`"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message)
    pytest.skip(message)
