"""prometheus-operator from its pinned Go module: the binary and its CRDs.

    python -m jobwatch_testbed.kube.operator     # build it once (`make kube` does), cached

Standard library only, like the control plane's build.

The build is `make kube`'s (`jobwatch_testbed.kube.build`): a throwaway module requires
`github.com/prometheus-operator/prometheus-operator` at the version pinned in `versions.py`, the
machine's Go builds `cmd/operator` (`GOTOOLCHAIN=local`), and the binary lands in
`~/.cache/jobwatch/kube/prometheus-operator-<version>/`. The CRDs are the module's own
`example/prometheus-operator-crd/` YAMLs, read from the Go module cache.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from jobwatch_testbed.kube.build import (
    BuildError,
    _complete,
    _go_build,
    _install,
    _run,
    _say,
    cache_root,
    find_go,
    go_directive,
    module_gomod,
)
from jobwatch_testbed.kube.versions import PROMETHEUS_OPERATOR

MODULE = "github.com/prometheus-operator/prometheus-operator"
COMMAND = f"{MODULE}/cmd/operator"


def operator_dir() -> Path:
    return cache_root() / f"prometheus-operator-{PROMETHEUS_OPERATOR}"


def operator_binary() -> Path:
    return operator_dir() / "operator"


def build() -> Path:
    """Build the pinned operator unless it is cached; returns the binary. BuildError: one line."""
    target = operator_dir()
    if _complete(target, ("operator",)):
        return operator_binary()
    go = find_go()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    log = root / "prometheus-operator-build.log"
    log.write_text(f"jobwatch prometheus-operator build, {PROMETHEUS_OPERATOR}\n")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="build-", dir=root) as tmp:
        work = Path(tmp)
        published = module_gomod(go, MODULE, PROMETHEUS_OPERATOR, work, log).read_text()
        (work / "go.mod").write_text(
            f"module jobwatch.local/operatorbuild\n\ngo {go_directive(published)}\n"
        )
        _say(f"kube: resolving modules for prometheus-operator {PROMETHEUS_OPERATOR}")
        _run(
            [go, "get", f"{MODULE}@{PROMETHEUS_OPERATOR}"], work, log, "go get prometheus-operator"
        )
        label = f"prometheus-operator {PROMETHEUS_OPERATOR}"
        _go_build(go, [COMMAND], str(work / "bin" / "operator"), cwd=work, log=log, label=label)
        _install(work / "bin", target, ("operator",), f"{MODULE} {PROMETHEUS_OPERATOR}")
    _say(f"kube: built prometheus-operator in {time.monotonic() - started:.0f} s into {target}")
    return operator_binary()


def crd_dir() -> Path:
    """The module's example/prometheus-operator-crd/ in the Go module cache (downloaded once)."""
    go = find_go()
    with tempfile.TemporaryDirectory(prefix="jobwatch-crds-") as tmp:
        log = Path(tmp) / "download.log"
        out = _run(
            [go, "mod", "download", "-json", f"{MODULE}@{PROMETHEUS_OPERATOR}"],
            Path(tmp),
            log,
            f"downloading {MODULE}@{PROMETHEUS_OPERATOR}",
        )
    directory = Path(json.loads(out)["Dir"]) / "example" / "prometheus-operator-crd"
    if not any(directory.glob("monitoring.coreos.com_*.yaml")):
        raise BuildError(f"no CRDs in {directory}")
    return directory


def main() -> int:
    """`make kube`: build the operator (a missing Go is a warning with --optional, as there)."""
    optional = "--optional" in sys.argv[1:]
    try:
        _say(f"kube: prometheus-operator {build()}")
    except BuildError as exc:
        if optional and "Go is not installed" in str(exc):
            _say(f"kube: skipped: {exc}")
            return 0
        _say(f"kube: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("kube: build interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
