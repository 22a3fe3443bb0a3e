"""The sim API server: batch/v1 Jobs and CronJobs and v1 Pods over real HTTP (aiohttp).

    async with SimServer(host="127.0.0.1", port=0, bookmark_period=60.0,
                         history_size=10_000) as sim:
        sim.url                          # "http://127.0.0.1:PORT"
        sim.write_kubeconfig(path)       # kubeconfig for kubectl / kubernetes_asyncio
        sim.store                        # jobwatch_testbed.sim.store.Store, edits emit watch events
        sim.faults                       # jobwatch_testbed.sim.faults.Faults

Served: discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/batch`, `/apis/batch/v1`; the
aggregated-discovery Accept gets plain discovery JSON, which clients accept as a fallback),
and for `pods`, `jobs`, `cronjobs`, cluster-wide and namespaced:
* LIST with `labelSelector`, `fieldSelector`, `limit`/`continue` (the token holds the rv
  snapshot; pages are served as of that rv; 410 Expired once compacted), `resourceVersion` +
  `resourceVersionMatch=Exact`. Items carry no kind/apiVersion, as from the real server.
* WATCH (`watch=1|true`): newline-delimited `{"type", "object"}`; `resourceVersion` resume
  delivers exactly the later events; unset/"0" starts with synthetic ADDED events; a compacted
  rv gets one `ERROR` event holding a 410 Expired Status, then the stream ends;
  `allowWatchBookmarks` sends BOOKMARK every `bookmark_period` s; `timeoutSeconds` ends the
  stream cleanly; selectors apply to transitions (stops matching -> DELETED, starts -> ADDED).
* POST, GET, PUT (main and `/status`), PATCH (merge, JSON, strategic-as-merge; main and
  `/status`), DELETE (`gracePeriodSeconds`, `propagationPolicy`, also from a DeleteOptions body).
Errors are `Status` objects (400, 404, 405, 409, 410, 422, 429, 5xx).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from jobwatch_testbed.sim.faults import Faults
from jobwatch_testbed.sim.kubeconfig import kubeconfig_yaml
from jobwatch_testbed.sim.patch import APPLY
from jobwatch_testbed.sim.selectors import (
    Selector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from jobwatch_testbed.sim.store import (
    CONTINUE_EXPIRED,
    CRONJOBS,
    JOBS,
    PODS,
    RESOURCES,
    ApiError,
    Event,
    Obj,
    ObjList,
    Resource,
    Store,
)
from jobwatch_testbed.sim.tables import table, wants_table

LIST_WRITE_ITEMS = 256  # List items joined per write when a page is streamed (about 600 KiB)
KUBE_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-jobwatch-sim"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _resource_list(group_version: str, resources: list[Resource]) -> Obj:
    entries: list[Obj] = []
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    short = {"pods": ["po"], "jobs": [], "cronjobs": ["cj"]}
    for r in resources:
        entry: Obj = {
            "name": r.plural,
            "singularName": r.kind.lower(),
            "namespaced": True,
            "kind": r.kind,
            "verbs": verbs,
            "storageVersionHash": r.kind,
        }
        if short[r.plural]:
            entry["shortNames"] = short[r.plural]
        if r.group:
            entry["categories"] = ["all"]
        entries.append(entry)
        entries.append(
            {
                "name": f"{r.plural}/status",
                "singularName": "",
                "namespaced": True,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


_BATCH_GROUP: Obj = {
    "name": "batch",
    "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
}


def encode_continue(rv: int, start: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        return int(data["rv"]), str(data["start"]).rstrip("\x00")
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "BadRequest", f"invalid continue token: {exc}") from exc


class _WatchFilter:
    """Turns store events into the events one watcher should see (selector transitions)."""

    def __init__(self, resource: Resource, namespace: str | None, matches: Selector) -> None:
        self.resource, self.namespace, self.matches = resource, namespace, matches

    def _in_scope(self, obj: Obj) -> bool:
        return self.namespace is None or obj["metadata"].get("namespace") == self.namespace

    def convert(self, event: Event) -> tuple[str, Obj] | None:
        if event.resource != self.resource or not self._in_scope(event.object):
            return None
        new_ok = self.matches(event.object)
        old_ok = event.old is not None and self.matches(event.old)
        if event.type == "ADDED":
            return ("ADDED", event.object) if new_ok else None
        if event.type == "DELETED":
            return ("DELETED", event.object) if (new_ok or old_ok) else None
        if new_ok and old_ok:
            return ("MODIFIED", event.object)
        if new_ok:
            return ("ADDED", event.object)
        if old_ok and event.old is not None:
            # Like the watch cache: the previous object, stamped with the event's rv.
            gone = dict(event.old)
            gone["metadata"] = {**event.old["metadata"], "resourceVersion": str(event.rv)}
            return ("DELETED", gone)
        return None


def _number(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"invalid {name}: {text!r}") from exc


def _static(body: Obj | str) -> Handler:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(text=body) if isinstance(body, str) else _json(body)

    return handler


def _event_bytes(event_type: str, obj: Obj) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def _typed_line(event_type: str, typed: bytes) -> bytes:
    """A watch line around an object's serialised bytes (with apiVersion and kind)."""
    return b'{"type":"%s","object":%s}\n' % (event_type.encode(), typed)


def _line(resource: Resource, event_type: str, obj: Obj, data: bytes | None) -> bytes:
    """The watch line of `obj`, from its pre-serialised List-item bytes when given."""
    if data is None:
        return _event_bytes(event_type, obj)
    return _typed_line(event_type, resource.typed(data))


@dataclass
class _Watch:
    flt: _WatchFilter
    queue: asyncio.Queue[Event | None]
    drop: asyncio.Event
    bookmarks: bool
    seconds: float | None  # timeoutSeconds
    as_table: bool = False  # kubectl get -w asks for Table objects in events

    def line(self, event_type: str, obj: Obj, data: bytes | None, now: datetime) -> bytes:
        """`data` is `obj`'s `item_bytes`, or None to serialise it here."""
        if self.as_table:
            meta = {"resourceVersion": obj["metadata"]["resourceVersion"]}
            return _event_bytes(event_type, table(self.flt.resource, [obj], meta, now))
        return _line(self.flt.resource, event_type, obj, data)

    def event_line(self, event_type: str, obj: Obj, event: Event, now: datetime) -> bytes:
        """The line of a converted store event, built once per event for every watcher."""
        if self.as_table or obj is not event.object or event_type != event.type:
            return self.line(event_type, obj, event.data if obj is event.object else None, now)
        cached = event.cache.get("line")
        if cached is None:
            cached = event.cache["line"] = _line(self.flt.resource, event_type, obj, event.data)
        return cached


class SimServer:
    """The embedded API server. Use as an async context manager, or `start()`/`stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bookmark_period: float = 60.0,
        history_size: int = 10_000,
        store: Store | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.bookmark_period = bookmark_period
        self.store = store if store is not None else Store(history_size=history_size)
        self.faults = Faults(self.store)
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._watch_tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._stopping = True  # a watch that registers from now on is dropped at once
        self.faults.clear()
        self.faults.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        target = Path(path)
        target.write_text(kubeconfig_yaml(self.url, namespace))
        return target

    # ------------------------------------------------------------------ app
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware, self._error_middleware])
        r = app.router
        r.add_get("/version", _static(KUBE_VERSION))
        for probe in ("/healthz", "/readyz", "/livez"):
            r.add_get(probe, _static("ok"))
        r.add_get("/api", self._api_versions)
        r.add_get("/api/v1", _static(_resource_list("v1", [PODS])))
        groups = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_BATCH_GROUP]}
        r.add_get("/apis", _static(groups))
        r.add_get("/apis/batch", _static({"kind": "APIGroup", "apiVersion": "v1", **_BATCH_GROUP}))
        r.add_get("/apis/batch/v1", _static(_resource_list("batch/v1", [JOBS, CRONJOBS])))
        for prefix in ("/api/{version}", "/apis/{group}/{version}"):
            r.add_route("*", prefix + "/{plural}", self._collection)
            r.add_route("*", prefix + "/namespaces/{namespace}/{plural}", self._collection)
            r.add_route("*", prefix + "/namespaces/{namespace}/{plural}/{name}", self._item)
            r.add_route("*", prefix + "/namespaces/{namespace}/{plural}/{name}/{sub}", self._item)
        return app

    async def _api_versions(self, request: web.Request) -> web.Response:
        return _json(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                ],
            }
        )

    @web.middleware
    async def _error_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.status(), status=exc.code)
        except SelectorError as exc:
            return _json(ApiError(400, "BadRequest", str(exc)).status(), status=400)

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        faults = self.faults
        if faults.counters.delay > 0:
            await asyncio.sleep(faults.counters.delay)
        if faults.request_blackhole:
            await faults.cleared.wait()
        segments = request.path.rstrip("/").split("/")
        for resource, refused in faults.refused.items():
            if resource in segments:
                reasons = {403: "Forbidden", 401: "Unauthorized", 404: "NotFound"}
                why = f"{resource} is refused (jobwatch sim fault)"
                status = ApiError(refused, reasons.get(refused, "BadRequest"), why).status()
                return _json(status, refused)
        if request.query.get("watch") in ("true", "1") and (
            (answer := faults.take_watch_answer()) is not None
        ):
            return web.Response(body=answer, content_type="application/json")
        injected = faults.take_request_fault()
        if injected is not None:
            code, retry_after = injected
            if code == 429:
                error = ApiError(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                    {"retryAfterSeconds": retry_after},
                )
                return _json(error.status(), 429, {"Retry-After": str(retry_after)})
            reason = {500: "InternalError", 503: "ServiceUnavailable"}.get(code, "InternalError")
            error = ApiError(code, reason, "Internal error occurred: injected fault (jobwatch sim)")
            return _json(error.status(), code)
        return await handler(request)

    # ------------------------------------------------------------------ routing helpers
    def _resource(self, request: web.Request) -> Resource:
        info = request.match_info
        group, version, plural = info.get("group", ""), info["version"], info["plural"]
        resource = RESOURCES.get(plural)
        if resource is None or resource.group != group or resource.version != version:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return resource

    @staticmethod
    async def _body(request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            if request.content_type in ("application/yaml", APPLY):
                import yaml

                return yaml.safe_load(raw)
            return orjson.loads(raw)
        except Exception as exc:
            raise ApiError(400, "BadRequest", f"invalid request body: {exc}") from exc

    # ------------------------------------------------------------------ collection
    async def _collection(self, request: web.Request) -> web.StreamResponse:
        resource = self._resource(request)
        namespace = request.match_info.get("namespace")
        if request.method == "POST":
            if namespace is None:
                raise ApiError(405, "MethodNotAllowed", "create requires a namespace")
            body = await self._body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be an object")
            body.pop("status", None)
            if resource == PODS:
                body["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            created = self.store.create(resource, body, namespace)
            return _json(created, status=201)
        if request.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"method {request.method} not allowed")
        q = request.query
        matches = self._selector(q, resource)
        if q.get("watch", "").lower() in ("1", "true"):
            return await self._watch(request, resource, namespace, matches)
        if wants_table(request.headers.get("Accept", "")):
            items, _, meta = self._page(resource, namespace, matches, q)
            return _json(table(resource, items, meta, self.store.clock()))
        _, data, meta = self._page(resource, namespace, matches, q)
        return await self._stream_list(request, resource, data, meta)

    @staticmethod
    async def _stream_list(
        request: web.Request, resource: Resource, data: list[bytes], meta: Obj
    ) -> web.StreamResponse:
        """A List body joined from the items' pre-serialised bytes, written as it is joined:
        no object is encoded here (the store serialised each one when it was committed)."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        head = {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": meta}
        await response.write(orjson.dumps(head)[:-1] + b',"items":[')
        for start in range(0, len(data), LIST_WRITE_ITEMS):
            batch = b",".join(data[start : start + LIST_WRITE_ITEMS])
            await response.write(batch if start == 0 else b"," + batch)
        await response.write(b"]}")
        await response.write_eof()
        return response

    @staticmethod
    def _selector(q: Any, resource: Resource) -> Selector:
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"), resource.plural)
        return lambda o: labels(o) and fields(o)

    def _page(
        self, resource: Resource, namespace: str | None, matches: Selector, q: Any
    ) -> tuple[ObjList, list[bytes], Obj]:
        """The items of one LIST page, their bytes and the list metadata. The snapshot's sorted
        view is built once per rv (`Store.view`), and a page starts by bisection: O(page)."""
        token, start = q.get("continue"), ""
        rv_param = q.get("resourceVersion", "")
        store = self.store
        if token:
            rv, start = decode_continue(token)
            store.require(rv, CONTINUE_EXPIRED)
        elif rv_param not in ("", "0") and q.get("resourceVersionMatch") == "Exact":
            rv = _number(rv_param, "resourceVersion")
            store.require(rv)
        else:
            rv = store.resource_version
        view = store.view(resource, rv, continuing=bool(token)).namespace(namespace)
        items, keys = view.items, view.keys
        first = bisect.bisect_right(keys, start) if start else 0
        limit = _number(q.get("limit") or "0", "limit")
        filtered = bool(q.get("labelSelector") or q.get("fieldSelector"))
        # Up to limit + 1 matching items from `first`: one more than a page says whether
        # another page follows.
        indices: range | list[int]
        if not filtered:  # every item matches: the page is a slice
            indices = range(first, len(items) if limit <= 0 else min(len(items), first + limit + 1))
        else:
            indices = []
            at = first
            while at < len(items) and (limit <= 0 or len(indices) <= limit):
                if matches(items[at]):
                    indices.append(at)
                at += 1
        meta: Obj = {"resourceVersion": str(rv)}
        if 0 < limit < len(indices):
            indices = indices[:limit]
            meta["continue"] = encode_continue(rv, keys[indices[-1]])
            if not filtered:
                meta["remainingItemCount"] = len(items) - first - limit
        return [items[i] for i in indices], [view.data[i] for i in indices], meta

    # ------------------------------------------------------------------ watch
    async def _watch(
        self, request: web.Request, resource: Resource, namespace: str | None, matches: Selector
    ) -> web.StreamResponse:
        q = request.query
        flt = _WatchFilter(resource, namespace, matches)
        bookmarks = q.get("allowWatchBookmarks", "").lower() in ("1", "true")
        seconds = q.get("timeoutSeconds")
        timeout = float(_number(seconds, "timeoutSeconds")) if seconds else None
        rv_param = q.get("resourceVersion", "")
        resume_from = None if rv_param in ("", "0") else _number(rv_param, "resourceVersion")
        store = self.store
        queue = store.subscribe()
        drop = self.faults.register_watch()
        if self._stopping:
            drop.set()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            initial: list[tuple[str, Obj, bytes | None, Event | None]] = []
            try:
                if resume_from is None:
                    last_rv = store.resource_version
                    view = store.view(resource, last_rv).namespace(namespace)
                    initial = [
                        ("ADDED", o, data, None)
                        for o, data in zip(view.items, view.data, strict=True)
                        if matches(o)
                    ]
                else:
                    last_rv = resume_from
                    for past in store.events_since(last_rv):
                        converted = flt.convert(past)
                        if converted is not None:
                            initial.append((*converted, None, past))
                        last_rv = past.rv
            except ApiError as exc:
                await response.prepare(request)
                await response.write(_event_bytes("ERROR", exc.status()))
                await response.write_eof()
                return response
            await response.prepare(request)
            # A stream black-holed on its own (one lagging resource) does not even replay; a
            # global black hole replays first, so a reconnect is what delivers the backlog.
            if self.faults.lagging(flt.resource.plural):
                waits = {
                    asyncio.ensure_future(self.faults.cleared.wait()),
                    asyncio.ensure_future(drop.wait()),
                }
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
                if drop.is_set():
                    return self._abort(request, response)
            as_table = wants_table(request.headers.get("Accept", ""))
            watch = _Watch(flt, queue, drop, bookmarks, timeout, as_table)
            for event_type, obj, data, source in initial:
                if source is not None:
                    line = watch.event_line(event_type, obj, source, store.clock())
                else:
                    line = watch.line(event_type, obj, data, store.clock())
                await response.write(line)
            return await self._stream(request, response, watch, last_rv)
        finally:
            store.unsubscribe(queue)
            self.faults.unregister_watch(drop)

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, watch: _Watch, last_rv: int
    ) -> web.StreamResponse:
        flt, queue, drop, bookmarks = watch.flt, watch.queue, watch.drop, watch.bookmarks
        loop = asyncio.get_running_loop()
        deadline = loop.time() + watch.seconds if watch.seconds is not None else None
        next_bookmark = loop.time() + self.bookmark_period
        held: bytes | None = None  # an event held back to be sent out of order
        stash: list[Event | None] = []  # received while a black hole started
        drop_wait = asyncio.ensure_future(drop.wait())
        try:
            while True:
                faults = self.faults
                if faults.is_blackholed(flt.resource.plural):
                    cleared = asyncio.ensure_future(faults.cleared.wait())
                    await asyncio.wait({cleared, drop_wait}, return_when=asyncio.FIRST_COMPLETED)
                    cleared.cancel()
                    if drop.is_set():
                        return self._abort(request, response)
                    continue
                got: list[Event | None] = stash[:1]
                del stash[:1]
                if not got:
                    now = loop.time()
                    wake = next_bookmark if bookmarks else now + 3600
                    if deadline is not None:
                        wake = min(wake, deadline)
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getter, drop_wait},
                        timeout=max(0.0, wake - now),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if getter in done:
                        got = [getter.result()]
                    else:
                        getter.cancel()
                    if drop.is_set():
                        return self._abort(request, response)
                    if faults.is_blackholed(flt.resource.plural):
                        stash.extend(got)
                        continue
                if got:
                    event = got[0]
                    if event is None:  # server restart: connections drop
                        return self._abort(request, response)
                    if event.rv <= last_rv:
                        continue
                    last_rv = event.rv
                    converted = flt.convert(event)
                    if converted is None:
                        continue
                    line = watch.event_line(*converted, event, self.store.clock())
                    if held is None and faults.take_reorder():
                        held = line
                        continue
                    await response.write(line)
                    if faults.take_duplicate():
                        await response.write(line)
                    if held is not None:
                        await response.write(held)
                        held = None
                    continue
                now = loop.time()
                if deadline is not None and now >= deadline:
                    if held is not None:
                        await response.write(held)
                    await response.write_eof()
                    return response
                if bookmarks and now >= next_bookmark and queue.empty():
                    # Only when nothing is queued: the bookmark rv must not skip an event.
                    bookmark = {
                        "kind": flt.resource.kind,
                        "apiVersion": flt.resource.api_version,
                        "metadata": {"resourceVersion": str(self.store.resource_version)},
                    }
                    await response.write(_event_bytes("BOOKMARK", bookmark))
                    next_bookmark = now + self.bookmark_period
        finally:
            drop_wait.cancel()

    @staticmethod
    def _abort(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Close the connection without the terminating chunk, as a dying server would."""
        if request.transport is not None:
            request.transport.abort()
        return response

    # ------------------------------------------------------------------ item
    async def _item(self, request: web.Request) -> web.StreamResponse:
        resource = self._resource(request)
        info = request.match_info
        namespace, name, sub = info["namespace"], info["name"], info.get("sub")
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        store = self.store
        if request.method == "GET":
            obj = store.get(resource, namespace, name)
            if wants_table(request.headers.get("Accept", "")):
                meta = {"resourceVersion": obj["metadata"]["resourceVersion"]}
                return _json(table(resource, [obj], meta, store.clock()))
            typed = resource.typed(store.data(resource, namespace, name))
            return web.Response(body=typed, content_type="application/json")
        if request.method == "PUT":
            body = await self._body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be an object")
            body_name = (body.get("metadata") or {}).get("name")
            if body_name and body_name != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
            return _json(store.replace(resource, namespace, name, body, sub))
        if request.method == "PATCH":
            body = await self._body(request)
            patched = store.patch(
                resource, namespace, name, body, content_type=request.content_type, subresource=sub
            )
            return _json(patched)
        if request.method == "DELETE" and sub is None:
            return self._delete(request, resource, namespace, name, await self._body(request))
        raise ApiError(405, "MethodNotAllowed", f"method {request.method} not allowed")

    def _delete(
        self, request: web.Request, resource: Resource, namespace: str, name: str, body: Any
    ) -> web.Response:
        options = body if isinstance(body, dict) else {}
        q = request.query
        grace = q.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        policy = q.get("propagationPolicy", options.get("propagationPolicy"))
        obj, removed = self.store.delete(
            resource,
            namespace,
            name,
            grace_period_seconds=_number(str(grace), "gracePeriodSeconds")
            if grace is not None
            else None,
            propagation_policy=policy,
        )
        if not removed:
            return _json(obj)
        meta = obj["metadata"]
        return _json(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": name,
                    "group": resource.group,
                    "kind": resource.plural,
                    "uid": meta["uid"],
                },
            }
        )
