"""Check a rendered rule file with promtool when it is installed, so a config that renders
rules Prometheus would reject (an unquoted selector value, a bad regex) fails the render."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jobwatch.render.errors import RenderError
from jobwatch.render.yamlout import dump

TIMEOUT = 60.0


def promtool_path() -> str | None:
    return shutil.which("promtool")


def check_groups(groups: dict[str, Any]) -> bool:
    """`promtool check rules` on `{"groups": [...]}`; False when promtool is not installed.
    Raises RenderError with promtool's first complaint."""
    promtool = promtool_path()
    if promtool is None:
        return False
    with tempfile.TemporaryDirectory(prefix="jobwatch-check-") as tmp:
        path = Path(tmp) / "jobwatch.rules.yaml"
        path.write_text(dump(groups), encoding="utf-8")
        try:
            result = subprocess.run(
                [promtool, "check", "rules", str(path)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"cannot run promtool to check the rules: {exc}") from exc
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
        why = next((ln for ln in lines if str(path) in ln and "Checking" not in ln), None)
        why = (why or (lines[-1] if lines else "no output")).replace(f"{path}: ", "")
        raise RenderError(f"promtool rejects the rendered rules: {why}")
    return True
