"""The HTTP layer over real sockets: content negotiation, gzip, probes, landing page."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from jobwatch import __version__, server
from jobwatch.body import Exposition, Segment, combined_crc

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Source:
    """Stands in for ExporterState: a fixed body per format and settable probe inputs."""

    ready: bool = False
    last_heartbeat: float | None = None
    renders: list[bool] = field(default_factory=list)

    def pending(self) -> list[str]:
        return [] if self.ready else ["jobs/*"]

    def unavailable_resources(self) -> list[str]:
        return ["cronjobs/*: forbidden"]

    def latest(self, openmetrics: bool) -> Exposition:
        self.renders.append(openmetrics)
        if openmetrics:
            return Exposition.of(b"# EOF\n")
        segments = tuple(Segment.of(b"x 1\n" * 100) for _ in range(9))
        return Exposition(segments, *combined_crc(segments), b"x 1\n" * 100)


Check = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


async def _serve(source: Source, check: Check, now: float = 1000.0) -> None:
    app = server.build_app(source, source, livez_max_silence=60, clock=lambda: now)
    runner, port = await server.start(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            await check(session, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


async def test_metrics_default_to_text_format() -> None:
    async def check(s: aiohttp.ClientSession, url: str) -> None:
        async with s.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == TEXT
            assert (await r.read()).startswith(b"x 1\n")

    await _serve(Source(), check)


async def test_openmetrics_when_prometheus_asks_for_it() -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    async def check(s: aiohttp.ClientSession, url: str) -> None:
        headers = {"Accept": accept, "Accept-Encoding": "identity"}
        async with s.get(f"{url}/metrics", headers=headers) as r:
            assert r.headers["Content-Type"] == OPENMETRICS
            assert await r.read() == b"# EOF\n"

    await _serve(Source(), check)


async def test_gzip_when_accepted_and_shared_by_concurrent_scrapes() -> None:
    async def check(s: aiohttp.ClientSession, url: str) -> None:
        async def scrape() -> bytes:
            async with s.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                return await r.read()

        bodies = await asyncio.gather(*(scrape() for _ in range(5)))
        assert all(gzip.decompress(b) == b"x 1\n" * 1000 for b in bodies)
        assert len(bodies[0]) < 1000  # compressed

    await _serve(Source(), check)


@dataclass
class BigSource(Source):
    """A body far larger than the transport's default write buffer (and than WRITE_BUFFER)."""

    def latest(self, openmetrics: bool) -> Exposition:
        segments = tuple(
            Segment.of(b"".join(b'x_%d{i="%d"} %d\n' % (s, i, i * s) for i in range(40_000)))
            for s in range(12)
        )
        return Exposition(segments, *combined_crc(segments), b"# tail\n")


async def test_a_body_bigger_than_the_write_buffers_arrives_whole_raw_and_gzipped() -> None:
    source = BigSource()
    expected = source.latest(False).joined()
    assert len(expected) > 2 * server.WRITE_BUFFER

    async def check(s: aiohttp.ClientSession, url: str) -> None:
        plain = {"Accept-Encoding": "identity"}
        async with s.get(f"{url}/metrics", headers=plain) as r:
            assert await r.read() == expected
        async with s.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}) as r:
            assert gzip.decompress(await r.read()) == expected
        async with s.get(f"{url}/metrics", headers=plain) as r:  # the same connection again
            assert await r.read() == expected

    await _serve(source, check)


async def test_readyz_is_503_until_synced_then_200() -> None:
    source = Source()

    async def check(s: aiohttp.ClientSession, url: str) -> None:
        async with s.get(f"{url}/readyz") as r:
            assert r.status == 503
            assert "jobs/*" in await r.text()  # what it still waits for
        source.ready = True
        async with s.get(f"{url}/readyz") as r:
            assert r.status == 200
            assert "unavailable: cronjobs/*: forbidden" in await r.text()

    await _serve(source, check)


async def test_livez_fails_once_the_api_server_is_silent_too_long() -> None:
    source = Source(last_heartbeat=990.0)

    async def check(s: aiohttp.ClientSession, url: str) -> None:
        async with s.get(f"{url}/livez") as r:
            assert r.status == 200
        source.last_heartbeat = 900.0  # 100 s of silence, bound 60 s
        async with s.get(f"{url}/livez") as r:
            assert r.status == 503
            assert "100s" in await r.text()

    await _serve(source, check)


async def test_healthz_and_landing_page() -> None:
    async def check(s: aiohttp.ClientSession, url: str) -> None:
        async with s.get(f"{url}/healthz") as r:
            assert r.status == 200
        async with s.get(f"{url}/") as r:
            page = await r.text()
            assert r.content_type == "text/html"
            assert __version__ in page
            assert 'href="/metrics"' in page
        async with s.get(f"{url}/nothing") as r:
            assert r.status == 404

    await _serve(Source(), check)
