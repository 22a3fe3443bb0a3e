"""`--web.config.file`: TLS, client certificates and basic auth in Prometheus exporter-toolkit's
format (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md):

    tls_server_config:
      cert_file: /etc/jobwatch/tls/tls.crt
      key_file: /etc/jobwatch/tls/tls.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
      client_ca_file: /etc/jobwatch/tls/ca.crt
      min_version: TLS12                             # TLS12 (default) or TLS13; never lower
    basic_auth_users:
      prometheus: $2b$12$...                         # bcrypt hashes only

What jobwatch does with it:
- TLS 1.2 at least. The certificate, key and client CA are re-read when their files change
  (checked at most once a second, at a handshake), so a cert-manager renewal needs no restart.
- Client certificates are verified against `client_ca_file`. With `--web.open-probes` (the
  default) the handshake accepts clients without a certificate, and every path except the probes
  then answers 403: the kubelet presents none and its probes keep working.
- Basic auth compares bcrypt hashes (in a worker thread, constant time: an unknown user costs a
  bcrypt check against a dummy hash too); a wrong or missing password is 401.
- It applies to every path the server has (metrics, landing page, status page and its JSON);
  only /healthz, /readyz and /livez can be left open.
- `RequestClientCert` and `RequireAnyClientCert` accept unverified certificates; Python's TLS
  cannot, so they are refused at start rather than silently verified or ignored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml
from aiohttp import web

PROBES = frozenset({"/healthz", "/readyz", "/livez"})
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_DUMMY_HASH = bcrypt.hashpw(b"jobwatch: no such user", bcrypt.gensalt(rounds=10))
_CACHE_SIZE = 256  # successful (user, password) checks remembered, so scrapes skip bcrypt
RELOAD_CHECK_SECONDS = 1.0


class WebConfigError(ValueError):
    """The web config file cannot be used; `str()` is one line."""


@dataclass(frozen=True, slots=True)
class TLSConfig:
    cert_file: Path
    key_file: Path
    client_auth_type: str
    client_ca_file: Path | None
    min_version: ssl.TLSVersion


@dataclass(frozen=True, slots=True)
class WebConfig:
    """A parsed web config; `tls` None serves plain HTTP, `users` empty means no basic auth."""

    tls: TLSConfig | None = None
    users: dict[str, bytes] = field(default_factory=dict)

    @property
    def client_certs(self) -> bool:
        return self.tls is not None and self.tls.client_auth_type == "RequireAndVerifyClientCert"


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{where} must be a mapping")
    return value


def _file(base: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise WebConfigError(f"tls_server_config.{key} is required")
    path = (base / value).resolve()
    if not path.is_file():
        raise WebConfigError(f"tls_server_config.{key}: no such file: {value}")
    return path


def _tls(raw: dict[str, Any], base: Path) -> TLSConfig | None:
    if not raw:
        return None
    known = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version"}
    known |= {"max_version", "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"}
    if unknown := sorted(set(raw) - known):
        raise WebConfigError(f"tls_server_config: unknown field {unknown[0]!r}")
    auth = raw.get("client_auth_type") or "NoClientCert"
    if auth in UNSUPPORTED_CLIENT_AUTH:
        raise WebConfigError(
            f"client_auth_type {auth} accepts unverified certificates; use "
            "RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file"
        )
    if auth not in CLIENT_AUTH:
        raise WebConfigError(f"client_auth_type {auth!r} is not one of {', '.join(CLIENT_AUTH)}")
    version = raw.get("min_version") or "TLS12"
    if version not in VERSIONS:
        raise WebConfigError(f"min_version {version!r}: TLS12 or TLS13 (nothing older)")
    ca = raw.get("client_ca_file")
    if auth != "NoClientCert" and not ca:
        raise WebConfigError(f"client_auth_type {auth} needs client_ca_file")
    return TLSConfig(
        cert_file=_file(base, raw.get("cert_file"), "cert_file"),
        key_file=_file(base, raw.get("key_file"), "key_file"),
        client_auth_type=auth,
        client_ca_file=_file(base, ca, "client_ca_file") if ca else None,
        min_version=VERSIONS[version],
    )


def _users(raw: dict[str, Any]) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for user, hashed in raw.items():
        if not isinstance(user, str) or not isinstance(hashed, str):
            raise WebConfigError("basic_auth_users maps user names to bcrypt hashes")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
            raise WebConfigError(f"basic_auth_users.{user}: not a bcrypt hash (htpasswd -nB)")
        users[user] = hashed.encode()
    return users


def load(path: str | os.PathLike[str]) -> WebConfig:
    """Parse and check the file; raises WebConfigError with one line."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as error:
        first = " ".join(str(error).split())[:200]
        raise WebConfigError(f"web config {path}: {first or type(error).__name__}") from None
    raw = _mapping(data, "the web config")
    if unknown := sorted(
        set(raw) - {"tls_server_config", "http_server_config", "basic_auth_users"}
    ):
        raise WebConfigError(f"web config {path}: unknown field {unknown[0]!r}")
    try:
        config = WebConfig(
            tls=_tls(_mapping(raw.get("tls_server_config"), "tls_server_config"), file.parent),
            users=_users(_mapping(raw.get("basic_auth_users"), "basic_auth_users")),
        )
    except WebConfigError as error:
        raise WebConfigError(f"web config {path}: {error}") from None
    if config.tls is not None:
        TLSReloader(config.tls, open_probes=False).context()  # fail at start, not at a handshake
    return config


class TLSReloader:
    """The server's SSLContext. Each handshake (its SNI callback, called with or without SNI)
    swaps in a fresh context when the certificate, key or CA file changed on disk."""

    def __init__(self, tls: TLSConfig, *, open_probes: bool) -> None:
        self._tls, self._open_probes = tls, open_probes
        self._stamp = self._stamps()
        self._checked = time.monotonic()
        self._current = self._build()
        self._outer = self._build()
        self._outer.sni_callback = self._on_handshake

    def context(self) -> ssl.SSLContext:
        """The context to serve with (its callback hands out the newest certificate)."""
        return self._outer

    def _files(self) -> list[Path]:
        files = [self._tls.cert_file, self._tls.key_file]
        return files + ([self._tls.client_ca_file] if self._tls.client_ca_file else [])

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self._files():
            try:
                stat = path.stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    def _build(self) -> ssl.SSLContext:
        tls = self._tls
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = tls.min_version
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
            if tls.client_ca_file is not None:
                context.load_verify_locations(tls.client_ca_file)
        except (ssl.SSLError, OSError) as error:
            raise WebConfigError(f"tls_server_config: cannot load: {error}") from None
        mode = CLIENT_AUTH[tls.client_auth_type]
        if mode == ssl.CERT_REQUIRED and self._open_probes:
            mode = ssl.CERT_OPTIONAL  # probes need none; `middleware` demands one elsewhere
        context.verify_mode = mode
        return context

    def _on_handshake(self, sock: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            stamp = self._stamps()
            if stamp != self._stamp:
                try:
                    self._current = self._build()
                    self._stamp = stamp
                except WebConfigError:
                    pass  # half-written files: keep serving the old certificate, retry later
        sock.context = self._current


class BasicAuth:
    """bcrypt checks off the event loop; successes cached by a keyed digest of the credentials."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self._users = users
        self._key = os.urandom(32)
        self._ok: OrderedDict[bytes, None] = OrderedDict()

    async def check(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        hashed = self._users.get(user)
        digest = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if hashed is not None and digest in self._ok:
            self._ok.move_to_end(digest)
            return True
        ok = await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed or _DUMMY_HASH)
        if ok and hashed is not None:
            self._ok[digest] = None
            if len(self._ok) > _CACHE_SIZE:
                self._ok.popitem(last=False)
            return True
        return False


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middleware(config: WebConfig, *, open_probes: bool) -> Callable[..., Any]:
    """aiohttp middleware: client certificate and basic auth on every path but open probes."""
    auth = BasicAuth(config.users) if config.users else None

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if open_probes and request.path in PROBES:
            return await handler(request)
        if config.client_certs:
            transport = request.transport
            peer = transport.get_extra_info("peercert") if transport is not None else None
            if not peer:
                return web.Response(status=403, text="a client certificate is required\n")
        if auth is not None and not await auth.check(request.headers.get("Authorization", "")):
            return web.Response(
                status=401,
                text="unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="jobwatch"'},
            )
        return await handler(request)

    return guard
