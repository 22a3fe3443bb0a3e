"""One informer: list, then watch from the resourceVersion, relist only on 410 (principle 3).

This is kopf's way (and client-go's reflector): a paged LIST (`limit`, following `continue`)
gives a consistent snapshot and its resourceVersion; each page goes to the sink as it arrives
(`list_page`, so the whole LIST is never held) and `list_done` completes Replace semantics, so objects deleted while we were away disappear (principle 5). Then a WATCH from that
resourceVersion with `allowWatchBookmarks=true` streams changes; bookmarks move the remembered
resourceVersion forward without an object. When a watch ends (the server's `timeoutSeconds`, a
dropped connection, a read timeout on a black-holed stream) the informer resumes from the last
resourceVersion it saw, without a relist. Only 410 Gone (an `ERROR` event with code 410, a 410
status, or an expired `continue` token) makes it LIST again from scratch.

The hot path never builds kubernetes_asyncio model objects (principle 3): requests go through
`ApiClient.call_api(..., _preload_content=False)`, which hands back the raw aiohttp response.
For a sink that `takes_records`, Job and Pod lines and pages are decoded straight from the bytes
into slim records (`jobwatch.decode`, typed msgspec structs); a line or item that decoder
rejects, every other resource, and sinks that want dicts take the dict path: orjson, plain
dicts, the same checks as always.

Failures (connection errors, 5xx) are retried with exponential backoff and full jitter, reset
only after progress (an object event or a bookmark); a 429 waits for its `Retry-After`. Health is
reported honestly (issue 11): an ERROR event is neither a heartbeat nor progress, a watch that
closes at once without an event counts as an error and backs off, malformed lines are counted as
parse errors and skipped, and every repeated log line is rate-limited to one per backoff window.
A 401/403 (RBAC) or 400/404/422 (a bad selector, an unserved resource) is reported as the
resource's problem, so readiness can mean "serving truthful data for what it is allowed to see".

Every `relist_period` (jittered) the informer lists again although nothing expired, compares the
snapshot with the store (`Sink.replace` returns the differences) and reports any drift: a watch
that resumed into another server's history (a restored etcd with a higher resourceVersion) is
healed within one period instead of never.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import aiohttp
import orjson
from kubernetes_asyncio.client import ApiClient

from jobwatch import decode
from jobwatch.cluster.backoff import Backoff
from jobwatch.logs import RateLimited
from jobwatch.model import Job, Pod
from jobwatch.sink import Object, Problem, Raw, Resource, Result, Sink, Telemetry, Verb

log = logging.getLogger("jobwatch.cluster")

API_PATHS: dict[Resource, str] = {
    "jobs": "/apis/batch/v1",
    "pods": "/api/v1",
    "cronjobs": "/apis/batch/v1",
}
APPLIED_EVENTS = frozenset({"ADDED", "MODIFIED", "DELETED"})
WATCH_EVENTS = APPLIED_EVENTS | {"BOOKMARK", "ERROR"}
CONNECT_TIMEOUT = 10.0
DEFAULT_RETRY_AFTER = 1.0
_SHOWN = 200  # bytes of a bad line or error body that go into a log message
YIELD_SECONDS = 0.002  # watch lines are handled for about this long between yields
RELIST_JITTER = 0.2  # a periodic relist comes after period * [1, 1.2): informers spread out
_PROBLEMS: dict[int, Problem] = {
    401: "forbidden",
    403: "forbidden",
    400: "invalid",
    404: "invalid",
    422: "invalid",
}


def _denied(verb: str, resource: Resource, status: int, body: bytes) -> str:
    """One clear line for a refused request: the API server's own words and what to grant."""
    try:
        message = str(orjson.loads(body).get("message") or "")
    except (orjson.JSONDecodeError, AttributeError):
        message = ""
    message = message or body[:_SHOWN].decode(errors="replace")
    if status == 401:
        return f"{verb} unauthorized (HTTP 401): {message}; check the exporter's credentials"
    return (
        f"{verb} forbidden (HTTP 403): {message}; the exporter's RBAC must allow "
        f"list and watch on {resource}"
    )


class _Expired(Exception):
    """410 Gone: the resourceVersion or continue token is no longer served; relist."""


class _Retry(Exception):
    """A request failed or a stream broke; retry after `delay` seconds (None: backoff)."""

    def __init__(
        self,
        reason: str,
        delay: float | None = None,
        *,
        key: str = "failed",
        problem: Problem | None = None,
    ) -> None:
        super().__init__(reason)
        self.delay, self.key, self.problem = delay, key, problem


def _retry_after(headers: Any, body: bytes) -> float:
    """Seconds a 429 asks us to wait: the Retry-After header, else the Status details."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except (TypeError, ValueError):
        pass
    try:
        seconds = orjson.loads(body)["details"]["retryAfterSeconds"]
        return max(0.0, float(seconds))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def _resource_version(obj: Raw) -> str | None:
    meta = obj.get("metadata")
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return rv if isinstance(rv, str) and rv else None


class Informer:
    """Keeps `sink` equal to the `resource` objects in `scope` that match `label_selector`.

    `scope` is a namespace, or None for all namespaces. `run()` loops until cancelled.
    `watch_timeout` is the range `timeoutSeconds` is drawn from (tests shorten it).
    """

    def __init__(  # noqa: PLR0917 - the positional order is the cluster/ contract
        self,
        api: ApiClient,
        resource: Resource,
        scope: str | None,
        label_selector: str,
        sink: Sink,
        telemetry: Telemetry,
        *,
        idle_timeout: float,
        page_size: int = 500,
        backoff_initial: float = 0.8,
        backoff_max: float = 30.0,
        rng: random.Random | None = None,
        watch_timeout: tuple[int, int] = (300, 600),
        relist_period: float | None = None,
    ) -> None:
        if resource not in API_PATHS:
            raise ValueError(f"unsupported resource {resource!r}; one of {sorted(API_PATHS)}")
        self.resource, self.scope, self.label_selector = resource, scope, label_selector
        self._api, self._sink, self._telemetry = api, sink, telemetry
        self._idle_timeout, self._page_size = idle_timeout, page_size
        self._rng = rng if rng is not None else random.Random()
        self._backoff = Backoff(backoff_initial, backoff_max, self._rng)
        self._watch_timeout = watch_timeout
        self._relist_period = relist_period
        self._relist_at = float("inf")
        self._rv: str | None = None
        self._synced = False
        self._problem: Problem | None = None
        self._progress = False  # the current watch delivered an object event or a bookmark
        self._log = RateLimited(log, backoff_max)
        self._typed = sink.takes_records(resource) and decode.decodes(resource)
        base = API_PATHS[resource]
        if scope is None:
            self._path, self._path_params = f"{base}/{resource}", None
        else:
            self._path = f"{base}/namespaces/{{namespace}}/{resource}"
            self._path_params = {"namespace": scope}

    def __repr__(self) -> str:
        return f"Informer({self.resource}, scope={self.scope or '*'}, rv={self._rv})"

    @property
    def resource_version(self) -> str | None:
        """The resourceVersion a watch would resume from; None until listed (or after 410)."""
        return self._rv

    @property
    def problem(self) -> Problem | None:
        """Why the resource cannot be listed (forbidden, invalid), or None."""
        return self._problem

    async def run(self) -> None:
        """List, then watch; resume after a watch ends, relist after 410 and every
        `relist_period`. Cancel to stop."""
        loop = asyncio.get_running_loop()
        while True:
            if self._rv is None:
                await self._list()
            elif loop.time() >= self._relist_at:
                await self._list(periodic=True)
            try:
                relist_at = self._relist_at if self._relist_period is not None else None
                async with asyncio.timeout_at(relist_at):
                    await self._watch()
            except TimeoutError:
                continue  # the periodic relist is due: this watch was ended for it
            except _Expired:
                self._expired("watch")
            except _Retry as retry:
                await self._pause(retry)

    # ------------------------------------------------------------------ LIST
    async def _list(self, *, periodic: bool = False) -> None:
        """Paged LIST, each page applied as it arrives and dropped (bounded memory), then
        `sink.list_done` removes what the LIST did not show (Replace semantics); retries pages,
        restarts on 410. A periodic relist reports what the store had wrong (drift)."""
        token, listed = "", 0
        self._sink.list_started(self.resource, self.scope)
        while True:
            try:
                page, token, rv = await self._list_page(token)
            except _Retry as retry:
                await self._pause(retry)
                continue
            except _Expired:
                self._expired("list")
                token, listed = "", 0
                self._sink.list_started(self.resource, self.scope)
                continue
            self._sink.list_page(self.resource, self.scope, page)
            listed += len(page)
            del page
            if not token:
                break
        differences = self._sink.list_done(self.resource, self.scope) or 0
        self._rv = rv
        self._backoff.reset()
        self._schedule_relist()
        log.debug("%r listed %d objects", self, listed)
        if periodic and differences:
            self._telemetry.drifted(self.resource, differences)
            self._log.log(
                logging.WARNING,
                "drift",
                "%r: periodic relist found %d objects the watch had not delivered; healed",
                self,
                differences,
            )
        self._available("listed again")
        if not self._synced:
            self._synced = True
            self._telemetry.synced(self.resource, self.scope)

    def _available(self, how: str) -> None:
        """The API server answers this resource again (a LIST, or a watch it accepted)."""
        if self._problem is not None:
            self._problem = None
            self._telemetry.unavailable(self.resource, self.scope, None)
            log.info("%r: %s; no longer unavailable", self, how)

    def _schedule_relist(self) -> None:
        if self._relist_period is None:
            return
        jitter = 1.0 + RELIST_JITTER * self._rng.random()
        self._relist_at = asyncio.get_running_loop().time() + self._relist_period * jitter

    async def _list_page(self, token: str) -> tuple[list[Object], str, str]:
        params = [("limit", str(self._page_size))]
        if self.label_selector:
            params.append(("labelSelector", self.label_selector))
        if token:
            params.append(("continue", token))
        timeout = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, sock_read=self._idle_timeout)
        response = await self._get("list", params, timeout)
        try:
            data = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            self._telemetry.request(self.resource, "list", "error")
            raise _Retry(f"list page unreadable: {error!r}") from error
        finally:
            response.release()
        return self._decode_page(data)

    def _decode_page(self, data: bytes) -> tuple[list[Object], str, str]:
        """The page's objects (records or dicts), its continue token and resourceVersion."""
        typed = decode.page(self.resource, data) if self._typed else None
        if typed is not None:
            items: list[Any] = typed.items
            next_token, rv = typed.token, typed.resource_version
        else:
            try:
                body = orjson.loads(data)
            except orjson.JSONDecodeError as error:
                self._telemetry.request(self.resource, "list", "error")
                raise _Retry(f"list page unreadable: {error!r}") from error
            meta = body.get("metadata") if isinstance(body, dict) else None
            listed = body.get("items") if isinstance(body, dict) else None
            if not isinstance(meta, dict) or not isinstance(listed, list):
                self._telemetry.request(self.resource, "list", "error")
                raise _Retry("list page is not a List object")
            items = listed
            next_token = str(meta.get("continue") or "")
            rv = str(meta.get("resourceVersion") or "")
        del data
        # Where records are decoded, a dict here is an object the typed decoder rejected.
        if self._typed and (rejected := sum(1 for item in items if isinstance(item, dict))):
            self._telemetry.tolerant_decodes(self.resource, rejected)
        self._telemetry.request(self.resource, "list", "ok")
        self._telemetry.heartbeat(self.resource, time.time())
        objects: list[Object] = [item for item in items if isinstance(item, (dict, Job, Pod))]
        for _ in range(len(items) - len(objects)):
            self._telemetry.parse_error(self.resource)
        if len(objects) != len(items):
            self._log.log(
                logging.WARNING,
                "bad-item",
                "%r: skipped %d list items that are not objects",
                self,
                len(items) - len(objects),
            )
        return objects, next_token, rv

    # ------------------------------------------------------------------ WATCH
    async def _watch(self) -> None:
        """One WATCH request from the remembered rv, consumed until it ends."""
        timeout_seconds = self._rng.randint(*self._watch_timeout)
        params = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self._rv or ""),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if self.label_selector:
            params.append(("labelSelector", self.label_selector))
        # sock_read: a black-holed stream (no event, no bookmark) is noticed after idle_timeout.
        timeout = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, sock_read=self._idle_timeout)
        response = await self._get("watch", params, timeout)
        self._available("watched again")  # a refused watch resumed: nothing was missed
        result: Result | None = "error"
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._progress = False
        try:
            await self._consume(response)
            if not self._progress and loop.time() - started < timeout_seconds / 2:
                # 200 and closed at once (a proxy, a broken server): not a quiet cluster.
                raise _Retry("watch closed without an event or bookmark", key="empty")
            result = "ok"
            self._backoff.reset()
        except _Expired:
            result = "expired"
            raise
        except (aiohttp.ClientError, TimeoutError) as error:
            raise _Retry(f"watch stream ended: {error!r}") from error
        except asyncio.CancelledError:
            result = None
            raise
        finally:
            response.close()
            if result is not None:
                self._telemetry.request(self.resource, "watch", result)

    async def _consume(self, response: aiohttp.ClientResponse) -> None:
        """Split the chunked stream into lines ourselves: aiohttp's readline caps line length."""
        pending = bytearray()
        clock = time.perf_counter
        async for chunk in response.content.iter_any():
            pending += chunk
            start, since = 0, clock()
            while (end := pending.find(b"\n", start)) >= 0:
                self._handle_line(bytes(pending[start:end]))
                start = end + 1
                if clock() - since >= YIELD_SECONDS:
                    await asyncio.sleep(0)  # a backlog of events never holds the loop long
                    since = clock()
            if start:
                del pending[:start]
        if pending.strip():
            self._handle_line(bytes(pending))

    def _handle_line(self, line: bytes) -> None:
        """One watch event: to the sink (ADDED/MODIFIED/DELETED), rv bookkeeping, telemetry.
        A line of any other shape is counted as a parse error and skipped; it never raises."""
        if not line.strip():
            return
        if self._typed and (typed := decode.event(self.resource, line)) is not None:
            self._telemetry.event(self.resource, typed.type)
            self._progressed(typed.type, typed.record, typed.resource_version)
            return
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            self._bad_line("is not JSON", line)
            return
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str) or kind not in WATCH_EVENTS:
            self._bad_line("is not an event", line)
            return
        obj = event.get("object")
        if not isinstance(obj, dict):
            self._bad_line(f"is a {kind} event without an object", line)
            return
        self._telemetry.event(self.resource, kind)
        if kind == "ERROR":  # not a heartbeat, not progress: the backoff keeps growing
            code, message = obj.get("code"), str(obj.get("message", ""))[:_SHOWN]
            if code == 410:
                raise _Expired(message)
            raise _Retry(f"watch ERROR event: {code!r} {message}", key="error-event")
        if kind == "BOOKMARK":
            self._progressed(kind, None, _resource_version(obj))
            return
        if self._typed:
            self._telemetry.tolerant_decodes(self.resource, 1)
        self._progressed(kind, obj, _resource_version(obj))

    def _progressed(self, kind: str, obj: Object | None, rv: str | None) -> None:
        """An object event (to the sink) or a bookmark (`obj` None): a heartbeat and progress,
        and the resourceVersion to resume from when it carries one."""
        self._telemetry.heartbeat(self.resource, time.time())
        self._backoff.reset()
        self._progress = True
        if obj is not None:
            self._sink.apply(self.resource, kind, obj)
        if rv is not None:
            self._rv = rv

    def _bad_line(self, what: str, line: bytes) -> None:
        self._telemetry.parse_error(self.resource)
        self._log.log(
            logging.WARNING,
            "bad-line",
            "%r: skipped a watch line that %s: %r",
            self,
            what,
            line[:_SHOWN],
        )

    # ------------------------------------------------------------------ shared
    async def _get(
        self, verb: Verb, params: list[tuple[str, str]], limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """GET the collection; a 200 response is returned open, anything else raised."""
        try:
            response: aiohttp.ClientResponse = await self._api.call_api(
                self._path,
                "GET",
                path_params=self._path_params,
                query_params=params,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=limits,
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            self._telemetry.request(self.resource, verb, "error")
            raise _Retry(f"{verb} failed: {error!r}") from error
        if response.status == 200:
            return response
        try:
            body = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            body = b""
        finally:
            response.release()
        if response.status == 410:
            self._telemetry.request(self.resource, verb, "expired")
            raise _Expired(body[:_SHOWN].decode(errors="replace"))
        if response.status == 429:
            self._telemetry.request(self.resource, verb, "throttled")
            raise _Retry(f"{verb} throttled (429)", _retry_after(response.headers, body))
        self._telemetry.request(self.resource, verb, "error")
        problem = _PROBLEMS.get(response.status)
        key = f"{verb}-{response.status}"
        if response.status in (401, 403):
            raise _Retry(
                _denied(verb, self.resource, response.status, body), key=key, problem=problem
            )
        shown = " ".join(body[:_SHOWN].decode(errors="replace").split())
        raise _Retry(f"{verb} failed: HTTP {response.status}: {shown}", key=key, problem=problem)

    def _expired(self, verb: Verb) -> None:
        self._log.log(logging.INFO, "expired", "%r: %s got 410 Gone, relisting", self, verb)
        self._rv = None
        self._telemetry.relisted(self.resource)

    async def _pause(self, retry: _Retry) -> None:
        delay = retry.delay if retry.delay is not None else self._backoff.next()
        if retry.problem is not None and retry.problem != self._problem:
            self._problem = retry.problem
            self._telemetry.unavailable(self.resource, self.scope, retry.problem)
            log.error(
                "%r is %s: %s; serving the other resources, retrying in the background",
                self,
                retry.problem,
                retry,
            )
        self._log.log(logging.WARNING, retry.key, "%r: %s; retrying in %.2fs", self, retry, delay)
        await asyncio.sleep(delay)
