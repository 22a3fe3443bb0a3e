"""`jobwatch render` works from an installed wheel, not only from a checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from jobwatch.render.paths import repo_root

PACKAGED = (
    "jobwatch/_data/rules/config.yaml",
    "jobwatch/_data/rules/templates/jobwatch.rules.yaml.j2",
    "jobwatch/_data/rules/templates/_go.j2",
    "jobwatch/_data/rules/runbooks/templates/JobwatchDown.md.j2",
    "jobwatch/_data/rules/runbooks/templates/_common.j2",
    "jobwatch/web/status.html",
    "jobwatch/web/status.js",
    "jobwatch/web/status.css",
    "jobwatch/_data/alertmanager/templates/alertmanager.yml.j2",
    "jobwatch/_data/alertmanager/templates/jobwatch.tmpl.j2",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), "-q", str(repo_root())],
        check=True,
        timeout=120,
    )
    (path,) = out.glob("*.whl")
    return path


def test_wheel_ships_templates_and_config(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGED) <= names


def test_wheel_carries_the_exporter_and_not_the_testbed(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("kube_jobwatch-")}
    assert packages == {"jobwatch"}
    assert "jobwatch/serve.py" in names
    harness = ("jobwatch/sim/", "jobwatch/demo.py", "jobwatch/stack.py", "jobwatch/monitoring.py")
    assert not [name for name in names if name.startswith(harness)]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    requires = [line for line in metadata.decode().splitlines() if line.startswith("Requires-Dist")]
    assert not [line for line in requires if "rich" in line or "testbed" in line], requires


def test_installed_wheel_renders_rules_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--offline", "--no-deps", "--python", str(python), str(wheel)],
        check=True,
        timeout=60,
    )
    # Dependencies come from this environment, appended after the fresh venv's own packages, so
    # `jobwatch` itself resolves to the installed wheel and not to the editable checkout.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    where = subprocess.run(
        [str(python), "-c", "from jobwatch.render.paths import data_root; print(data_root())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(str(venv))

    result = subprocess.run(
        [str(venv / "bin" / "jobwatch"), "render", "rules"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    expected = (repo_root() / "rules" / "generated" / "jobwatch.rules.yaml").read_text()
    assert result.stdout == expected
