"""The container image: hadolint on the Dockerfile, its invariants, and its install step proven in a
clean venv (there is no Docker engine in CI, so docker/build-venv.sh is run directly)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from jobwatch import __version__
from jobwatch.settings import DEFAULT_PORT
from tests.deploy.chart import ROOT, chart, tool

DOCKERFILE = ROOT / "Dockerfile"
BUILD_SCRIPT = ROOT / "docker" / "build-venv.sh"
VENV = "/opt/jobwatch"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _build_context_sources() -> list[str]:
    """Paths the build stage COPYs from the context (not from another stage)."""
    sources = []
    for word, rest in _stages()[-2]:
        if word == "COPY" and not rest.startswith("--from"):
            sources.extend(rest.split()[:-1])
    return sources


def test_hadolint_passes() -> None:
    hadolint = tool("hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_stage_is_non_root_and_runs_serve() -> None:
    runtime = dict(_stages()[-1])
    assert runtime["FROM"] == "${PYTHON_IMAGE}"
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in DOCKERFILE.read_text(encoding="utf-8")
    assert runtime["USER"] == "65532:65532"
    assert runtime["EXPOSE"] == str(DEFAULT_PORT)
    assert runtime["ENTRYPOINT"] == '["jobwatch"]'
    assert runtime["CMD"] == '["serve"]'
    assert runtime["COPY"] == f"--from=build {VENV} {VENV}"
    assert "org.opencontainers.image.source=" in runtime["LABEL"]
    assert 'org.opencontainers.image.version="${VERSION}"' in runtime["LABEL"]


def test_build_stage_pins_uv_and_runs_the_tested_script() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv$", text, re.MULTILINE)
    build = _stages()[-2]
    assert ("RUN", f'["/usr/local/bin/build-venv.sh", "/src", "{VENV}"]') in build


def test_image_version_label_default_matches_the_chart() -> None:
    runtime = dict(_stages()[-1])
    assert runtime["ARG"] == f"VERSION={chart().metadata['appVersion']}"
    assert __version__ == chart().metadata["appVersion"]


def test_dockerignore_lets_every_copied_path_in() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    for source in _build_context_sources():
        assert source.rstrip("/") in allowed, f"{source} is COPYed but .dockerignore drops it"


def _copy_context(dest: Path) -> None:
    """The build context as the Dockerfile sees it: only what the build stage COPYs."""
    for source in _build_context_sources():
        src = ROOT / source
        target = dest / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "_data"))
        else:
            shutil.copy2(src, target)


def test_build_script_installs_a_working_jobwatch_in_a_clean_venv(tmp_path: Path) -> None:
    uv = tool("uv")
    context, venv, elsewhere = tmp_path / "src", tmp_path / "venv", tmp_path / "cwd"
    _copy_context(context)
    elsewhere.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTHON", "UV_PROJECT"))
    }
    env["PATH"] = f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHON"] = shutil.which("python3.11") or "python3"
    build = subprocess.run(
        ["sh", str(BUILD_SCRIPT), str(context), str(venv)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "--no-editable" in BUILD_SCRIPT.read_text(encoding="utf-8")

    # The venv must not depend on the source tree: remove it, then run from elsewhere.
    shutil.rmtree(context)
    jobwatch = venv / "bin" / "jobwatch"

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(jobwatch), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=elsewhere,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert run("--version").strip() == f"jobwatch {__version__}"
    rules = run("render", "rules")
    assert rules == (ROOT / "rules/generated/jobwatch.rules.yaml").read_text(encoding="utf-8")
    located = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import jobwatch; print(jobwatch.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=elsewhere,
        env=env,
    ).stdout.strip()
    assert Path(located).is_relative_to(venv), f"jobwatch imported from {located}"
    # Only the exporter wing: no testbed package, none of its dependencies, and the testbed's
    # commands say in one line where to get them.
    (site,) = venv.glob("lib/python*/site-packages")
    shipped = {path.name.split("-")[0].lower() for path in site.iterdir()}
    assert "jobwatch" in shipped
    assert not shipped & {"jobwatch_testbed", "kube_jobwatch_testbed", "rich"}, sorted(shipped)
    assert not (site / "jobwatch" / "sim").exists()
    demo = subprocess.run(
        [str(jobwatch), "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=elsewhere,
        env=env,
    )
    assert demo.returncode == 2
    assert demo.stderr.count("\n") == 1, demo.stderr
    assert "part of the testbed" in demo.stderr
    assert "make demo" in demo.stderr
    dev_only = venv / "bin" / "pytest"
    assert not dev_only.exists(), "the image venv holds dev dependencies"
