"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

    with ControlPlane() as cp:               # or cp = ControlPlane(); cp.start(); ...; cp.stop()
        cp.kubeconfig                        # admin kubeconfig (system:masters, certs embedded)
        cp.url                               # https://127.0.0.1:PORT
        cp.request("GET", "/api/v1/namespaces")          # admin JSON call (urllib)
        cp.restart_apiserver(); cp.restart_etcd()        # same data, same ports

* etcd: loopback client and peer ports, its own data dir, `--unsafe-no-fsync` (tests only).
* kube-apiserver: loopback secure port with certificates from a throwaway CA (`certs.py`),
  `--authorization-mode=Node,RBAC`, ServiceAccount tokens (issuer, signing key), the PodSecurity
  admission plugin on, no endpoint reconciler (its address is loopback).
* kube-controller-manager: the controllers in `CONTROLLERS` (job, cronjob, deployment,
  replicaset, garbage collector, ServiceAccount and token, podgc, namespace…), each with its own
  ServiceAccount credentials so RBAC applies to them too. No node-lifecycle controller: nothing
  taints or evicts pods on the scripted kubelet's Node, so the Node needs no lease.

There is no scheduler and no kubelet: `jobwatch_testbed.kube.kubelet` binds pods to its Node
(`NODE`, registered at start-up) and writes their status through the API. `start()` waits for /readyz and for the controllers to work (the
`default` ServiceAccount exists); `stop()` stops by PID everything it started and removes its
directory, also when start-up failed half way. Errors are `ControlPlaneError`, one line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from jobwatch_testbed.kube.api import Api
from jobwatch_testbed.kube.build import Binaries, binaries
from jobwatch_testbed.kube.certs import CertError, Certs, Pair, make_certs
from jobwatch_testbed.kube.kubelet import register_node

CONTROLLERS = (
    "job-controller",
    "cronjob-controller",
    "deployment-controller",
    "replicaset-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "pod-garbage-collector-controller",
    "namespace-controller",
    "ttl-after-finished-controller",
    "root-ca-certificate-publisher-controller",
)
ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CIDR = "10.96.0.0/16"
STOP_GRACE = 3.0
"""Seconds a component gets after SIGTERM before SIGKILL (etcd runs --unsafe-no-fsync, so a
killed etcd loses nothing the OS page cache holds; its data dir survives a restart)."""


class ControlPlaneError(RuntimeError):
    """Start-up or request failure, one line (the component's log is named)."""


@dataclass
class Options:
    """How the control plane runs. Defaults fit the test suite."""

    etcd_compaction_interval: str | None = None
    """kube-apiserver `--etcd-compaction-interval` (default 5m); e.g. "2s" for 410 tests."""
    watch_cache: bool = True
    """False: `--watch-cache=false`, every watch is served from etcd (410 after compaction)."""
    apiserver_args: list[str] = field(default_factory=list)
    controller_manager_args: list[str] = field(default_factory=list)
    controllers: tuple[str, ...] = CONTROLLERS
    start_timeout: float = 90.0
    verbosity: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig_text(server: str, ca: Path, user: str, client: Pair) -> str:
    """A kubeconfig with the certificates embedded (works from any directory)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "jobwatch-kube",
                    "cluster": {"server": server, "certificate-authority-data": _b64(ca)},
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": _b64(client.cert),
                        "client-key-data": _b64(client.key),
                    },
                }
            ],
            "contexts": [
                {"name": "jobwatch-kube", "context": {"cluster": "jobwatch-kube", "user": user}}
            ],
            "current-context": "jobwatch-kube",
        },
        indent=2,
    )


class Process:
    """One component: command line, log file, PID. Restartable with the same arguments."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.argv, self.log = name, argv, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                self.argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def last_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[-1][-300:]
        return "no output"

    def stop(self, grace: float = STOP_GRACE) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class ControlPlane:
    def __init__(self, options: Options | None = None, bins: Binaries | None = None) -> None:
        self.options = options or Options()
        self.bins = bins or binaries()
        self.root: Path | None = None
        self.processes: dict[str, Process] = {}
        self.port = 0
        self.startup_seconds = 0.0
        self._ssl: ssl.SSLContext | None = None
        self._certs: Certs | None = None

    # ------------------------------------------------------------------ paths
    @property
    def dir(self) -> Path:
        if self.root is None:
            raise ControlPlaneError("the control plane is not started")
        return self.root

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def certs(self) -> Certs:
        if self._certs is None:
            raise ControlPlaneError("the control plane is not started")
        return self._certs

    def ssl_context(self, client: Pair | None = None) -> ssl.SSLContext:
        """Trusts the test CA; presents the admin certificate (or `client`)."""
        ctx = ssl.create_default_context(cafile=str(self.certs.ca.cert))
        pair = client or self.certs.admin
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
        return ctx

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        missing = self.bins.missing()
        if missing:
            raise ControlPlaneError(f"missing {', '.join(missing)}: run `make kube`")
        started = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="jobwatch-kube-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _start(self) -> None:
        root = self.dir
        (root / "logs").mkdir()
        try:
            self._certs = make_certs(root / "pki")
        except CertError as exc:
            raise ControlPlaneError(str(exc)) from None
        self._ssl = self.ssl_context()
        self.port = free_port()
        self.kubeconfig.write_text(
            kubeconfig_text(self.url, self.certs.ca.cert, "jobwatch-admin", self.certs.admin)
        )
        kcm_config = root / "controller-manager.kubeconfig"
        kcm_config.write_text(
            kubeconfig_text(
                self.url,
                self.certs.ca.cert,
                "kube-controller-manager",
                self.certs.controller_manager,
            )
        )
        self._add_etcd()
        self._add_apiserver()
        self._add_controller_manager(kcm_config)
        self.processes["etcd"].start()
        self._wait_etcd()
        self.processes["kube-apiserver"].start()
        self.wait_ready()
        self.processes["kube-controller-manager"].start()
        self._wait_controllers()
        asyncio.run(self._register_node())

    async def _register_node(self) -> None:
        """The scripted kubelet's Node exists from the start, so the pod GC never takes a pod
        bound to it for an orphan (it fails and deletes pods whose Node is missing)."""
        async with Api(self.url, self.ssl_context()) as api:
            await register_node(api)

    def _add_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        argv = [
            str(self.bins.etcd),
            "--name=jobwatch",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=jobwatch={peer_url}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        self.processes["etcd"] = Process("etcd", argv, self.dir / "logs" / "etcd.log")

    def _add_apiserver(self) -> None:
        c, o = self.certs, self.options
        argv = [
            str(self.bins.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={self.dir / 'apiserver-certs'}",
            f"--tls-cert-file={c.apiserver.cert}",
            f"--tls-private-key-file={c.apiserver.key}",
            f"--client-ca-file={c.ca.cert}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=PodSecurity,ServiceAccount,NamespaceLifecycle",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={c.service_account_pub}",
            f"--service-account-signing-key-file={c.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
            f"--v={o.verbosity}",
        ]
        if o.etcd_compaction_interval is not None:
            argv.append(f"--etcd-compaction-interval={o.etcd_compaction_interval}")
        if not o.watch_cache:
            argv.append("--watch-cache=false")
        argv += o.apiserver_args
        log = self.dir / "logs" / "kube-apiserver.log"
        self.processes["kube-apiserver"] = Process("kube-apiserver", argv, log)

    def _add_controller_manager(self, kubeconfig: Path) -> None:
        c, o = self.certs, self.options
        argv = [
            str(self.bins.kube_controller_manager),
            f"--kubeconfig={kubeconfig}",
            f"--controllers={','.join(o.controllers)}",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={c.service_account_key}",
            f"--root-ca-file={c.ca.cert}",
            "--leader-elect=false",
            "--secure-port=0",
            f"--v={o.verbosity}",
            *o.controller_manager_args,
        ]
        log = self.dir / "logs" / "kube-controller-manager.log"
        self.processes["kube-controller-manager"] = Process("kube-controller-manager", argv, log)

    def stop(self) -> None:
        """Stop every component this object started (by PID), then remove its directory."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            if name in self.processes:
                self.processes[name].stop()
        self.processes.clear()
        if self.root is not None and not os.environ.get("JOBWATCH_KUBE_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port, etcd and certificates."""
        api = self.processes["kube-apiserver"]
        api.stop()
        api.start()
        self.wait_ready()

    def restart_etcd(self, down_seconds: float = 0.0) -> None:
        """Stop etcd, optionally stay down, start it on the same data dir and ports; returns
        once the API server is ready again."""
        etcd = self.processes["etcd"]
        etcd.stop()
        time.sleep(down_seconds)
        etcd.start()
        self._wait_etcd()
        self.wait_ready()

    # ------------------------------------------------------------------ waiting
    def _deadline(self) -> float:
        return time.monotonic() + self.options.start_timeout

    def _check_alive(self, name: str) -> None:
        proc = self.processes[name]
        if not proc.alive():
            raise ControlPlaneError(f"{name} exited: {proc.last_line()} (log: {proc.log})")

    def _wait_etcd(self) -> None:
        deadline = self._deadline()
        while time.monotonic() < deadline:
            self._check_alive("etcd")
            with (
                contextlib.suppress(OSError, ValueError),
                urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp,
            ):
                if json.loads(resp.read()).get("health") == "true":
                    return
            time.sleep(0.1)
        raise ControlPlaneError(f"etcd not healthy after {self.options.start_timeout:.0f} s")

    def wait_ready(self) -> None:
        """Until kube-apiserver's /readyz says ok."""
        deadline = self._deadline()
        last = ""
        while time.monotonic() < deadline:
            self._check_alive("kube-apiserver")
            try:
                status, body = self._raw("GET", "/readyz", None, timeout=3)
                if status == 200:
                    return
                last = body.decode(errors="replace").strip().splitlines()[-1:][0] if body else ""
            except (OSError, ssl.SSLError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise ControlPlaneError(f"kube-apiserver not ready: {last}")

    def _wait_controllers(self) -> None:
        """The controllers run once the ServiceAccount controller made `default/default`."""
        deadline = self._deadline()
        while time.monotonic() < deadline:
            self._check_alive("kube-controller-manager")
            status, _ = self._raw("GET", "/api/v1/namespaces/default/serviceaccounts/default", None)
            if status == 200:
                return
            time.sleep(0.2)
        proc = self.processes["kube-controller-manager"]
        raise ControlPlaneError(f"controllers not running: {proc.last_line()} (log: {proc.log})")

    # ------------------------------------------------------------------ requests
    def _raw(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        timeout: float = 10,
        content_type: str = "",
        token: str | None = None,
    ) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type or "application/json")
        req.add_header("Accept", "application/json")
        context = self._ssl
        if token is not None:  # as that identity only: no client certificate
            context = ssl.create_default_context(cafile=str(self.certs.ca.cert))
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "",
        token: str | None = None,
    ) -> Any:
        """An API call as admin (or as the bearer `token`); returns the decoded JSON. A non-2xx
        answer raises ControlPlaneError with the server's message."""
        status, raw = self._raw(method, path, body, content_type=content_type, token=token)
        payload = json.loads(raw) if raw else None
        if status >= 300:
            message = (
                payload.get("message", "")
                if isinstance(payload, dict)
                else raw[:200].decode(errors="replace")
            )
            raise ControlPlaneError(f"{method} {path}: HTTP {status}: {message}")
        return payload

    def kubectl(self, *args: str, check: bool = True) -> str:
        """Run the pinned kubectl against this control plane; returns stdout."""
        proc = subprocess.run(
            [str(self.bins.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if check and proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ControlPlaneError(f"kubectl {' '.join(args)}: {err}")
        return proc.stdout

    def pids(self) -> dict[str, int]:
        return {n: p.pid for n, p in self.processes.items() if p.pid is not None and p.alive()}
