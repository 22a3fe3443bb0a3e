"""The sim writes statuses from the spec itself: it must never use the analysis engine."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import jobwatch_testbed.sim

SIM_DIR = Path(jobwatch_testbed.sim.__file__).parent


def test_no_sim_module_imports_the_analysis_engine() -> None:
    offenders = []
    files = sorted(SIM_DIR.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            if any(n == "jobwatch.analysis" or n.startswith("jobwatch.analysis.") for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_importing_every_sim_module_leaves_analysis_unloaded() -> None:
    modules = [m.name for m in pkgutil.iter_modules([str(SIM_DIR)], "jobwatch_testbed.sim.")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "assert not [m for m in sys.modules if m.startswith('jobwatch.analysis')], sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
