"""The HTTP shell: aiohttp routes for REST API 2023-11-01 under ``/routing``, the admin API under ``/admin``.

Request flow for ``/routing``: read the body, apply an injected fault if one matches, authenticate (HMAC or
bearer), check ``api-version``, route, call the engine, render. Every response carries the headers the live
service sends (``api-supported-versions``, ``trace-id``, ...); resources also get ``ETag`` and
``Last-Modified``; errors use the ``communicationError`` envelope. One INFO log line per request: method,
path, status, milliseconds (never headers, keys or bodies).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web
from azure.communication.jobrouter.models import RouterJobStatus

from devstack.jobrouter.auth import check_request
from devstack.jobrouter.engine import ACTIVE_JOB_STATUSES, Conditions, Router
from devstack.jobrouter.errors import BadRequest, NotFound, RouterApiError, error_body
from devstack.jobrouter.faults import FaultRule, FaultSet
from devstack.jobrouter.matching import capacity_left
from devstack.jobrouter.resources import render
from devstack.jobrouter.store import Record
from devstack.jobrouter.timers import Clock
from devstack.jobrouter.wire import JsonObject, format_http_date, parse_http_date, parse_time

__all__ = ["API_VERSION", "AdminHooks", "RestApi"]

log = logging.getLogger("devstack.jobrouter.requests")

API_VERSION: Final = "2023-11-01"
SUPPORTED_VERSIONS: Final = "2021-04-07-preview1, 2022-07-18-preview, 2023-08-25-preview, 2023-11-01"
_KINDS: Final = "distributionPolicies|queues|classificationPolicies|exceptionPolicies|workers|jobs"
_JOB_STATUSES: Final = frozenset(status.value for status in RouterJobStatus)
_WORKER_STATES: Final = frozenset({"active", "draining", "inactive"})

Handler = Callable[["Call"], "Reply"]


@dataclass(frozen=True, slots=True)
class Call:
    """A parsed /routing request as handlers see it."""

    method: str
    path: str
    params: tuple[str, ...]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler returns: status, JSON body (None = no body) and optional resource headers."""

    status: int
    body: Any = None
    record: Record | None = None


@dataclass(frozen=True, slots=True)
class AdminHooks:
    """What the admin API needs from the server besides the engine."""

    events: Callable[[], list[JsonObject]]
    publisher_settings: Callable[[], JsonObject]
    set_publisher: Callable[[Mapping[str, Any]], JsonObject]


class RestApi:
    """Builds the aiohttp application around a :class:`Router`."""

    def __init__(
        self,
        router: Router,
        *,
        key: bytes,
        bearer_token: str | None,
        clock: Clock,
        faults: FaultSet,
        admin: AdminHooks,
        page_size: int = 20,
        max_skew_seconds: float = 900.0,
    ) -> None:
        self.router = router
        self._key = key
        self._bearer = bearer_token
        self._clock = clock
        self.faults = faults
        self._admin = admin
        self._page_size = page_size
        self._max_skew = timedelta(seconds=max_skew_seconds)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._add_routes()

    # ------------------------------------------------------------------------------- app

    def build_app(self) -> web.Application:
        """The aiohttp application (request log middleware, /routing and /admin)."""
        app = web.Application(middlewares=[_request_log], client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/routing{tail:.*}", self._handle_routing)
        app.router.add_get("/admin/state", self._admin_state)
        app.router.add_get("/admin/events", self._admin_events)
        app.router.add_get("/admin/faults", self._admin_faults)
        app.router.add_post("/admin/faults", self._admin_add_fault)
        app.router.add_delete("/admin/faults", self._admin_clear_faults)
        app.router.add_delete("/admin/faults/{fault_id}", self._admin_remove_fault)
        app.router.add_get("/admin/publisher", self._admin_publisher)
        app.router.add_route("PUT", "/admin/publisher", self._admin_set_publisher)
        app.router.add_post("/admin/reset", self._admin_reset)
        app.router.add_get("/admin/health", self._admin_health)
        return app

    def _add_routes(self) -> None:
        seg = r"([^/]+)"
        action_seg = r"([^/]+?)"
        table: list[tuple[str, str, Handler]] = [
            ("POST", rf"/routing/jobs/{action_seg}:(reclassify|cancel)", self._job_action),
            (
                "POST",
                rf"/routing/jobs/{seg}/assignments/{action_seg}:(complete|close|unassign)",
                self._assignment_action,
            ),
            ("GET", rf"/routing/jobs/{seg}/position", self._position),
            ("GET", rf"/routing/queues/{seg}/statistics", self._statistics),
            ("POST", rf"/routing/workers/{seg}/offers/{action_seg}:(accept|decline)", self._offer_action),
            ("GET", rf"/routing/({_KINDS})", self._list),
            ("PATCH", rf"/routing/({_KINDS})/{seg}", self._upsert),
            ("GET", rf"/routing/({_KINDS})/{seg}", self._get),
            ("DELETE", rf"/routing/({_KINDS})/{seg}", self._delete),
        ]
        self._routes = [(m, re.compile(f"^{p}$"), h) for m, p, h in table]

    # -------------------------------------------------------------------------- /routing

    async def _handle_routing(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path
        body = await request.read()
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            faulted = await self._apply_fault(fault, request)
            if faulted is not None:
                return faulted
        try:
            check_request(
                method=request.method,
                path_and_query=request.raw_path,
                headers=request.headers,
                body=body,
                key=self._key,
                bearer_token=self._bearer,
                now=self._clock.now(),
                max_skew=self._max_skew,
            )
            version = request.query.get("api-version")
            if version != API_VERSION:
                raise BadRequest(
                    f"api-version {version!r} is not supported by the emulator; use {API_VERSION}"
                    if version
                    else "The api-version query parameter is required.",
                    code="UnsupportedApiVersion" if version else "MissingApiVersion",
                )
            handler, params, allowed = self._match(request.method, path)
            if handler is None:
                if allowed:
                    return _error(
                        405, "MethodNotAllowed", f"{request.method} is not allowed here.", request.path
                    )
                raise NotFound(f"No Job Router operation matches {request.method} {request.path}.")
            call = Call(
                method=request.method,
                path=request.path,
                params=params,
                query=request.query,
                headers=request.headers,
                body=_parse_json(body),
            )
            try:
                reply = handler(call)
            finally:
                self.router.commit()
        except RouterApiError as exc:
            return _error(exc.status, exc.code, exc.message, exc.target or request.path)
        except Exception:
            # an emulator bug, not a business rejection: say so, keep serving
            logging.getLogger(__name__).exception(
                "internal error handling %s %s", request.method, request.path
            )
            return _error(
                500,
                "InternalError",
                "The Job Router emulator hit an internal error (see its log).",
                request.path,
            )
        return _render(reply)

    def _match(self, method: str, path: str) -> tuple[Handler | None, tuple[str, ...], bool]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            if route_method == method:
                return handler, tuple(unquote(g) for g in match.groups()), True
            allowed = True
        return None, (), allowed

    async def _apply_fault(self, fault: FaultRule, request: web.Request) -> web.StreamResponse | None:
        if fault.action == "delay":
            await asyncio.sleep(fault.delay_ms / 1000.0)
            return None
        if fault.action == "drop":
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise _DroppedConnection()
        headers = _common_headers()
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        body = fault.body
        if body is None:
            body = error_body(
                "InjectedFault", f"Fault injected by the emulator (rule {fault.id}).", request.path
            )
        return web.Response(
            status=fault.status,
            body=json.dumps(body).encode() if not isinstance(body, str) else body.encode(),
            headers=headers | {"Content-Type": "application/json; charset=utf-8"},
        )

    # ---------------------------------------------------------------------------- handlers

    def _upsert(self, call: Call) -> Reply:
        kind, resource_id = call.params
        if not isinstance(call.body, dict):
            raise BadRequest("The request body must be a JSON object.")
        since = call.headers.get("If-Unmodified-Since")
        since_date = parse_http_date(since) if since else None
        if since and since_date is None:
            raise BadRequest("If-Unmodified-Since is not an RFC 1123 date.")
        cond = Conditions(
            if_match=call.headers.get("If-Match"),
            if_none_match=call.headers.get("If-None-Match"),
            if_unmodified_since=since_date,
        )
        created, record = self.router.upsert(kind, resource_id, call.body, cond)
        return Reply(201 if created else 200, render(kind, record.body, record.etag), record)

    def _get(self, call: Call) -> Reply:
        kind, resource_id = call.params
        record = self.router.get(kind, resource_id)
        return Reply(200, render(kind, record.body, record.etag), record)

    def _delete(self, call: Call) -> Reply:
        kind, resource_id = call.params
        self.router.delete(kind, resource_id)
        return Reply(204)

    def _list(self, call: Call) -> Reply:
        (kind,) = call.params
        token = call.query.get("continuationToken")
        if token is not None:
            state = _decode_token(token, kind)
            filters: dict[str, str] = state["f"]
            size = int(state["n"])
            after: int | None = int(state["after"])
        else:
            filters = {k: v for k, v in call.query.items() if k not in ("api-version", "maxpagesize")}
            size = _page_size(call.query.get("maxpagesize"), self._page_size)
            after = None
        predicate = self._filter(kind, filters)
        records = self.router.list_records(kind, predicate)
        if after is not None:
            records = [r for r in records if r.seq < after]
        page = records[:size]
        body: JsonObject = {"value": [render(kind, r.body, r.etag) for r in page]}
        if len(records) > size:
            next_token = _encode_token({"k": kind, "f": filters, "n": size, "after": page[-1].seq})
            body["nextLink"] = f"/routing/{kind}?continuationToken={next_token}"
        return Reply(200, body)

    def _filter(self, kind: str, filters: Mapping[str, str]) -> Callable[[Record], bool] | None:
        if kind == "jobs":
            return self._job_filter(filters)
        if kind == "workers":
            return self._worker_filter(filters)
        unknown = sorted(filters)
        if unknown:
            raise BadRequest(f"Unknown query parameter(s) for {kind}: {', '.join(unknown)}")
        return None

    def _job_filter(self, filters: Mapping[str, str]) -> Callable[[Record], bool]:
        known = {
            "status",
            "queueId",
            "channelId",
            "classificationPolicyId",
            "scheduledBefore",
            "scheduledAfter",
        }
        unknown = sorted(set(filters) - known)
        if unknown:
            raise BadRequest(f"Unknown query parameter(s) for jobs: {', '.join(unknown)}")
        status = filters.get("status", "all")
        if status not in _JOB_STATUSES | {"all", "active"}:
            raise BadRequest(f"'status' must be all, active or a job status; got {status!r}")
        before = (
            parse_time(filters["scheduledBefore"], field="scheduledBefore")
            if "scheduledBefore" in filters
            else None
        )
        after = (
            parse_time(filters["scheduledAfter"], field="scheduledAfter")
            if "scheduledAfter" in filters
            else None
        )

        def keep(record: Record) -> bool:
            job = record.body
            job_status = job.get("status")
            if status == "active" and job_status not in ACTIVE_JOB_STATUSES:
                return False
            if status not in ("all", "active") and job_status != status:
                return False
            for key in ("queueId", "channelId", "classificationPolicyId"):
                if key in filters and job.get(key) != filters[key]:
                    return False
            if before is not None or after is not None:
                at = job.get("matchingMode", {}).get("scheduleAt")
                if at is None:
                    return False
                when = parse_time(at, field="scheduleAt")
                if (before is not None and when > before) or (after is not None and when < after):
                    return False
            return True

        return keep

    def _worker_filter(self, filters: Mapping[str, str]) -> Callable[[Record], bool]:
        known = {"state", "channelId", "queueId", "hasCapacity"}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise BadRequest(f"Unknown query parameter(s) for workers: {', '.join(unknown)}")
        state = filters.get("state", "all")
        if state not in _WORKER_STATES | {"all"}:
            raise BadRequest(f"'state' must be all, active, draining or inactive; got {state!r}")
        has_capacity_text = filters.get("hasCapacity", "false").lower()
        if has_capacity_text not in ("true", "false"):
            raise BadRequest(f"'hasCapacity' must be true or false; got {filters.get('hasCapacity')!r}")
        has_capacity = has_capacity_text == "true"
        channel_id = filters.get("channelId")

        def keep(record: Record) -> bool:
            worker = record.body
            if state != "all" and worker.get("state") != state:
                return False
            if "queueId" in filters and filters["queueId"] not in worker.get("queues", []):
                return False
            channels = [
                c
                for c in worker.get("channels", [])
                if channel_id is None or c.get("channelId") == channel_id
            ]
            if channel_id is not None and not channels:
                return False
            if has_capacity:
                left = capacity_left(worker)
                return (
                    any(left >= int(c.get("capacityCostPerJob", 0)) for c in channels)
                    and int(worker.get("capacity", 0)) > 0
                )
            return True

        return keep

    def _job_action(self, call: Call) -> Reply:
        job_id, verb = call.params
        body = _options(call.body)
        if verb == "cancel":
            self.router.cancel_job(job_id, _opt_str(body, "note"), _opt_str(body, "dispositionCode"))
        else:
            self.router.reclassify_job(job_id)
        return Reply(200, {})

    def _assignment_action(self, call: Call) -> Reply:
        job_id, assignment_id, verb = call.params
        body = _options(call.body)
        if verb == "complete":
            self.router.complete_job(job_id, assignment_id, _opt_str(body, "note"))
            return Reply(200, {})
        if verb == "close":
            close_at = (
                parse_time(body["closeAt"], field="closeAt") if body.get("closeAt") is not None else None
            )
            self.router.close_job(
                job_id, assignment_id, _opt_str(body, "dispositionCode"), close_at, _opt_str(body, "note")
            )
            return Reply(200, {})
        suspend = body.get("suspendMatching", False)
        if not isinstance(suspend, bool):
            raise BadRequest("'suspendMatching' must be true or false.")
        return Reply(200, self.router.unassign_job(job_id, assignment_id, suspend))

    def _offer_action(self, call: Call) -> Reply:
        worker_id, offer_id, verb = call.params
        if verb == "accept":
            return Reply(200, self.router.accept_offer(worker_id, offer_id))
        body = _options(call.body)
        retry = (
            parse_time(body["retryOfferAt"], field="retryOfferAt")
            if body.get("retryOfferAt") is not None
            else None
        )
        self.router.decline_offer(worker_id, offer_id, retry)
        return Reply(200, {})

    def _position(self, call: Call) -> Reply:
        (job_id,) = call.params
        return Reply(200, self.router.queue_position(job_id))

    def _statistics(self, call: Call) -> Reply:
        (queue_id,) = call.params
        return Reply(200, self.router.queue_statistics(queue_id))

    # ------------------------------------------------------------------------------ /admin

    async def _admin_state(self, request: web.Request) -> web.Response:
        snapshot = self.router.store.snapshot()
        snapshot["timers"] = sorted(
            (
                {"key": list(map(str, k)) if isinstance(k, tuple) else str(k), "due": v.isoformat()}
                for k, v in self.router.timers.pending().items()
            ),
            key=lambda t: str(t["due"]),
        )
        snapshot["faults"] = [f.as_json() for f in self.faults.rules()]
        return web.json_response(snapshot)

    async def _admin_events(self, request: web.Request) -> web.Response:
        events = self._admin.events()
        wanted = request.query.get("type")
        if wanted:
            events = [e for e in events if str(e.get("eventType", "")).endswith(wanted)]
        return web.json_response(events)

    async def _admin_faults(self, request: web.Request) -> web.Response:
        return web.json_response([f.as_json() for f in self.faults.rules()])

    async def _admin_add_fault(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("the body must be a JSON object")
            rule = self.faults.add(FaultRule.from_json(spec))
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(rule.as_json(), status=201)

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.Response(status=204)

    async def _admin_remove_fault(self, request: web.Request) -> web.Response:
        if not self.faults.remove(request.match_info["fault_id"]):
            return web.json_response({"error": "no such fault"}, status=404)
        return web.Response(status=204)

    async def _admin_publisher(self, request: web.Request) -> web.Response:
        return web.json_response(self._admin.publisher_settings())

    async def _admin_set_publisher(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("the body must be a JSON object")
            return web.json_response(self._admin.set_publisher(spec))
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.router.reset()
        self.router.commit()
        return web.Response(status=204)

    async def _admin_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


class _DroppedConnection(Exception):
    """Raised after a fault aborted the connection; the middleware logs it and re-raises."""


@web.middleware
async def _request_log(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    start = time.perf_counter()
    status: int | str = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except _DroppedConnection:
        status = "dropped"
        raise web.HTTPServiceUnavailable() from None  # never sent: the transport is gone
    finally:
        log.info(
            "%s %s %s %.1fms", request.method, request.path_qs, status, (time.perf_counter() - start) * 1000
        )


def _common_headers() -> dict[str, str]:
    return {
        "api-supported-versions": SUPPORTED_VERSIONS,
        "Request-Context": "appId=",
        "trace-id": str(uuid.uuid4()),
        "X-Cache": "CONFIG_NOCACHE",
    }


def _render(reply: Reply) -> web.Response:
    headers = _common_headers()
    if reply.record is not None:
        headers["ETag"] = f'"{reply.record.etag}"'
        headers["Last-Modified"] = format_http_date(reply.record.last_modified)
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    headers["Content-Type"] = "application/json; charset=utf-8"
    return web.Response(
        status=reply.status, body=json.dumps(reply.body, separators=(",", ":")).encode(), headers=headers
    )


def _error(status: int, code: str, message: str, target: str | None) -> web.Response:
    headers = _common_headers() | {"Content-Type": "application/json; charset=utf-8"}
    return web.Response(
        status=status, body=json.dumps(error_body(code, message, target)).encode(), headers=headers
    )


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None


def _options(body: Any) -> JsonObject:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string.")
    return value


def _page_size(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        size = int(text)
    except ValueError:
        raise BadRequest(f"'maxpagesize' must be an integer, got {text!r}") from None
    if size < 1:
        raise BadRequest(f"'maxpagesize' must be at least 1, got {size}")
    return size


def _encode_token(state: Mapping[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, kind: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(state, dict) or state.get("k") != kind:
            raise ValueError("wrong collection")
        int(state["n"])
        int(state["after"])
        if not isinstance(state["f"], dict):
            raise ValueError("bad filters")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest(
            "The continuationToken is not valid for this list.", code="InvalidContinuationToken"
        ) from None
    return state
