"""`--web.config.file` the exporter-toolkit way (issue 11 §8): real TLS and mTLS handshakes
against a CA the test generates; a wrong password, a wrong certificate and plain HTTP are refused;
the certificate is reloaded without a restart; probes can stay open."""

from __future__ import annotations

import asyncio
import base64
import ssl
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import bcrypt
import pytest
import yaml

from jobwatch import webconfig
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.certs import CertificateAuthority
from jobwatch_testbed.sim import JOBS, SimServer
from tests.exporter.informer_helpers import simple_job

pytestmark = pytest.mark.timeout(90)
PASSWORD = "s3cret-scraper"


def _write_config(tmp: Path, client_auth: str = "RequireAndVerifyClientCert") -> Path:
    ca = CertificateAuthority("jobwatch-test-ca")
    ca.write(tmp / "ca.crt")
    ca.issue(tmp / "server", "jobwatch", server=True)
    ca.issue(tmp / "client", "prometheus")
    rogue = CertificateAuthority("rogue-ca")
    rogue.issue(tmp / "rogue", "prometheus")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    config = {
        "tls_server_config": {
            "cert_file": "server.crt",
            "key_file": "server.key",
            "client_auth_type": client_auth,
            "client_ca_file": "ca.crt",
        },
        "basic_auth_users": {"prometheus": hashed},
    }
    path = tmp / "web.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _client(tmp: Path, cert: str | None = "client") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
    if cert is not None:
        context.load_cert_chain(tmp / f"{cert}.crt", tmp / f"{cert}.key")
    return context


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _get(url: str, context: ssl.SSLContext | None, headers: dict[str, str]) -> int:
    connector = aiohttp.TCPConnector(ssl=context if context is not None else False)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, headers=headers) as response,
    ):
        await response.read()
        return response.status


@asynccontextmanager
async def _exporter(tmp: Path, web: Path, **overrides: object) -> AsyncIterator[Exporter]:
    async with SimServer("127.0.0.1", 0) as sim:
        sim.store.create(JOBS, simple_job("ns", "secret-job"))
        config = settings(
            kubeconfig=str(sim.write_kubeconfig(tmp / "kc")),
            listen_address="127.0.0.1:0",
            web_config_file=str(web),
            **overrides,
        )
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            yield exporter


async def test_mtls_and_basic_auth_admit_only_the_right_client(tmp_path: Path) -> None:
    web = _write_config(tmp_path)

    async with _exporter(tmp_path, web) as exporter:
        url = exporter.url
        assert url.startswith("https://")
        good = _client(tmp_path)
        auth = _basic("prometheus", PASSWORD)
        assert await _get(f"{url}/metrics", good, auth) == 200
        assert await _get(f"{url}/", good, auth) == 200
        assert await _get(f"{url}/metrics", good, _basic("prometheus", "wrong")) == 401
        assert await _get(f"{url}/metrics", good, _basic("nobody", PASSWORD)) == 401
        assert await _get(f"{url}/metrics", good, {}) == 401
        # The status page and its JSON are guarded exactly as /metrics is.
        for path in ("/jobs", "/jobs.json", "/static/status.js"):
            assert await _get(f"{url}{path}", good, auth) == 200, path
            assert await _get(f"{url}{path}", good, {}) == 401, path
            assert await _get(f"{url}{path}", _client(tmp_path, cert=None), auth) == 403, path
        # No client certificate: the kubelet's probes work, nothing else does.
        bare = _client(tmp_path, cert=None)
        assert await _get(f"{url}/readyz", bare, {}) == 200
        assert await _get(f"{url}/livez", bare, {}) == 200
        assert await _get(f"{url}/metrics", bare, auth) == 403
        # A certificate from another CA fails the handshake.
        with pytest.raises(aiohttp.ClientError):
            await _get(f"{url}/metrics", _client(tmp_path, cert="rogue"), auth)
        # Plain HTTP on the TLS port gets no answer.
        with pytest.raises(aiohttp.ClientError):
            await _get(url.replace("https://", "http://") + "/metrics", None, auth)
        # TLS 1.1 is refused (minimum 1.2).
        old = _client(tmp_path)
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
            await _get(f"{url}/metrics", old, auth)


async def test_probes_closed_by_config_need_auth_too(tmp_path: Path) -> None:
    web = _write_config(tmp_path, client_auth="NoClientCert")

    async with _exporter(tmp_path, web, web_open_probes=False) as exporter:
        bare = _client(tmp_path, cert=None)
        assert await _get(f"{exporter.url}/readyz", bare, {}) == 401
        auth = _basic("prometheus", PASSWORD)
        assert await _get(f"{exporter.url}/readyz", bare, auth) == 200


async def _served_serial(url: str, tmp: Path) -> int:
    host, port = url.removeprefix("https://").split(":")
    _, writer = await asyncio.open_connection(host, int(port), ssl=_client(tmp))
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    from cryptography import x509

    return int(x509.load_der_x509_certificate(der).serial_number)


async def test_certificate_is_reloaded_without_restart(tmp_path: Path) -> None:
    web = _write_config(tmp_path, client_auth="NoClientCert")

    async with _exporter(tmp_path, web) as exporter:
        first = await _served_serial(exporter.url, tmp_path)
        ca = CertificateAuthority("jobwatch-test-ca-2")  # a renewal under a new CA
        ca.write(tmp_path / "ca.crt")
        ca.issue(tmp_path / "server", "jobwatch", server=True)
        await asyncio.sleep(webconfig.RELOAD_CHECK_SECONDS + 0.2)
        # The next handshake notices the new files and already serves the new certificate
        # (verified against the new CA, which the old certificate would fail).
        second = await _served_serial(exporter.url, tmp_path)
        assert second != first


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"basic_auth_users": {"a": "plaintext"}}, "not a bcrypt hash"),
        ({"tls_server_config": {"cert_file": "x", "key_file": "y"}}, "no such file: x"),
        (
            {
                "tls_server_config": {
                    "cert_file": "s.crt",
                    "key_file": "s.key",
                    "min_version": "TLS11",
                }
            },
            "TLS12 or TLS13",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "s.crt",
                    "key_file": "s.key",
                    "client_auth_type": "RequireAnyClientCert",
                }
            },
            "accepts unverified certificates",
        ),
        (
            {"tls_server_config": {"cert_file": "s.crt", "key_file": "s.key", "ciphers": 1}},
            "ciphers",
        ),
        ({"basic_auth": {}}, "unknown field 'basic_auth'"),
    ],
    ids=["plain-password", "missing-cert", "tls11", "unverified-client", "typo-tls", "typo-top"],
)
def test_bad_web_configs_are_one_line_errors(
    tmp_path: Path, config: dict[str, object], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    CertificateAuthority("ca").issue(tmp_path / "s", "jobwatch", server=True)
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(webconfig.WebConfigError, match=needle):
        webconfig.load(path)
    from jobwatch.cli import main

    assert main(["serve", "--web.config.file", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert needle.split(":", maxsplit=1)[0] in err
