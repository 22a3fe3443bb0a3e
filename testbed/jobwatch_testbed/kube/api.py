"""A small async JSON client for the real API server (aiohttp, the harness's TLS identity).

Only what the scripted kubelet and the scenario driver need: requests that return
`(status, body)`, and LIST+WATCH of a resource with resume and relist on 410 feeding a
callback. Not the exporter's client (that is `jobwatch.cluster`, kubernetes_asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

Obj = dict[str, Any]
OnEvent = Callable[[str, Obj], None]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Api:
    def __init__(self, url: str, ssl_context: ssl.SSLContext) -> None:
        self.url = url
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self.writes: list[tuple[str, str]] = []
        """(method, path) of every request other than GET, in order (tests audit them)."""

    async def __aenter__(self) -> Api:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=32),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Api used outside `async with`")
        return self._session

    async def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else orjson.dumps(body)
        if method != "GET":
            self.writes.append((method, path))
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        async with self.session.request(
            method, self.url + path, data=data, headers=headers, timeout=aiohttp.ClientTimeout(30)
        ) as resp:
            raw = await resp.read()
            return resp.status, (orjson.loads(raw) if raw else None)

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """`call` that raises ApiError on a non-2xx answer."""
        status, payload = await self.call(method, path, body, content_type)
        if status >= 300:
            message = payload.get("message", "") if isinstance(payload, dict) else str(payload)
            raise ApiError(status, f"{method} {path}: {message}")
        return payload

    async def watch(
        self, path: str, on_event: OnEvent, synced: asyncio.Event | None = None
    ) -> None:
        """LIST `path`, then WATCH from its resourceVersion forever; relist on 410 or a broken
        stream. `on_event(type, obj)` gets ADDED for each listed object, then watch events."""
        while True:
            try:
                listed = await self.request("GET", path)
                rv = listed["metadata"]["resourceVersion"]
                kind = listed.get("kind", "List").removesuffix("List")
                for item in listed["items"]:
                    item.setdefault("kind", kind)
                    on_event("ADDED", item)
                if synced is not None:
                    synced.set()
                while True:
                    rv = await self._stream(path, rv, on_event)
            except (TimeoutError, aiohttp.ClientError, ApiError):
                await asyncio.sleep(0.5)

    async def _stream(self, path: str, rv: str, on_event: OnEvent) -> str:
        sep = "&" if "?" in path else "?"
        url = f"{self.url}{path}{sep}watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
        async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            if resp.status != 200:
                raise ApiError(resp.status, f"watch {path}")
            async for line in resp.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    raise ApiError(int(obj.get("code", 500)), obj.get("message", "watch error"))
                rv = obj["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    on_event(event["type"], obj)
        return rv


async def cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
