"""The container image: the Dockerfile's invariants and hadolint, then the image itself, built by
`make image` (buildah, chroot isolation, vfs storage, a local mmdebstrap base: no Docker engine,
no registry) and run as the chart runs it: UID 65532, read-only root, against the sim."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from jobwatch import __version__
from jobwatch.settings import DEFAULT_PORT
from jobwatch_testbed.monitoring import free_port
from tests.deploy import image
from tests.deploy.chart import ROOT, chart
from tests.tools import tool

DOCKERFILE = ROOT / "Dockerfile"
VENV = "/opt/jobwatch"
SITE = f"{VENV}/lib/python3.11/site-packages"
USER = "65532:65532"


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


def test_build_stage_pins_uv_and_runs_the_build_script() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG UV_IMAGE=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+$", text, re.MULTILINE)
    assert ("FROM", "${UV_IMAGE} AS uv") in _instructions()
    build = dict(_stages()[-2])
    assert build["COPY"] == ". /src/"
    assert build["RUN"].endswith(f'["/src/docker/build-venv.sh", "/src", "{VENV}"]')
    assert "--mount=type=bind,from=uv,source=/uv,target=/usr/local/bin/uv" in build["RUN"]


def test_image_version_label_default_matches_the_chart() -> None:
    runtime = dict(_stages()[-1])
    assert runtime["ARG"] == f"VERSION={chart().metadata['appVersion']}"
    assert __version__ == chart().metadata["appVersion"]


def test_dockerignore_lets_in_exactly_what_the_wheel_is_built_from() -> None:
    """The build COPYs the whole context, so the allow-list is what decides what it holds."""
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"][
        "build"
    ]["targets"]["wheel"]
    needed = {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "docker/build-venv.sh",
        *(Path(package).parts[0] for package in wheel["packages"]),
        *wheel["force-include"],
    }
    assert allowed == needed


# --- the image itself -----------------------------------------------------------------------------
# The build (cold: about 4 min with the mmdebstrap base; warm: seconds) happens once per session,
# inside the first test that needs it, so these tests get a timeout that covers it.
built_timeout = pytest.mark.timeout(image.BUILD_TIMEOUT + 120)


@pytest.fixture(scope="module")
def built() -> image.Built:
    return image.built()


@pytest.fixture(scope="module")
def root(built: image.Built) -> Iterator[Path]:
    with image.rootfs(built) as path:
        yield path


@built_timeout
def test_image_config_runs_serve_as_non_root(built: image.Built) -> None:
    config = built.config
    assert config["User"] == USER
    assert config["Entrypoint"] == ["jobwatch"]
    assert config["Cmd"] == ["serve"]
    assert list(config["ExposedPorts"]) == [f"{DEFAULT_PORT}/tcp"]
    assert (
        f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        in (config["Env"])
    )
    assert config["Labels"]["org.opencontainers.image.version"] == __version__
    assert f"built {built.name} in " in built.output


@built_timeout
def test_image_is_the_base_plus_one_venv_layer_of_bounded_size(built: image.Built) -> None:
    base, venv = built.layers  # the build stage (uv, sources) leaves nothing behind
    print(f"image layers: base {base} B, venv {venv} B, total {base + venv} B")
    assert venv < 100 * 2**20
    assert base + venv < 200 * 2**20


@built_timeout
def test_image_holds_the_exporter_wing_and_nothing_else(root: Path) -> None:
    site = root / SITE.lstrip("/")
    assert (site / "jobwatch" / "cli.py").is_file()
    assert (site / "jobwatch" / "_data" / "rules" / "config.yaml").is_file()
    shipped = {path.name.split("-")[0].lower() for path in site.iterdir()}
    testbed_or_dev = {"jobwatch_testbed", "kube_jobwatch_testbed", "rich", "pytest", "mypy"}
    assert not shipped & testbed_or_dev, sorted(shipped & testbed_or_dev)
    assert not (site / "jobwatch" / "sim").exists()
    assert not list(site.glob("*.pth")), "an editable install points outside the image"
    for absent in ("src", "usr/local/bin/uv", f"{VENV.lstrip('/')}/bin/pip"):
        assert not (root / absent).exists(), f"/{absent} is in the image"


@built_timeout
def test_image_commands_run_read_only_as_65532(built: image.Built, root: Path) -> None:
    version = image.run(built, root, ["--version"])
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"jobwatch {__version__}"
    rules = image.run(built, root, ["render", "rules"])
    assert rules.returncode == 0, rules.stderr
    assert rules.stdout == (ROOT / "rules/generated/jobwatch.rules.yaml").read_text(
        encoding="utf-8"
    )
    demo = image.run(built, root, ["demo"])  # the testbed's commands say where they are
    assert demo.returncode == 2
    assert demo.stderr.count("\n") == 1, demo.stderr
    assert "part of the testbed" in demo.stderr
    assert "make demo" in demo.stderr

    probe = (
        "import os, jobwatch\n"
        "print(os.getuid(), os.getgid(), os.getgroups(), jobwatch.__file__)\n"
        "open('/tmp/scratch', 'w').write('ok')\n"
        "for path in ('/opt/jobwatch/x', '/x', '/etc/x'):\n"
        "    try:\n"
        "        open(path, 'w')\n"
        "    except OSError as error:\n"
        "        print(path, error.strerror)\n"
    )
    result = image.run(built, root, ["-c", probe], entrypoint=["python3"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"65532 65532 [] {SITE}/jobwatch/__init__.py"
    assert lines[1:] == [
        f"{path} Read-only file system" for path in ("/opt/jobwatch/x", "/x", "/etc/x")
    ]


@built_timeout
def test_buildah_run_starts_the_image_as_its_user(built: image.Built) -> None:
    """buildah's own runtime (chroot isolation) honours USER and ENV; it cannot make / read-only."""
    result = image.buildah_run(
        built, "python3", "-c", "import os, shutil; print(os.getuid(), shutil.which('jobwatch'))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["65532", f"{VENV}/bin/jobwatch"]


def _process(pid: int) -> dict[str, str]:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines()
    return dict(line.split(":\t", 1) for line in status if ":\t" in line)


def _root_mount_options(pid: int) -> list[str]:
    for line in Path(f"/proc/{pid}/mountinfo").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields[4] == "/":
            return fields[5].split(",")
    raise AssertionError(f"no / in /proc/{pid}/mountinfo")


async def _metrics_once_ready(url: str, alive: Callable[[], bool], within: float) -> str:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert alive(), "the exporter exited"
            try:
                async with session.get(f"{url}/metrics") as response:
                    text = await response.text()
                    if response.status == 200 and 'job_name="hello"' in text:
                        return text
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url}/metrics never showed the sim's Jobs")


def _assert_runs_as_the_chart_does(pid: int) -> None:
    """UID/GID 65532, no other group (runc lists the GID itself), no capabilities, a read-only /."""
    process = _process(pid)
    assert process["Uid"].split() == ["65532"] * 4
    assert process["Gid"].split() == ["65532"] * 4
    assert set(process["Groups"].split()) <= {"65532"}
    assert process["CapEff"] == process["CapPrm"] == "0000000000000000"
    assert "ro" in _root_mount_options(pid)


@pytest.fixture
def sim_kubeconfig(tmp_path: Path) -> Iterator[Path]:
    """The sim (dev venv, the testbed wing) on loopback; yields its kubeconfig."""
    kubeconfig = tmp_path / "kubeconfig"
    with (tmp_path / "sim.log").open("w") as log:
        sim = subprocess.Popen(
            [
                *(sys.executable, "-m", "jobwatch", "sim", "--scenarios", "healthy,oomkilled"),
                *("--kubeconfig-out", str(kubeconfig)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not (kubeconfig.exists() and kubeconfig.read_text()):
                assert sim.poll() is None, (tmp_path / "sim.log").read_text()
                assert time.monotonic() < deadline, "the sim wrote no kubeconfig"
                time.sleep(0.1)
            yield kubeconfig
        finally:
            sim.terminate()
            sim.wait(timeout=30)


@built_timeout
def test_image_serves_metrics_from_the_sim_read_only_as_65532(
    built: image.Built, root: Path, tmp_path: Path, sim_kubeconfig: Path
) -> None:
    port = free_port()
    with (tmp_path / "exporter.log").open("w") as log:
        exporter = image.start(
            built,
            root,
            ["serve", "--kubeconfig", image.KUBECONFIG, f"--web.listen-address=127.0.0.1:{port}"],
            kubeconfig=sim_kubeconfig,
            stderr=log,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            text = asyncio.run(_metrics_once_ready(url, lambda: exporter.poll() is None, 60))
            assert 'namespace="sim-oomkilled"' in text
            _assert_runs_as_the_chart_does(exporter.pid)  # every step execs: the same PID
            assert Path(f"/proc/{exporter.pid}/root").resolve() == root.resolve()
            exporter.terminate()
            assert exporter.wait(timeout=30) == 0, (tmp_path / "exporter.log").read_text()
        finally:
            if exporter.poll() is None:
                exporter.kill()
                exporter.wait(timeout=30)


@built_timeout
def test_podman_runs_the_image_read_only_with_the_chart_security_context(
    built: image.Built, sim_kubeconfig: Path
) -> None:
    """A real OCI runtime (podman + runc): --read-only, all capabilities dropped, no new
    privileges, a tmpfs /tmp, the image's own USER, ENTRYPOINT and ENV."""
    podman = image.podman()
    name = f"jobwatch-test-{os.getpid()}"
    port = free_port()

    def podman_(*args: str, check: bool = True) -> str:
        done = subprocess.run(
            [*podman, *args], capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0 or not check, done.stderr.strip()
        return done.stdout.strip()

    try:
        podman_(
            "run", "--detach", "--name", name, "--network", "host", "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp",
            *image.PODMAN_ULIMITS,
            "--volume", f"{sim_kubeconfig}:{image.KUBECONFIG}:ro",
            built.name,
            "serve", "--kubeconfig", image.KUBECONFIG, f"--web.listen-address=127.0.0.1:{port}",
        )  # fmt: skip

        def alive() -> bool:
            return podman_("inspect", "--format", "{{.State.Running}}", name) == "true"

        text = asyncio.run(_metrics_once_ready(f"http://127.0.0.1:{port}", alive, 60))
        assert 'namespace="sim-oomkilled"' in text
        _assert_runs_as_the_chart_does(int(podman_("inspect", "--format", "{{.State.Pid}}", name)))
        podman_("stop", "--time", "30", name)
        assert podman_("inspect", "--format", "{{.State.ExitCode}}", name) == "0", podman_(
            "logs", name
        )
    finally:
        podman_("rm", "--force", name, check=False)


def _readme_push_commands() -> list[list[str]]:
    """The README's `buildah push` and `skopeo copy` lines, split as the shell would."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [
        line.split()
        for line in readme.splitlines()
        if line.startswith(("buildah push ", "skopeo copy "))
    ]
    assert len(lines) == 2, lines
    return lines


@built_timeout
def test_readme_push_commands_push_to_a_registry(built: image.Built, tmp_path: Path) -> None:
    """The README's push lines, pointed at a real registry (Debian's docker-registry) on loopback."""
    registry, skopeo = tool("docker-registry"), tool("skopeo")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "blobs")}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        ),
        encoding="utf-8",
    )
    log = (tmp_path / "registry.log").open("w")
    server = subprocess.Popen([registry, "serve", str(config)], stdout=log, stderr=log)
    here = f"127.0.0.1:{port}/team/jobwatch"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (tmp_path / "registry.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the registry never answered"
                time.sleep(0.2)
        for n, readme_argv in enumerate(_readme_push_commands()):
            # plain HTTP on loopback; one tag per command so each push is checked on its own
            argv = [
                a.replace("registry.example/team/jobwatch:", f"{here}:{n}-")
                .replace(
                    "[vfs@/var/lib/containers/storage+/run/containers/storage]",
                    image.storage_reference(),
                )
                .replace(image.MAKE_IMAGE_TAG, built.name)
                for a in readme_argv
            ]
            argv.insert(
                2, "--tls-verify=false" if argv[0] == "buildah" else "--dest-tls-verify=false"
            )
            if argv[0] == "buildah":
                argv[1:1] = image.storage_options()
            pushed = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            assert pushed.returncode == 0, pushed.stderr
            inspected = subprocess.run(
                [skopeo, "inspect", "--tls-verify=false", f"docker://{here}:{n}-{__version__}"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            remote = json.loads(inspected.stdout)
            assert remote["Labels"]["org.opencontainers.image.version"] == __version__
            assert len(remote["Layers"]) == len(built.layers)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
