"""A loopback TCP proxy that can cut, refuse and black-hole connections (fault tests).

    async with TCPProxy("127.0.0.1", upstream_port) as proxy:
        proxy.port                 # point the client here
        proxy.cut()                # close every open connection (a network blip, a LB restart)
        proxy.refuse()             # new connections are closed at once until `restore()`
        proxy.blackhole()          # open connections stay open but carry nothing
        proxy.restore()

It forwards bytes only, so TLS passes through untouched: the client still verifies the real
server's certificate (which must name 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class TCPProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._refusing = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.port = 0
        self.connections = 0

    async def __aenter__(self) -> TCPProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> int:
        """Close every open connection; returns how many sockets were closed."""
        writers, self._writers = self._writers, set()
        for writer in writers:
            writer.close()
        return len(writers)

    def refuse(self) -> None:
        self._refusing = True
        self.cut()

    def blackhole(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        self._refusing = False
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                await self._flowing.wait()
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
