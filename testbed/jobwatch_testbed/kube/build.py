"""`make kube`: build the pinned control plane from Go modules, once, cached by version.

    python -m jobwatch_testbed.kube.build             # build what is missing, show progress
    python -m jobwatch_testbed.kube.build --print-dir # where the binaries are (no build)

kube-apiserver, kube-controller-manager and kubectl come from the `k8s.io/kubernetes` module.
Its published go.mod requires every staging module (`k8s.io/api`, `k8s.io/client-go`, …) at
`v0.0.0` and replaces them with `./staging/...`, which a dependency's replaces cannot do. So a
throwaway module requires `k8s.io/kubernetes vX.Y.Z` and replaces each module that go.mod
requires at `v0.0.0` with its published `v0.Y.Z` (the list is read from that go.mod, never
typed). etcd is the `main` package of `go.etcd.io/etcd/server/v3`, built the same way.

The machine's Go builds them (`GOTOOLCHAIN=local`). Binaries land in
`~/.cache/jobwatch/kube/<kubernetes version>/` and `~/.cache/jobwatch/kube/etcd-<version>/`
(`$JOBWATCH_KUBE_CACHE` or `$XDG_CACHE_HOME` move it); a finished directory is never rebuilt.
Standard library only, so `make kube` runs before the venv exists. Errors are one line; the
full Go output is in the build log named there.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jobwatch_testbed.kube.versions import ETCD, KUBERNETES

KUBE_MODULE = "k8s.io/kubernetes"
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kubectl")
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
STAMP = ".complete"


class BuildError(Exception):
    """One line for the user; `log` names the file with the full Go output."""


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kubectl: Path

    def all(self) -> dict[str, Path]:
        return {
            "etcd": self.etcd,
            "kube-apiserver": self.kube_apiserver,
            "kube-controller-manager": self.kube_controller_manager,
            "kubectl": self.kubectl,
        }

    def missing(self) -> list[str]:
        return [name for name, path in self.all().items() if not os.access(path, os.X_OK)]


def cache_root() -> Path:
    if explicit := os.environ.get("JOBWATCH_KUBE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jobwatch" / "kube"


def kube_dir() -> Path:
    return cache_root() / KUBERNETES


def etcd_dir() -> Path:
    return cache_root() / f"etcd-{ETCD}"


def binaries() -> Binaries:
    """Where the pinned binaries are (whether or not they are built yet)."""
    kube = kube_dir()
    return Binaries(
        etcd=etcd_dir() / "etcd",
        kube_apiserver=kube / "kube-apiserver",
        kube_controller_manager=kube / "kube-controller-manager",
        kubectl=kube / "kubectl",
    )


def _complete(directory: Path, names: tuple[str, ...]) -> bool:
    return (directory / STAMP).exists() and all(os.access(directory / n, os.X_OK) for n in names)


# ---------------------------------------------------------------------- go
def go_env() -> dict[str, str]:
    return dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod -buildvcs=false")


GO_FALLBACKS = ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")


def find_go() -> str:
    go = shutil.which("go") or next((p for p in GO_FALLBACKS if os.access(p, os.X_OK)), None)
    if go is None:
        raise BuildError("Go is not installed (need Go >= 1.26 on PATH to build the control plane)")
    return go


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def go_version(go: str) -> str:
    out = subprocess.run(
        [go, "env", "GOVERSION"], check=False, env=go_env(), capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def _run(cmd: list[str], cwd: Path, log: Path, what: str) -> str:
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(
            cmd, check=False, cwd=cwd, env=go_env(), stdout=subprocess.PIPE, stderr=fh, text=True
        )
        fh.write(proc.stdout)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed: {_last_error(log)} (full log: {log})")
    return proc.stdout


def _last_error(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith(("$ ", "go: downloading", "go: finding"))]
    return errors[-1] if errors else "no output"


def module_gomod(go: str, module: str, version: str, cwd: Path, log: Path) -> Path:
    """Download `module@version` and return the path of its published go.mod."""
    out = _run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        cwd,
        log,
        f"downloading {module}@{version}",
    )
    match = re.search(r'"GoMod":\s*"([^"]+)"', out)
    if match is None:
        raise BuildError(f"go mod download {module}@{version} named no go.mod (full log: {log})")
    return Path(match.group(1))


def go_directive(gomod: str) -> str:
    match = re.search(r"^go\s+(\S+)", gomod, re.MULTILINE)
    return match.group(1) if match else "1.21"


def staging_modules(gomod: str) -> list[str]:
    """Modules the published go.mod requires at `v0.0.0`: the staging repos."""
    found: list[str] = []
    in_block = False
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if line.startswith("require ("):
            in_block = True
            continue
        if in_block and line == ")":
            in_block = False
            continue
        if line.startswith("require "):
            line = line[len("require ") :].strip()
        elif not in_block:
            continue
        parts = line.split()
        if len(parts) == 2 and parts[1] == "v0.0.0":
            found.append(parts[0])
    return sorted(set(found))


def kube_gomod(gomod: str) -> str:
    """The throwaway module's go.mod for building Kubernetes `KUBERNETES`."""
    minor = ".".join(KUBERNETES.lstrip("v").split(".")[1:])
    staging = staging_modules(gomod)
    if not staging:
        raise BuildError(f"{KUBE_MODULE} {KUBERNETES}: its go.mod requires no v0.0.0 modules")
    lines = [
        "module jobwatch.local/kubebuild",
        "",
        f"go {go_directive(gomod)}",
        "",
        f"require {KUBE_MODULE} {KUBERNETES}",
        "",
    ]
    lines += [f"replace {m} => {m} v0.{minor}" for m in staging]
    return "\n".join(lines) + "\n"


def _check_go_version(go: str, needed: str, what: str) -> None:
    have = go_version(go)
    if _version_tuple(have) < _version_tuple(needed):
        raise BuildError(
            f"{have} is older than go {needed} that {what} needs; install a newer Go or pin an "
            "older release in testbed/jobwatch_testbed/kube/versions.py"
        )


# ---------------------------------------------------------------------- progress
class Progress:
    """Counts `go build -v` package lines; one status line every few seconds."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.count = 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty:
            sys.stderr.write("\n")

    def line(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        of = f"/{self.total}" if self.total else ""
        return f"kube: {self.label}: {self.count}{of} packages compiled ({elapsed // 60}m{elapsed % 60:02d}s)"

    def _tick(self) -> None:
        period = 2.0 if self.tty else 30.0
        while not self._stop.wait(period):
            if self.tty:
                sys.stderr.write("\r" + self.line())
            else:
                sys.stderr.write(self.line() + "\n")
            sys.stderr.flush()


def _go_build(
    go: str, packages: list[str], out: str, *, cwd: Path, log: Path, label: str, ldflags: str = ""
) -> None:
    """`go build -v -o out packages` (out ends in a separator for several commands)."""
    listed = _run([go, "list", "-deps", *packages], cwd, log, f"listing {label}")
    total = len(listed.split())
    cmd = [go, "build", "-v", "-o", out]
    if ldflags:
        cmd.append(f"-ldflags={ldflags}")
    cmd += packages
    with log.open("a") as fh, Progress(label, total) as progress:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=go_env(), stdout=fh, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            fh.write(line)
            if not line.startswith(("#", " ", "\t")) and ":" not in line:
                progress.count += 1
        code = proc.wait()
    if code != 0:
        raise BuildError(f"go build of {label} failed: {_last_error(log)} (full log: {log})")


def _version_ldflags() -> str:
    """What upstream's hack/lib/version.sh stamps, so `kubectl version` and the API server's
    /version say the pinned release instead of v0.0.0-master."""
    major, minor = KUBERNETES.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={KUBERNETES}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def _install(built: Path, target: Path, names: tuple[str, ...], versions: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(built / name, target / name)
    (target / STAMP).write_text(versions + "\n")


def build_kubernetes(go: str, log: Path) -> None:
    target = kube_dir()
    if _complete(target, KUBE_COMMANDS):
        return
    with tempfile.TemporaryDirectory(prefix="build-", dir=cache_root()) as tmp:
        work = Path(tmp)
        published = module_gomod(go, KUBE_MODULE, KUBERNETES, work, log).read_text()
        _check_go_version(go, go_directive(published), f"Kubernetes {KUBERNETES}")
        (work / "go.mod").write_text(kube_gomod(published))
        imports = "\n".join(f'\t_ "{KUBE_MODULE}/cmd/{c}"' for c in KUBE_COMMANDS)
        (work / "tools.go").write_text(
            f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"
        )
        _say(f"kube: resolving modules for Kubernetes {KUBERNETES}")
        _run([go, "mod", "tidy"], work, log, f"go mod tidy for Kubernetes {KUBERNETES}")
        packages = [f"{KUBE_MODULE}/cmd/{c}" for c in KUBE_COMMANDS]
        label = f"Kubernetes {KUBERNETES} ({', '.join(KUBE_COMMANDS)})"
        _go_build(
            go,
            packages,
            f"{work / 'bin'}{os.sep}",
            cwd=work,
            log=log,
            label=label,
            ldflags=_version_ldflags(),
        )
        _install(work / "bin", target, KUBE_COMMANDS, f"{KUBE_MODULE} {KUBERNETES}")


def build_etcd(go: str, log: Path) -> None:
    target = etcd_dir()
    if _complete(target, ("etcd",)):
        return
    with tempfile.TemporaryDirectory(prefix="build-", dir=cache_root()) as tmp:
        work = Path(tmp)
        published = module_gomod(go, ETCD_MODULE, ETCD, work, log).read_text()
        _check_go_version(go, go_directive(published), f"etcd {ETCD}")
        (work / "go.mod").write_text(
            f"module jobwatch.local/etcdbuild\n\ngo {go_directive(published)}\n"
        )
        _say(f"kube: resolving modules for etcd {ETCD}")
        _run([go, "get", f"{ETCD_MODULE}@{ETCD}"], work, log, f"go get etcd {ETCD}")
        _go_build(
            go, [ETCD_MODULE], str(work / "bin" / "etcd"), cwd=work, log=log, label=f"etcd {ETCD}"
        )
        _install(work / "bin", target, ("etcd",), f"{ETCD_MODULE} {ETCD}")


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def build() -> Binaries:
    """Build whatever is missing; returns the binaries. Raises BuildError (one line)."""
    found = binaries()
    if not found.missing():
        return found
    go = find_go()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    log = root / "build.log"
    log.write_text(f"jobwatch control-plane build, Kubernetes {KUBERNETES}, etcd {ETCD}\n")
    _say(f"kube: building the control plane with {go_version(go)} (log: {log})")
    started = time.monotonic()
    build_etcd(go, log)
    build_kubernetes(go, log)
    _say(f"kube: built in {time.monotonic() - started:.0f} s into {root}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobwatch_testbed.kube.build",
        description=(
            f"Build etcd {ETCD}, kube-apiserver, kube-controller-manager and kubectl "
            f"{KUBERNETES} from Go modules into {cache_root()} (once; cached by version)."
        ),
    )
    parser.add_argument(
        "--print-dir", action="store_true", help="print the Kubernetes binary directory and exit"
    )
    parser.add_argument(
        "--optional",
        action="store_true",
        help="a missing Go toolchain is a warning, not an error (developer machines; never CI)",
    )
    args = parser.parse_args(argv)
    if args.print_dir:
        print(kube_dir())
        return 0
    try:
        found = build()
    except BuildError as exc:
        if args.optional and "Go is not installed" in str(exc):
            _say(f"kube: skipped: {exc}; the tests/kube tier will skip")
            return 0
        _say(f"kube: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("kube: build interrupted")
        return 130
    for name, path in found.all().items():
        _say(f"kube: {name:24} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
