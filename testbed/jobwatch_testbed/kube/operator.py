"""prometheus-operator from its pinned Go module: the binary, its CRDs, and a run against the
real control plane that hands back the Prometheus configuration it generates.

    python -m jobwatch_testbed.kube.operator     # build it once (`make kube` does), cached

Standard library only, like the control plane's build.

The build is `make kube`'s (`jobwatch_testbed.kube.build`): a throwaway module requires
`github.com/prometheus-operator/prometheus-operator` at the version pinned in `versions.py`, the
machine's Go builds `cmd/operator` (`GOTOOLCHAIN=local`), and the binary lands in
`~/.cache/jobwatch/kube/prometheus-operator-<version>/`. The CRDs are the module's own
`example/prometheus-operator-crd/` YAMLs, read from the Go module cache.

`Operator` runs the binary against a `ControlPlane` (admin client certificate, metrics on
loopback) limited to one namespace. `generated_config()` waits for the Secret
`prometheus-<name>` the operator writes for a Prometheus object and returns the Prometheus
configuration in it; `generated_rules()` the rule files of its `-rulefiles-N` ConfigMaps.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # the build is stdlib-only (`make kube` runs before the venv exists)
    from jobwatch_testbed.kube.controlplane import ControlPlane

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


def install_crds(cp: ControlPlane) -> None:
    """Apply the pinned CRDs (server-side: they are too big for the last-applied annotation)."""
    cp.kubectl("apply", "--server-side", "-f", str(crd_dir()))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")


class Operator:
    """The operator watching `namespace` of `cp`; stopped by PID on exit."""

    def __init__(self, cp: ControlPlane, namespace: str, directory: Path) -> None:
        from jobwatch_testbed.kube.controlplane import Process, free_port

        self.cp, self.namespace = cp, namespace
        c = cp.certs
        argv = [
            str(operator_binary()),
            f"--apiserver={cp.url}",
            f"--cert-file={c.admin.cert}",
            f"--key-file={c.admin.key}",
            f"--ca-file={c.ca.cert}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
            f"--namespaces={namespace}",
            "--log-level=warn",
        ]
        self.process = Process("prometheus-operator", argv, directory / "prometheus-operator.log")

    def __enter__(self) -> Operator:
        self.process.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.process.stop()

    def _wait(self, what: str, ready: Any, timeout: float = 60.0) -> Any:
        from jobwatch_testbed.kube.controlplane import ControlPlaneError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise ControlPlaneError(f"prometheus-operator exited: {self.process.last_line()}")
            found = ready()
            if found:
                return found
            time.sleep(0.5)
        raise ControlPlaneError(f"prometheus-operator wrote no {what} in {timeout:.0f} s")

    def generated_config(self, prometheus: str) -> str:
        """The Prometheus configuration the operator generated for Prometheus `prometheus`."""
        path = f"/api/v1/namespaces/{self.namespace}/secrets"

        def config() -> str | None:
            for secret in self.cp.request("GET", path)["items"]:
                data = secret.get("data") or {}
                if secret["metadata"]["name"] == f"prometheus-{prometheus}" and data.get(
                    "prometheus.yaml.gz"
                ):
                    return gzip.decompress(base64.b64decode(data["prometheus.yaml.gz"])).decode()
            return None

        text: str = self._wait(f"Secret prometheus-{prometheus}", config)
        return text

    def generated_rules(self, prometheus: str) -> dict[str, str]:
        """File name → rule file, from the operator's `prometheus-<name>-rulefiles-N` ConfigMaps."""
        path = f"/api/v1/namespaces/{self.namespace}/configmaps"
        prefix = f"prometheus-{prometheus}-rulefiles-"

        def rules() -> dict[str, str]:
            out: dict[str, str] = {}
            for cm in self.cp.request("GET", path)["items"]:
                if cm["metadata"]["name"].startswith(prefix):
                    out.update(cm.get("data") or {})
            return out

        found: dict[str, str] = self._wait(f"ConfigMap {prefix}0", rules)
        return found


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
