"""The emulator's HTTP shell: aiohttp routes for REST API 2023-11-01 under ``/routing``, and ``/admin``.

Request flow for ``/routing``: read the body, apply an injected fault if one matches, authenticate (HMAC or
bearer), check ``api-version``, route, call the handler (:mod:`~devstack.jobrouter.http_resource_handlers`,
:mod:`~devstack.jobrouter.http_action_handlers`), commit the engine's changes, render. Every response
carries the headers the live service sends (``api-supported-versions``, ``trace-id``, ...); resources also
get ``ETag`` and ``Last-Modified``; errors use the ``communicationError`` envelope. One INFO log line per
request: method, path, status, milliseconds (never headers, keys or bodies).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final
from urllib.parse import unquote

from aiohttp import web

from devstack.jobrouter.auth import check_request
from devstack.jobrouter.engine import Router
from devstack.jobrouter.errors import BadRequest, NotFound, RouterApiError, error_body
from devstack.jobrouter.faults import FaultRule, FaultSet
from devstack.jobrouter.http_action_handlers import ActionHandlers
from devstack.jobrouter.http_admin import AdminApi, AdminHooks
from devstack.jobrouter.http_messages import Call, Handler, Reply
from devstack.jobrouter.http_resource_handlers import ResourceHandlers
from devstack.jobrouter.store import StateWriteError
from devstack.jobrouter.timers import Clock
from devstack.jobrouter.wire import format_http_date, parse_json_body

__all__ = ["API_VERSION", "AdminHooks", "RestApi"]

log = logging.getLogger("devstack.jobrouter.requests")

API_VERSION: Final = "2023-11-01"
SUPPORTED_VERSIONS: Final = "2021-04-07-preview1, 2022-07-18-preview, 2023-08-25-preview, 2023-11-01"
_KINDS: Final = "distributionPolicies|queues|classificationPolicies|exceptionPolicies|workers|jobs"


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
        bind_host: str = "",
    ) -> None:
        self.router = router
        self._key = key
        self._bearer = bearer_token
        self._clock = clock
        self.faults = faults
        self._admin = AdminApi(router, faults, admin, bind_host=bind_host)
        self._max_skew = timedelta(seconds=max_skew_seconds)
        self._routes = _routes(ResourceHandlers(router, page_size=page_size), ActionHandlers(router))

    def build_app(self) -> web.Application:
        """The aiohttp application (request log middleware, /routing and /admin)."""
        app = web.Application(middlewares=[_request_log], client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/routing{tail:.*}", self._handle_routing)
        self._admin.add_routes(app)
        return app

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
                body=parse_json_body(body),
            )
            try:
                reply = handler(call)
            finally:
                self.router.commit()
        except StateWriteError as exc:
            # Never acknowledge a change that is not on disk: answer 503 and let the server stop, loudly.
            self.router.on_state_lost(exc)
            response = _error(
                503,
                "ServiceUnavailable",
                "The emulator could not save this change to its state file and is stopping (see its log).",
                request.path,
            )
            response.headers["Retry-After"] = "10"
            return response
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


def _routes(
    resources: ResourceHandlers, actions: ActionHandlers
) -> list[tuple[str, re.Pattern[str], Handler]]:
    seg = r"([^/]+)"
    action_seg = r"([^/]+?)"
    table: list[tuple[str, str, Handler]] = [
        ("POST", rf"/routing/jobs/{action_seg}:(reclassify|cancel)", actions.job_action),
        (
            "POST",
            rf"/routing/jobs/{seg}/assignments/{action_seg}:(complete|close|unassign)",
            actions.assignment_action,
        ),
        ("GET", rf"/routing/jobs/{seg}/position", actions.position),
        ("GET", rf"/routing/queues/{seg}/statistics", actions.statistics),
        ("POST", rf"/routing/workers/{seg}/offers/{action_seg}:(accept|decline)", actions.offer_action),
        ("GET", rf"/routing/({_KINDS})", resources.list),
        ("PATCH", rf"/routing/({_KINDS})/{seg}", resources.upsert),
        ("GET", rf"/routing/({_KINDS})/{seg}", resources.get),
        ("DELETE", rf"/routing/({_KINDS})/{seg}", resources.delete),
    ]
    return [(m, re.compile(f"^{p}$"), h) for m, p, h in table]


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
        status=reply.status,
        body=json.dumps(reply.body, separators=(",", ":"), allow_nan=False).encode(),
        headers=headers,
    )


def _error(status: int, code: str, message: str, target: str | None) -> web.Response:
    headers = _common_headers() | {"Content-Type": "application/json; charset=utf-8"}
    return web.Response(
        status=status, body=json.dumps(error_body(code, message, target)).encode(), headers=headers
    )
