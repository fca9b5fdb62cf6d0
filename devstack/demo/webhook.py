"""The orchestrator's own Event Grid webhook: how the simulated agent app and the live counters hear events.

A small aiohttp server on loopback that answers like any Event Grid subscriber: the
``SubscriptionValidation`` handshake (either schema), then ``Notification`` requests (an Event Grid array or
one CloudEvent), answered 200 once every event in them was handed to the callback. Event Grid delivers at
least once, so repeated event ids are dropped here (a bounded memory).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from devstack.demo.demo_event import DemoEvent, parse_envelope
from devstack.web import app_runner, close_runner

__all__ = ["AgentWebhook"]

_log = logging.getLogger(__name__)

PATH: Final = "/api/agent-app/events"
_SEEN_LIMIT: Final = 100_000


class AgentWebhook:
    """Receives router events on ``url`` and passes each new one to ``on_event`` (on the loop thread)."""

    def __init__(self, on_event: Callable[[DemoEvent], None], *, host: str = "127.0.0.1") -> None:
        self._on_event = on_event
        self._host = host
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0
        self.rejected = 0

    @property
    def url(self) -> str:
        """The webhook URL to subscribe (after ``start``)."""
        if self._url is None:
            raise RuntimeError("the agent webhook is not started")
        return self._url

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        runner = app_runner(app, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, 0).start()
        except BaseException:
            await close_runner(runner)
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}{PATH}"

    async def close(self) -> None:
        """Stop listening (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await close_runner(runner)

    async def _handle(self, request: web.Request) -> web.Response:
        kind = request.headers.get("aeg-event-type", "").lower()
        try:
            payload = json.loads(await request.read())
        except ValueError:
            self.rejected += 1
            return web.json_response({"error": "the body is not JSON"}, status=400)
        items: list[Any] = payload if isinstance(payload, list) else [payload]
        if kind == "subscriptionvalidation":
            code = _validation_code(items)
            if code is None:
                self.rejected += 1
                return web.json_response({"error": "no data.validationCode"}, status=400)
            return web.json_response({"validationResponse": code})
        if kind != "notification":
            return web.Response(status=202 if kind == "unsubscribe" else 400)
        events = []
        for item in items:
            try:
                events.append(parse_envelope(item))
            except ValueError as err:
                # Dropping an event here would hide it from the agent app for good: say so loudly.
                _log.warning("agent webhook: ignoring a malformed event: %s", err)
                self.rejected += 1
        for event in events:
            if self._remember(event.id):
                try:
                    self._on_event(event)
                except Exception:
                    _log.exception("agent webhook: handling event %s (%s) failed", event.id, event.type)
        return web.Response(status=200)

    def _remember(self, event_id: str) -> bool:
        if event_id in self._seen:
            self.duplicates += 1
            return False
        self._seen[event_id] = None
        while len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True


def _validation_code(items: list[Any]) -> str | None:
    if not items or not isinstance(items[0], Mapping):
        return None
    data = items[0].get("data")
    if isinstance(data, str):  # CloudEvents handshakes may carry data as a JSON string
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if isinstance(data, Mapping):
        code = data.get("validationCode")
        return code if isinstance(code, str) else None
    return None
