"""Certificates and keys for a loopback control plane, made with the `openssl` command.

One throwaway CA signs the API server's serving certificate (127.0.0.1, localhost and the
in-cluster names) and the client certificates; the ServiceAccount signing key is separate.
ECDSA P-256 keys throughout: generating them takes milliseconds, RSA would take seconds.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "7"


class CertError(Exception):
    pass


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certs:
    ca: Pair
    apiserver: Pair
    admin: Pair
    controller_manager: Pair
    service_account_key: Path
    service_account_pub: Path


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise CertError("openssl is not installed (apt-get install openssl)")
    proc = subprocess.run([binary, *args], check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CertError(f"openssl {args[0]} failed: {last}")


def _key(path: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )
    path.chmod(0o600)


def _signed(directory: Path, name: str, subject: str, ca: Pair, extensions: str) -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    _key(pair.key)
    csr = directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    ext.write_text(extensions)
    _openssl("req", "-new", "-key", str(pair.key), "-subj", subject, "-out", str(csr))
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", DAYS, "-sha256", "-extfile", str(ext), "-out", str(pair.cert),
    )  # fmt: skip
    csr.unlink()
    ext.unlink()
    return pair


CLIENT = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
SERVER = (
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
    "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
)


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca = Pair(directory / "ca.crt", directory / "ca.key")
    _key(ca.key)
    _openssl(
        "req", "-x509", "-new", "-key", str(ca.key), "-subj", "/CN=jobwatch-test-ca",
        "-days", DAYS, "-sha256", "-out", str(ca.cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )  # fmt: skip
    apiserver = _signed(directory, "apiserver", "/CN=kube-apiserver", ca, SERVER)
    admin = _signed(directory, "admin", "/O=system:masters/CN=jobwatch-admin", ca, CLIENT)
    kcm = _signed(directory, "controller-manager", "/CN=system:kube-controller-manager", ca, CLIENT)
    sa_key, sa_pub = directory / "sa.key", directory / "sa.pub"
    _key(sa_key)
    _openssl("pkey", "-in", str(sa_key), "-pubout", "-out", str(sa_pub))
    return Certs(ca, apiserver, admin, kcm, sa_key, sa_pub)
