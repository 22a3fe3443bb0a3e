"""The container image for real: built by `make image`'s script (buildah, chroot isolation, vfs,
no registry), and its filesystem run the way the chart's pod runs it.

There is no container runtime here and `buildah run` cannot make the root read-only, so `start`
does what a runtime does with the chart's securityContext, using util-linux and coreutils: a
private mount namespace, the image's root filesystem bind-mounted read-only, /proc, a minimal
/dev, a tmpfs /tmp (the chart's emptyDir) and /run holding the kubeconfig read-only; then chroot
switches to the image's USER (no capabilities survive the switch from root) and execs its
ENTRYPOINT with the image's ENV. The network namespace is the host's, so loopback reaches the sim.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import pytest

from jobwatch import __version__
from tests.deploy.chart import ROOT
from tests.tools import unavailable

BUILD_SCRIPT = ROOT / "docker" / "build-image.sh"
# `make image` tags localhost/jobwatch:VERSION; the tests tag per checkout, since several clones
# may build at once on one machine into one storage.
IMAGE = "localhost/jobwatch-test:" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
MAKE_IMAGE_TAG = f"localhost/jobwatch:{__version__}"
BUILD_TIMEOUT = 900
KUBECONFIG = "/run/jobwatch/kubeconfig"  # where `start` mounts the host's kubeconfig

# $1 root, $2 kubeconfig on the host (or empty), $3 uid:gid; then the command.
_RUNTIME = r"""
set -eu
root=$1 kubeconfig=$2 user=$3
shift 3
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,noexec,mode=755 tmpfs "$root/dev"
for node in null zero full random urandom; do
    : >"$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$root/run"
if [ -n "$kubeconfig" ]; then
    mkdir "$root/run/jobwatch"
    : >"$root/run/jobwatch/kubeconfig"
    mount --bind "$kubeconfig" "$root/run/jobwatch/kubeconfig"
    mount -o remount,bind,ro "$root/run/jobwatch/kubeconfig"
fi
exec chroot --userspec="$user" "$root" "$@"
"""


@dataclass(frozen=True)
class Built:
    name: str
    config: dict[str, Any]
    """The OCI image config: User, Env, Entrypoint, Cmd, ExposedPorts, Labels."""
    layers: list[int]
    """Each layer's size in bytes (buildah stores them uncompressed)."""
    output: str


def _buildah() -> list[str]:
    found = shutil.which("buildah")
    if found is None:
        unavailable("missing buildah: run `make image-tools`")
    return [found, "--storage-driver", "vfs", *storage_options()]


def storage_options() -> list[str]:
    """The private storage docker/build-image.sh uses when JOBWATCH_IMAGE_STORAGE is set."""
    private = os.environ.get("JOBWATCH_IMAGE_STORAGE")
    return ["--root", f"{private}/root", "--runroot", f"{private}/run"] if private else []


def storage_reference() -> str:
    """containers-storage:[driver@root+runroot] for skopeo, matching `storage_options`."""
    private = os.environ.get("JOBWATCH_IMAGE_STORAGE")
    if private:
        return f"[vfs@{private}/root+{private}/run]"
    return "[vfs@/var/lib/containers/storage+/run/containers/storage]"


def _needs_root() -> None:
    if os.geteuid() != 0:
        unavailable("building and running the image needs root (mount namespaces, chroot)")


@cache
def built() -> Built:
    """`make image`'s build, once per session; a failed build fails the test, never skips."""
    _needs_root()
    for needed in ("buildah", "mmdebstrap"):
        if shutil.which(needed) is None:
            unavailable(f"missing {needed}: run `make image-tools`")
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
        env={**os.environ, "JOBWATCH_IMAGE": IMAGE},
    )
    if result.returncode != 0:
        pytest.fail(f"make image failed: {result.stderr.strip()}", pytrace=False)
    inspected = json.loads(
        subprocess.run(
            [*_buildah(), "inspect", "--type", "image", IMAGE],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    manifest = json.loads(inspected["Manifest"])
    return Built(
        name=IMAGE,
        config=inspected["OCIv1"]["config"],
        layers=[layer["size"] for layer in manifest["layers"]],
        output=result.stdout,
    )


@contextmanager
def rootfs(image: Built) -> Iterator[Path]:
    """A fresh working container of the image; yields its root filesystem on the host."""
    buildah = _buildah()

    def run(*args: str) -> str:
        return subprocess.run(
            [*buildah, *args], capture_output=True, text=True, timeout=120, check=True
        ).stdout.strip()

    container = run("from", "--pull=never", "--quiet", image.name)
    try:
        yield Path(run("mount", container))
    finally:
        run("rm", container)


def buildah_run(image: Built, *command: str) -> subprocess.CompletedProcess[str]:
    """`buildah run` (chroot isolation) in a throwaway container: buildah's own runtime."""
    buildah = _buildah()
    container = subprocess.run(
        [*buildah, "from", "--pull=never", "--quiet", image.name],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    try:
        return subprocess.run(
            [*buildah, "run", "--isolation", "chroot", container, "--", *command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        subprocess.run([*buildah, "rm", container], capture_output=True, timeout=120, check=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(f"missing {name} (util-linux / coreutils)")
    return found


def command_line(
    image: Built,
    root: Path,
    args: list[str] | None = None,
    *,
    entrypoint: list[str] | None = None,
    kubeconfig: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run the image's filesystem read-only as its USER.

    `args` replaces CMD and `entrypoint` ENTRYPOINT, as a pod's `args` and `command` do."""
    _needs_root()
    config = image.config
    argv = [
        *(entrypoint if entrypoint is not None else config.get("Entrypoint") or []),
        *(args if args is not None else config.get("Cmd") or []),
    ]
    env = dict(entry.split("=", 1) for entry in config.get("Env", []))
    env.setdefault("HOME", "/")  # what runtimes set for a UID without a passwd entry
    sh, unshare = _tool("sh"), _tool("unshare")
    # the host's tools run before chroot; mount and chroot are found on the image's PATH
    # (/usr/bin), which is also the host's.
    for needed in ("mount", "chroot"):
        _tool(needed)
    user = config.get("User") or "0:0"
    if ":" not in user:
        user = f"{user}:{user}"
    return [
        unshare,
        "--mount",
        "--propagation",
        "private",
        "--",
        sh,
        "-c",
        _RUNTIME,
        "sh",
        str(root),
        str(kubeconfig or ""),
        user,
        *argv,
    ], env


def run(
    image: Built, root: Path, args: list[str], *, entrypoint: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv, env = command_line(image, root, args, entrypoint=entrypoint)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)


def start(
    image: Built, root: Path, args: list[str], *, kubeconfig: Path, stderr: TextIO
) -> subprocess.Popen[str]:
    """The image's ENTRYPOINT with `args`; the PID is the exporter's own (every step execs)."""
    argv, env = command_line(image, root, args, kubeconfig=kubeconfig)
    return subprocess.Popen(argv, stdout=stderr, stderr=stderr, text=True, env=env)


# The sandbox refuses the limits podman asks for by default (crun: "setrlimit `RLIMIT_NOFILE`:
# Operation not permitted"), so the test asks for lower ones; crun also refuses hybrid cgroups
# ("cgroups in hybrid mode not supported"), hence runc.
PODMAN_ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")


def podman() -> list[str]:
    """podman on the same storage as buildah, with runc as the OCI runtime."""
    found = shutil.which("podman")
    if found is None or shutil.which("runc") is None:
        unavailable("missing podman or runc: run `make image-tools`")
    return [found, "--storage-driver", "vfs", *storage_options(), "--runtime", "runc"]
