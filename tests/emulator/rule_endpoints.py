"""Loopback stand-ins for what Job Router rules call: a function app, an OAuth server, a webhook.

:class:`RuleEndpointsThread` listens on 127.0.0.1 (its own loop in a background thread, so sync and async
tests can use it) and records every request. Routes, all POST:

- ``/api/priority``: an Azure Function with function-key auth (``x-functions-key: fn-key``, or the app key
  ``app-key`` with ``x-functions-clientid: default``); answers ``10`` when ``job.Escalated`` is true, else
  ``1`` (Microsoft's "GetPriority" sample), after ``?delay=`` seconds if given;
- ``/api/answer/{name}``: answers the JSON value set with ``answers[name] = ...`` (function-key auth);
- ``/api/score``: a scoring function: the worker's ``Skill`` label, or for a batch (``workers``) the list of
  them in order;
- ``/oauth/token``: the client-credentials grant for client ``router`` / secret ``s3cret``; issues
  ``token-1``, ``token-2``... (``expires_in`` 3600);
- ``/hook/priority``: the same answer as ``/api/priority``, for a valid bearer token only;
- ``/slow`` (answers ``1`` after ``?seconds=`` or ``slow_seconds``), ``/fail`` (500), ``/not-json``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from devstack.web import close_runner

__all__ = ["FUNCTION_KEY", "RecordedCall", "RuleEndpointsThread"]

FUNCTION_KEY = "fn-key"
APP_KEY = "app-key"
CLIENT_ID = "router"
CLIENT_SECRET = "s3cret"


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One request as the endpoints saw it (header names lower-case)."""

    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


class RuleEndpointsThread:
    """The endpoints on a free loopback port, served from a background thread."""

    def __init__(self, *, slow_seconds: float = 5.0) -> None:
        self.slow_seconds = slow_seconds
        self.answers: dict[str, Any] = {}
        self.calls: list[RecordedCall] = []
        self.tokens_issued: list[str] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        ready: Future[int] = Future()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                ready.set_result(self._loop.run_until_complete(self._start()))
            except BaseException as exc:
                ready.set_exception(exc)
                return
            self._loop.run_forever()
            self._loop.run_until_complete(self._stop())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="rule-endpoints", daemon=True)
        self._thread.start()
        self.port = ready.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_post("/api/priority", self._priority)
        app.router.add_post("/api/answer/{name}", self._answer)
        app.router.add_post("/api/score", self._score)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/hook/priority", self._hook)
        app.router.add_post("/slow", self._slow)
        app.router.add_post("/fail", self._fail)
        app.router.add_post("/not-json", self._not_json)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        if self._runner is not None:
            await close_runner(self._runner)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def calls_to(self, path: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    # ------------------------------------------------------------------ handlers

    async def _record(self, request: web.Request, response: web.Response) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self.calls.append(RecordedCall(request.path, headers, body, response.status))
        return response

    @staticmethod
    def _key_ok(request: web.Request) -> bool:
        key = request.headers.get("x-functions-key")
        return key == FUNCTION_KEY or (
            key == APP_KEY and request.headers.get("x-functions-clientid") == "default"
        )

    @staticmethod
    def _priority_of(payload: Any) -> int:
        return 10 if payload.get("job", {}).get("Escalated") is True else 1

    async def _priority(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", 0)))
        if not self._key_ok(request):
            return await self._record(request, web.Response(status=401))
        payload = json.loads(await request.read())
        return await self._record(request, web.json_response(self._priority_of(payload)))

    async def _answer(self, request: web.Request) -> web.Response:
        if not self._key_ok(request):
            return await self._record(request, web.Response(status=401))
        return await self._record(request, web.json_response(self.answers[request.match_info["name"]]))

    async def _score(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        if "workers" in payload:
            answer: Any = [w.get("Skill", 0) for w in payload["workers"]]
        else:
            answer = payload["worker"].get("Skill", 0)
        return await self._record(request, web.json_response(answer))

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return await self._record(request, web.json_response({"error": "invalid_client"}, status=401))
        with self._lock:
            token = f"token-{len(self.tokens_issued) + 1}"
            self.tokens_issued.append(token)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return await self._record(request, web.json_response(answer))

    async def _hook(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens_issued:
            return await self._record(request, web.Response(status=401))
        payload = json.loads(await request.read())
        return await self._record(request, web.json_response(self._priority_of(payload)))

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("seconds", self.slow_seconds)))
        return await self._record(request, web.json_response(1))

    async def _fail(self, request: web.Request) -> web.Response:
        return await self._record(request, web.Response(status=500, text="boom"))

    async def _not_json(self, request: web.Request) -> web.Response:
        return await self._record(request, web.Response(text="plain text"))
