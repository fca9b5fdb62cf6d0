"""Run the emulator: :class:`Emulator` on the caller's event loop, :class:`EmulatorThread` on its own thread.

Both expose ``endpoint`` (``http://127.0.0.1:PORT``), ``connection_string``, ``access_key`` and a small Python
admin API (faults, state snapshot, event log, publisher knobs, reset) equivalent to the HTTP ``/admin`` API.
Build SDK clients with ``JobRouterClient(emulator.endpoint, AzureKeyCredential(emulator.access_key))``:
the SDK turns ``http://`` in a connection string into ``https://`` (README.md, "The dev stack").
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from devstack.jobrouter.auth import decode_key
from devstack.jobrouter.config import EmulatorConfig
from devstack.jobrouter.engine import Router
from devstack.jobrouter.eventgrid import EventPublisher, PublishedEvent
from devstack.jobrouter.faults import FaultAction, FaultRule, FaultSet
from devstack.jobrouter.http_api import AdminHooks, RestApi
from devstack.jobrouter.rule_http import HttpRuleCaller
from devstack.jobrouter.store import StateWriteError, Store
from devstack.jobrouter.timers import Clock, SystemClock
from devstack.jobrouter.wire import JsonObject
from devstack.web import app_runner, close_runner

__all__ = ["Emulator", "EmulatorThread"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Emulator:
    """The Job Router emulator on the running event loop: ``await start()`` ... ``await stop()``."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._key = decode_key(self.config.access_key)
        self._clock: Clock = clock or SystemClock()
        self.faults = FaultSet(self.config.rng())
        self._runner: web.AppRunner | None = None
        self._publisher: EventPublisher | None = None
        self._router: Router | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Set when the emulator stopped itself because its state file could not be written.
        self.failure: StateWriteError | None = None
        self._failed = asyncio.Event()
        self._stopping: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the state, start the event publisher (webhook handshakes) and listen."""
        if self._runner is not None:
            raise RuntimeError("Emulator.start() called twice")
        self._loop = asyncio.get_running_loop()
        store = Store(self.config.state_file)
        publisher = EventPublisher(
            self.config.webhooks,
            topic=self.config.topic,
            duplicate_fraction=self.config.duplicate_fraction,
            reorder_window=self.config.reorder_window,
            seed=self.config.seed,
            event_log_limit=self.config.event_log_limit,
        )
        router = Router(
            store,
            clock=self._clock,
            publish=publisher.publish,
            rng=self.config.rng(),
            processing_delay=self.config.processing_delay,
            default_offer_expiry_seconds=self.config.default_offer_expiry_seconds,
            rule_caller=HttpRuleCaller(timeout=self.config.rule_timeout_seconds),
            worker_idle_seconds=self.config.worker_idle_seconds,
        )
        router.on_state_lost = self._state_lost
        self._publisher, self._router = publisher, router
        try:
            await publisher.start()
            router.attach(self._loop)
            api = RestApi(
                router,
                key=self._key,
                bearer_token=self.config.bearer_token,
                clock=self._clock,
                faults=self.faults,
                admin=AdminHooks(
                    events=self._event_dicts,
                    publisher_settings=self.publisher_settings,
                    set_publisher=self.set_publisher,
                ),
                page_size=self.config.default_page_size,
                max_skew_seconds=self.config.max_clock_skew_seconds,
                bind_host=self.config.host,
            )
            runner = app_runner(api.build_app(), shutdown_timeout=1.0)
            await runner.setup()
            self._runner = runner
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
        except BaseException:
            await self._shutdown()
            raise
        addresses = runner.addresses
        self._port = int(addresses[0][1])
        log.info("Job Router emulator listening on %s", self.endpoint)

    async def stop(self) -> None:
        """Stop listening, cancel timers, flush and close the state file, close the publisher. Idempotent."""
        await self._shutdown()

    async def wait_failed(self) -> StateWriteError:
        """Wait until the emulator stops itself because its state file could not be written."""
        await self._failed.wait()
        assert self.failure is not None
        return self.failure

    def _state_lost(self, exc: StateWriteError) -> None:
        """A change could not be saved: refuse everything from now on by stopping, loudly."""
        if self.failure is not None:
            return
        self.failure = exc
        log.critical("%s; stopping so that no change is acknowledged that is not saved", exc)
        self._failed.set()
        self._stopping = asyncio.get_running_loop().create_task(self._shutdown())

    async def _shutdown(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await close_runner(runner)
        router, self._router = self._router, None
        if router is not None:
            await router.stop_rule_calls()
            router.close()
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            await publisher.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --------------------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` without a trailing slash (0.0.0.0 and :: are reported as loopback)."""
        host = self.config.host
        if host in ("0.0.0.0", ""):  # noqa: S104 - only used to build a client URL
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def access_key(self) -> str:
        """The access key clients sign with."""
        return self.config.access_key

    @property
    def connection_string(self) -> str:
        """``endpoint=http://HOST:PORT/;accesskey=KEY`` (note: the SDK upgrades http to https here)."""
        return f"endpoint={self.endpoint}/;accesskey={self.access_key}"

    # ----------------------------------------------------------------------------- admin

    @property
    def router(self) -> Router:
        """The engine (after start)."""
        if self._router is None:
            raise RuntimeError("the emulator is not started")
        return self._router

    @property
    def publisher(self) -> EventPublisher:
        """The event publisher (after start)."""
        if self._publisher is None:
            raise RuntimeError("the emulator is not started")
        return self._publisher

    @property
    def events(self) -> list[PublishedEvent]:
        """The most recent events published (up to ``config.event_log_limit``), oldest first (a copy)."""
        return list(self.publisher.event_log)

    def _event_dicts(self) -> list[JsonObject]:
        return [e.to_eventgrid() for e in self.publisher.event_log]

    def state(self) -> JsonObject:
        """A JSON snapshot of all state (same as ``GET /admin/state`` without timers and faults)."""
        return self.router.store.snapshot()

    def add_fault(
        self,
        *,
        path: str = ".*",
        method: str = "*",
        status: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
        delay_ms: int | None = None,
        drop: bool = False,
        times: int | None = None,
        probability: float = 1.0,
    ) -> FaultRule:
        """Inject a fault on /routing requests matching ``method`` and the ``path`` regex.

        Exactly one of ``status`` (with optional ``retry_after``/``body``), ``delay_ms`` or ``drop``.
        """
        spec: dict[str, Any] = {"method": method, "path": path, "times": times, "probability": probability}
        chosen = [
            name
            for name, on in (
                ("status", status is not None),
                ("delayMs", delay_ms is not None),
                ("drop", drop),
            )
            if on
        ]
        if len(chosen) != 1:
            raise ValueError("give exactly one of status=, delay_ms= or drop=True")
        action: FaultAction = {"status": "status", "delayMs": "delay", "drop": "drop"}[chosen[0]]  # type: ignore[assignment]
        FaultRule.from_json(
            {
                k: v
                for k, v in (
                    spec
                    | {
                        "status": status,
                        "retryAfter": retry_after,
                        "body": body,
                        "delayMs": delay_ms,
                        "drop": drop or None,
                    }
                ).items()
                if v is not None
            }
        )  # validates
        rule = FaultRule.create(
            method=method,
            path=path,
            action=action,
            status=status or 503,
            retry_after=retry_after,
            body=body,
            delay_ms=delay_ms or 0,
            times=times,
            probability=probability,
        )
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def publisher_settings(self) -> JsonObject:
        """The publisher's knobs and delivery statistics."""
        publisher = self.publisher
        return {
            "duplicateFraction": publisher.duplicate_fraction,
            "reorderWindow": publisher.reorder_window,
            "eventLogLimit": self.config.event_log_limit,
            "stats": publisher.stats().as_dict(),
            "subscriptions": {name: str(state) for name, state in publisher.validation_state().items()},
        }

    def set_publisher(self, settings: Mapping[str, Any]) -> JsonObject:
        """Change ``duplicateFraction`` and/or ``reorderWindow`` (seconds); ValueError on bad values."""
        unknown = sorted(set(settings) - {"duplicateFraction", "reorderWindow"})
        if unknown:
            raise ValueError(f"unknown publisher setting(s): {', '.join(unknown)}")
        for key, setter in (
            ("duplicateFraction", self.publisher.set_duplicate_fraction),
            ("reorderWindow", self.publisher.set_reorder_window),
        ):
            if key in settings:
                value = settings[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"'{key}' must be a number")
                setter(float(value))
        return self.publisher_settings()

    def reset(self) -> None:
        """Delete all resources and pending timers (faults and the event log stay)."""
        self.router.reset()
        self.router.commit_or_stop()


class EmulatorThread:
    """An :class:`Emulator` running on a background thread with its own event loop (for sync tests).

    ``with EmulatorThread(config) as emu: ...`` or ``start()`` / ``stop()``. The admin methods are
    thread-safe: they run on the emulator's loop and wait for the result.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.emulator = Emulator(config, clock=clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and wait until the emulator listens (re-raises a startup error)."""
        if self._thread is not None:
            raise RuntimeError("EmulatorThread.start() called twice")
        ready: Future[None] = Future()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.emulator.start())
            except BaseException as exc:
                ready.set_exception(exc)
                _close_loop(loop)
                return
            ready.set_result(None)
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(self.emulator.stop())
                finally:
                    _close_loop(loop)
                    self._stopped.set()

        self._thread = threading.Thread(target=run, name="jobrouter-emulator", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout)
        except BaseException:
            self._thread.join(timeout)
            self._thread = None
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the emulator, the loop and the thread (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None or self._loop is None:
            return
        if thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("the emulator thread did not stop in time")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------------- thread bridge

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn`` on the emulator's loop thread and return its result."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("the emulator thread is not running")

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def drain_events(self, timeout: float = 10.0) -> bool:
        """Wait until every event published so far is delivered or dead-lettered."""
        if self._loop is None:
            raise RuntimeError("the emulator thread is not running")
        return asyncio.run_coroutine_threadsafe(self.emulator.publisher.drain(timeout), self._loop).result(
            timeout + 5
        )

    # ---------------------------------------------------------------------- same API as Emulator

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.emulator.endpoint

    @property
    def connection_string(self) -> str:
        """``endpoint=http://127.0.0.1:PORT/;accesskey=KEY``."""
        return self.emulator.connection_string

    @property
    def access_key(self) -> str:
        """The access key clients sign with."""
        return self.emulator.access_key

    @property
    def port(self) -> int:
        """The bound port."""
        return self.emulator.port

    @property
    def events(self) -> list[PublishedEvent]:
        """The most recent events published (up to ``config.event_log_limit``), oldest first."""
        return self.call(lambda: self.emulator.events)

    def state(self) -> JsonObject:
        """A JSON snapshot of all state."""
        return self.call(self.emulator.state)

    def add_fault(self, **kwargs: Any) -> FaultRule:
        """See :meth:`Emulator.add_fault`."""
        return self.emulator.add_fault(**kwargs)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.emulator.clear_faults()

    def set_publisher(self, settings: Mapping[str, Any]) -> JsonObject:
        """See :meth:`Emulator.set_publisher`."""
        return self.call(lambda: self.emulator.set_publisher(settings))

    def reset(self) -> None:
        """Delete all resources."""
        self.call(self.emulator.reset)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel leftover tasks, shut down async generators and the executor, close the loop."""
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
