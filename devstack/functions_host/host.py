"""The Functions host stand-in: an aiohttp server for the app's triggers, backed by the worker library.

``FunctionsHost`` loads app settings into the environment, indexes the app through
``devstack.functions_worker`` and serves ``POST /runtime/webhooks/eventgrid?functionName=NAME`` with the
status codes of the real host (``contract.py``): each event of a request is one invocation; all run
concurrently and the response waits for every one of them. HTTP functions are served at ``/api/<route>``
behind a function key (``http_routes.py``), and timer functions run on their schedules
(``timer_triggers.py``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, assert_never
from urllib.parse import quote

from aiohttp import web

from devstack.functions_host import contract
from devstack.functions_host.http_routes import (
    ROUTE_PREFIX,
    HttpRoute,
    http_routes,
    is_authorized,
    match_route,
)
from devstack.functions_host.ncrontab import CrontabError
from devstack.functions_host.settings import apply_settings
from devstack.functions_host.timer_triggers import TimerRunner, TimerSpec, timer_specs
from devstack.functions_worker import EVENT_GRID_TRIGGER, HttpRequestData, WorkerApp, WorkerIndexError
from devstack.web import app_runner, close_runner

__all__ = [
    "DEFAULT_APP_SETTINGS",
    "FUNCTION_KEY_SETTING",
    "FunctionsHost",
    "HostNotStartedError",
    "InvocationRecord",
]

_log = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
MAX_RECORDS: Final = 100_000
"""Invocation records kept (oldest dropped first); the counters are never truncated."""
_MAX_BODY_BYTES: Final = 64 * 1024 * 1024  # Event Grid batches are at most 1 MB; be generous, not unbounded
FUNCTION_KEY_SETTING: Final = "DEVSTACK_FUNCTION_KEY"
"""The key HTTP functions (auth level function or admin) accept; unset: a random one per start."""
DEFAULT_APP_SETTINGS: Final[Mapping[str, str]] = {
    # The worker thread pool the deploy template sets: in-flight offers per worker process (BENCHMARKS.md,
    # "Thread pool"). A settings file or the environment still wins.
    "PYTHON_THREADPOOL_THREAD_COUNT": "32",
}


class HostNotStartedError(RuntimeError):
    """The host has no address yet (``start()`` was not awaited) or was stopped."""


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    """One function invocation the host made for one event."""

    function_name: str
    event_id: str | None
    ok: bool
    error: str | None
    duration_ms: float
    started_at: datetime
    ended_at: datetime


def _event_id(event: object) -> str | None:
    if isinstance(event, dict):
        value = event.get("id")
        return None if value is None else str(value)
    return None


def _served_name(function_name: str) -> str:
    # The extension registers each listener under the descriptor's short name with any "Functions."
    # style prefix cut off (`ShortName.Split('.').Last()`), then matches the query value exactly.
    return function_name.rsplit(".", maxsplit=1)[-1]


class FunctionsHost:
    """Serve a function app's Event Grid functions over the host's webhook contract on loopback.

    ``settings`` are applied to ``os.environ`` in ``start()`` before indexing, never replacing variables
    already set; the ones this host set are removed again in ``stop()``.
    """

    def __init__(
        self,
        app_dir: Path,
        settings: Mapping[str, str] | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        script: str | None = None,
    ) -> None:
        self.app_dir = Path(app_dir)
        self._settings = dict(settings or {})
        self._bind_host = host
        self._bind_port = port
        self._script = script
        self._worker: WorkerApp | None = None
        self._served: dict[str, str] = {}
        self._routes: tuple[HttpRoute, ...] = ()
        self._timers: TimerRunner | None = None
        self._timer_specs: tuple[TimerSpec, ...] = ()
        self._function_key = ""
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._env_set_by_us: tuple[str, ...] = ()
        self._records: collections.deque[InvocationRecord] = collections.deque(maxlen=MAX_RECORDS)
        self._ok = 0
        self._failed = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Apply settings, index the app (``WorkerIndexError`` on failure) and start listening."""
        if self._runner is not None:
            raise RuntimeError("FunctionsHost is already started")
        applied = apply_settings({**DEFAULT_APP_SETTINGS, **self._settings})
        self._env_set_by_us = applied.set_names
        try:
            script = self._script or os.environ.get("PYTHON_SCRIPT_FILE_NAME") or "function_app.py"
            self._worker = WorkerApp.load(self.app_dir, script)
            functions = tuple(self._worker.functions.values())
            self._served = {
                _served_name(info.name): info.name
                for info in functions
                if info.trigger_type == EVENT_GRID_TRIGGER
            }
            self._routes = http_routes(functions)
            try:
                timers = timer_specs(functions)
            except CrontabError as err:
                raise WorkerIndexError(self.app_dir, script, f"CrontabError: {err}") from err
            self._function_key = os.environ.get(FUNCTION_KEY_SETTING) or secrets.token_urlsafe(32)
            app = web.Application(client_max_size=_MAX_BODY_BYTES)
            # ASP.NET routing in the real host is case-insensitive: /runtime/webhooks/EventGrid works too.
            app.router.add_post("/runtime/webhooks/{extension}", self._handle_webhook)
            app.router.add_get("/admin/host/status", self._handle_status)
            app.router.add_route("*", ROUTE_PREFIX + "{path:.*}", self._handle_http)
            # A short grace period: stop() waits for in-flight requests at most this long.
            runner = app_runner(app, shutdown_timeout=5.0)
            await runner.setup()
            try:
                await web.TCPSite(runner, self._bind_host, self._bind_port).start()
            except BaseException:
                await close_runner(runner)
                raise
            self._runner = runner
            bound_host, bound_port = runner.addresses[0][:2]
            shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
            self._base_url = f"http://{shown}:{bound_port}"
            self._timer_specs = timers
            self._timers = TimerRunner(timers, self._invoke_timer)
            self._timers.start()
        except BaseException:
            self._release()
            raise

    async def stop(self) -> None:
        """Stop listening (in-flight requests get a short grace period) and undo ``start()``."""
        timers, self._timers = self._timers, None
        if timers is not None:
            await timers.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await close_runner(runner)
        self._release()

    def _release(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        for name in self._env_set_by_us:
            os.environ.pop(name, None)
        self._env_set_by_us = ()
        self._base_url = None

    async def __aenter__(self) -> FunctionsHost:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # --- addresses and state -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:7071``."""
        if self._base_url is None:
            raise HostNotStartedError("FunctionsHost has no URL: it is not started")
        return self._base_url

    def webhook_url(self, function_name: str) -> str:
        """The Event Grid webhook URL for one function (no ``code`` needed locally)."""
        return f"{self.url}{contract.WEBHOOK_PATH}?functionName={quote(function_name, safe='')}"

    @property
    def event_grid_functions(self) -> tuple[str, ...]:
        """Names the webhook serves (the app's ``eventGridTrigger`` functions)."""
        return tuple(self._served)

    @property
    def http_routes(self) -> tuple[HttpRoute, ...]:
        """The app's HTTP functions and their routes (served under ``/api/``)."""
        return self._routes

    @property
    def timer_schedules(self) -> tuple[tuple[str, str], ...]:
        """(function name, NCRONTAB schedule) of the app's timer functions."""
        return tuple((spec.function_name, spec.schedule.expression) for spec in self._timer_specs)

    def http_url(self, route: str) -> str:
        """The URL of an HTTP route, e.g. ``http_url("health")``."""
        return f"{self.url}{ROUTE_PREFIX}{route.lstrip('/')}"

    @property
    def function_key(self) -> str:
        """The key HTTP functions accept (``DEVSTACK_FUNCTION_KEY``, else generated at start)."""
        return self._function_key

    @property
    def invocations_ok(self) -> int:
        """Successful Event Grid invocations (HTTP and timer invocations are in ``records`` only)."""
        return self._ok

    @property
    def invocations_failed(self) -> int:
        """Failed Event Grid invocations."""
        return self._failed

    @property
    def records(self) -> Sequence[InvocationRecord]:
        """A snapshot of the invocation records, oldest first."""
        return tuple(self._records)

    # --- handlers -------------------------------------------------------------------------------------

    async def _handle_status(self, _request: web.Request) -> web.Response:
        return web.json_response({"state": "Running"})

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        if request.match_info["extension"].lower() != "eventgrid":
            return web.Response(status=404)
        query = {key.lower(): key for key in request.query}
        key = query.get("functionname")
        function_name = ",".join(request.query.getall(key)) if key is not None else None
        event_type = request.headers.get(contract.EVENT_TYPE_HEADER)
        body = b"" if event_type is None else await request.read()
        decision = contract.decide(function_name, self._served, event_type, body)
        return await self._respond(decision)

    async def _respond(self, decision: contract.Decision) -> web.Response:
        match decision:
            case contract.FunctionNotFound(name):
                _log.info(
                    "cannot find function: '%s', available function names: [%s]",
                    name,
                    ", ".join(self._served),
                )
                return web.Response(status=404, text=contract.not_found_message(name))
            case contract.BadRequest(name, header):
                _log.warning(
                    "400 for %s: %s header is %s",
                    name,
                    contract.EVENT_TYPE_HEADER,
                    "missing" if header is None else f"unknown ({header!r})",
                )
                return web.Response(status=400)
            case contract.Validation(name, code):
                _log.info("perform handshake with eventGrid for function: %s", name)
                return web.json_response({"validationResponse": code})
            case contract.Unsubscribe(name):
                _log.info("unsubscribe received for function: %s", name)
                return web.Response(status=202)
            case contract.BodyError(name, message):
                _log.warning("500 for %s: %s", name, message)
                return web.Response(status=500, text=message)
            case contract.Notification(name, events):
                return await self._notify(self._served[name], events)
            case _:
                assert_never(decision)

    async def _notify(self, function_name: str, events: tuple[object, ...]) -> web.Response:
        records = await asyncio.gather(*(self._invoke(function_name, event) for event in events))
        failed = next((r for r in records if not r.ok), None)
        if failed is None:
            return web.Response(status=202)
        # The real host's body is only the first sentence; the worker's exception text follows for you.
        text = f"Exception while executing function: Functions.{function_name}. {failed.error}"
        return web.Response(status=500, text=text)

    async def _invoke(self, function_name: str, event: object) -> InvocationRecord:
        worker = self._worker
        assert worker is not None  # handlers only run between start() and stop()
        started_at = datetime.now(UTC)
        event_id = _event_id(event)
        if isinstance(event, dict):
            result = await worker.invoke(function_name, event)
            ok, error, duration_ms = result.ok, result.error, result.duration_ms
        else:
            # The extension binds each array element to a JSON object; anything else fails that invocation.
            ok, duration_ms = False, 0.0
            error = (
                f"Unable to bind {type(event).__name__} event to an Event Grid trigger: "
                "expected a JSON object"
            )
        if ok:
            self._ok += 1
        else:
            self._failed += 1
        return self._note(
            function_name,
            f"event={event_id}",
            event_id=event_id,
            ok=ok,
            error=error,
            duration_ms=duration_ms,
            started_at=started_at,
        )

    def _note(
        self,
        function_name: str,
        what: str,
        *,
        event_id: str | None,
        ok: bool,
        error: str | None,
        duration_ms: float,
        started_at: datetime,
    ) -> InvocationRecord:
        record = InvocationRecord(
            function_name=function_name,
            event_id=event_id,
            ok=ok,
            error=error,
            duration_ms=duration_ms,
            started_at=started_at,
            ended_at=datetime.now(UTC),
        )
        self._records.append(record)
        if ok:
            _log.info("Executed '%s' (Succeeded, %s, %.1f ms)", function_name, what, duration_ms)
        else:
            _log.info("Executed '%s' (Failed, %s, %.1f ms): %s", function_name, what, duration_ms, error)
        return record

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        worker = self._worker
        assert worker is not None  # handlers only run between start() and stop()
        found = match_route(self._routes, request.method, request.match_info["path"])
        if found is None:
            return web.Response(status=404)
        route, params = found
        headers = {name.lower(): value for name, value in request.headers.items()}
        query = {name: request.query[name] for name in request.query}
        if not is_authorized(route, headers, query, self._function_key):
            _log.info("401 for %s: no valid function key", route.function_name)
            return web.Response(status=401)
        started_at = datetime.now(UTC)
        data = HttpRequestData(
            method=request.method,
            url=str(request.url),
            headers=headers,
            body=await request.read(),
            query=query,
            route_params=params,
        )
        result = await worker.invoke_http(route.function_name, data)
        what = f"{request.method} {request.path}"
        self._note(
            route.function_name,
            what,
            event_id=None,
            ok=result.ok,
            error=result.error,
            duration_ms=result.duration_ms,
            started_at=started_at,
        )
        if not result.ok or result.response is None:
            return web.Response(status=500)  # the real host's answer to an exception: 500, empty body
        response = result.response
        return web.Response(status=response.status, body=response.body, headers=dict(response.headers))

    async def _invoke_timer(self, spec: TimerSpec, last: datetime | None, next_run: datetime) -> None:
        worker = self._worker
        if worker is None:
            return
        started_at = datetime.now(UTC)
        result = await worker.invoke_timer(spec.function_name, past_due=False, last=last, next_run=next_run)
        what = f"timer, next {next_run.isoformat()}"
        self._note(
            spec.function_name,
            what,
            event_id=None,
            ok=result.ok,
            error=result.error,
            duration_ms=result.duration_ms,
            started_at=started_at,
        )
