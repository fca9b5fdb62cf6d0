"""The emulator's /admin HTTP API: state snapshot, event log, faults, publisher knobs, reset, health.

Not part of Job Router: a test or a person drives the emulator with it (docs/emulator-support-matrix.md
lists every route). It needs no authentication, so it answers only what cannot come from a web page the
developer has open: a request whose ``Host`` is not a loopback name or address (or the host the emulator was
told to listen on) gets 403, which defeats DNS rebinding, and a POST or PUT without a JSON content type gets
415, so no cross-origin "simple" request (``text/plain``, a form) can change the emulator's state.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from devstack.jobrouter.engine import Router
from devstack.jobrouter.faults import FaultRule, FaultSet
from devstack.jobrouter.wire import JsonObject

__all__ = ["AdminApi", "AdminHooks"]


@dataclass(frozen=True, slots=True)
class AdminHooks:
    """What the admin API needs from the server besides the engine."""

    events: Callable[[], list[JsonObject]]
    publisher_settings: Callable[[], JsonObject]
    set_publisher: Callable[[Mapping[str, Any]], JsonObject]


class AdminApi:
    """The /admin routes over a router, a fault set and the server's hooks."""

    def __init__(self, router: Router, faults: FaultSet, hooks: AdminHooks, *, bind_host: str = "") -> None:
        self._router = router
        self._faults = faults
        self._hooks = hooks
        self._bind_host = bind_host.strip("[]").lower()

    def add_routes(self, app: web.Application) -> None:
        """Register every /admin route on ``app``, behind the local-only guard."""
        app.middlewares.append(self._guard)
        app.router.add_get("/admin/state", self._state)
        app.router.add_get("/admin/events", self._events)
        app.router.add_get("/admin/faults", self._faults_list)
        app.router.add_post("/admin/faults", self._add_fault)
        app.router.add_delete("/admin/faults", self._clear_faults)
        app.router.add_delete("/admin/faults/{fault_id}", self._remove_fault)
        app.router.add_get("/admin/publisher", self._publisher)
        app.router.add_route("PUT", "/admin/publisher", self._set_publisher)
        app.router.add_post("/admin/reset", self._reset)
        app.router.add_get("/admin/health", self._health)

    async def _state(self, request: web.Request) -> web.Response:
        snapshot = self._router.store.snapshot()
        snapshot["timers"] = sorted(
            (
                {"key": list(map(str, k)) if isinstance(k, tuple) else str(k), "due": v.isoformat()}
                for k, v in self._router.timers.pending().items()
            ),
            key=lambda t: str(t["due"]),
        )
        snapshot["faults"] = [f.as_json() for f in self._faults.rules()]
        return web.json_response(snapshot)

    async def _events(self, request: web.Request) -> web.Response:
        events = self._hooks.events()
        wanted = request.query.get("type")
        if wanted:
            events = [e for e in events if str(e.get("eventType", "")).endswith(wanted)]
        return web.json_response(events)

    async def _faults_list(self, request: web.Request) -> web.Response:
        return web.json_response([f.as_json() for f in self._faults.rules()])

    async def _add_fault(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("the body must be a JSON object")
            rule = self._faults.add(FaultRule.from_json(spec))
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(rule.as_json(), status=201)

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self._faults.clear()
        return web.Response(status=204)

    async def _remove_fault(self, request: web.Request) -> web.Response:
        if not self._faults.remove(request.match_info["fault_id"]):
            return web.json_response({"error": "no such fault"}, status=404)
        return web.Response(status=204)

    async def _publisher(self, request: web.Request) -> web.Response:
        return web.json_response(self._hooks.publisher_settings())

    async def _set_publisher(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("the body must be a JSON object")
            return web.json_response(self._hooks.set_publisher(spec))
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    async def _reset(self, request: web.Request) -> web.Response:
        self._router.reset()
        self._router.commit_or_stop()
        return web.Response(status=204)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/admin"):
            return await handler(request)
        if not self._local_host(request.headers.get("Host", "")):
            return web.json_response(
                {"error": "the admin API answers only requests addressed to a loopback host (Host header)"},
                status=403,
            )
        if request.method in ("POST", "PUT", "PATCH") and request.content_type != "application/json":
            return web.json_response(
                {"error": "state-changing admin requests need Content-Type: application/json"}, status=415
            )
        return await handler(request)

    def _local_host(self, host_header: str) -> bool:
        host = (urlsplit(f"//{host_header}").hostname or "").lower()
        if host == "localhost" or host.endswith(".localhost") or (host and host == self._bind_host):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
