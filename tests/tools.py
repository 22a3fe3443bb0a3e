"""External tools the tests run for real. Missing in CI (CI=true) is a failure, never a skip."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from jobwatch_testbed.kube.build import Binaries


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def unavailable(message: str) -> NoReturn:
    """A tool the test needs is missing: fail under CI=true, skip on a developer machine."""
    if in_ci():
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def tool(name: str) -> str:
    """The path of a binary the test runs: on PATH or next to this interpreter (`.venv/bin`, for
    tools from PyPI). Missing: the test fails under CI=true and is skipped elsewhere."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        unavailable(f"{name} is not installed: run `make setup` and `make tools`")
    return found


def kube_binaries() -> Binaries:
    """The pinned control-plane binaries (`make kube`); missing ones fail in CI."""
    from jobwatch_testbed.kube.build import binaries
    from jobwatch_testbed.kube.versions import KUBERNETES

    found = binaries()
    if missing := found.missing():
        unavailable(f"missing {', '.join(missing)} (Kubernetes {KUBERNETES}): run `make kube`")
    return found
