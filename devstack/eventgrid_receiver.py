"""A loopback webhook that answers like an Event Grid subscriber, for testing an Event Grid publisher.

:class:`EventGridReceiver` (asyncio) and :class:`EventGridReceiverThread` (its own loop in a background
thread, for sync tests) listen on 127.0.0.1 on a free port and:

- record every request (method, path, query, headers, body, arrival time, the status answered);
- answer the ``SubscriptionValidation`` handshake (or refuse it, or echo a wrong code: ``validation=...``);
- answer notifications from a status script (``answers=[500, 503]`` then ``default``), an optional
  ``responder`` callback that sees each request first, and an optional ``delay``;
- expose what arrived: ``requests``, ``notifications()``, ``events()``, ``event_types()``, ``max_in_flight``,
  and bounded waits (``wait_for_events``, ``wait_until``) instead of fixed sleeps.

Example::

    async with EventGridReceiver(answers=[500]) as receiver:
        publisher = EventPublisher([Subscription(receiver.url)], topic="/t")
        ...
        events = await receiver.wait_for_events(1, timeout=5)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

from aiohttp import web

from devstack.polling import WaitTimeout, wait_until, wait_until_async

__all__ = [
    "Answer",
    "EventGridReceiver",
    "EventGridReceiverThread",
    "ReceivedRequest",
    "ValidationMode",
]

#: ``answer``: 200 with the right code; ``wrong-code``: 200 with another code; ``reject``: 403.
ValidationMode = Literal["answer", "wrong-code", "reject"]


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer one notification: status, optional delay before answering, optional body."""

    status: int = 200
    delay: float = 0.0
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the receiver saw it. Header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    arrived_at: float  # time.monotonic()
    status: int  # what the receiver answered (0 while still answering)

    @property
    def aeg_event_type(self) -> str | None:
        """The ``aeg-event-type`` header (Notification, SubscriptionValidation, ...)."""
        return self.headers.get("aeg-event-type")

    @property
    def is_validation(self) -> bool:
        """True for the ``SubscriptionValidation`` handshake request."""
        return (self.aeg_event_type or "").lower() == "subscriptionvalidation"

    @property
    def is_notification(self) -> bool:
        """True for a ``Notification`` request (one that carries events)."""
        return (self.aeg_event_type or "").lower() == "notification"

    @property
    def accepted(self) -> bool:
        """True when the receiver answered 200-204 (what Event Grid counts as delivered)."""
        return 200 <= self.status <= 204

    @property
    def delivery_count(self) -> int | None:
        """The ``aeg-delivery-count`` header as an int."""
        raw = self.headers.get("aeg-delivery-count")
        return None if raw is None else int(raw)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The event objects in the body: an Event Grid array, or a single CloudEvent object."""
        payload = self.json()
        return list(payload) if isinstance(payload, list) else [payload]


def _event_id(event: Mapping[str, Any]) -> str:
    return str(event.get("id"))


def _event_type(event: Mapping[str, Any]) -> str:
    return str(event.get("eventType") or event.get("type"))


class EventGridReceiver:
    """An aiohttp webhook on 127.0.0.1 that records requests and answers like an Event Grid subscriber."""

    def __init__(
        self,
        *,
        answers: Iterable[int | Answer] = (),
        default: int | Answer = 200,
        delay: float = 0.0,
        validation: ValidationMode = "answer",
        responder: Callable[[ReceivedRequest], int | Answer | None] | None = None,
        path: str = "/api/events",
    ) -> None:
        self._answers: deque[Answer] = deque(_as_answer(a) for a in answers)
        self._default = _as_answer(default)
        self._delay = delay
        self._validation: ValidationMode = validation
        self._responder = responder
        self._path = path
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ---------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", self._path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The webhook URL to subscribe (``http://127.0.0.1:PORT/api/events``)."""
        if self._port is None:
            raise RuntimeError("receiver not started")
        return f"http://127.0.0.1:{self._port}{self._path}"

    # ---------------------------------------------------------------------------------- behaviour

    def set_answers(self, answers: Iterable[int | Answer]) -> None:
        """Replace the scripted answers (used one per notification, then ``default``)."""
        with self._lock:
            self._answers = deque(_as_answer(a) for a in answers)

    def set_default(self, default: int | Answer) -> None:
        """The answer once the script is used up."""
        self._default = _as_answer(default)

    def set_delay(self, seconds: float) -> None:
        """Delay every notification answer by ``seconds`` (on top of an Answer's own delay)."""
        self._delay = seconds

    def set_validation(self, mode: ValidationMode) -> None:
        """How to answer the next handshakes."""
        self._validation = mode

    # ------------------------------------------------------------------------------------ queries

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most notifications that were being answered at the same time."""
        return self._max_in_flight

    def validations(self) -> list[ReceivedRequest]:
        """The SubscriptionValidation requests."""
        return [r for r in self.requests if r.is_validation]

    def notifications(self) -> list[ReceivedRequest]:
        """The Notification requests (deliveries), in arrival order."""
        return [r for r in self.requests if r.is_notification]

    def events(self, *, accepted_only: bool = False, unique: bool = False) -> list[dict[str, Any]]:
        """Delivered event objects in arrival order; ``unique`` keeps the first copy of each id."""
        seen: set[str] = set()
        result: list[dict[str, Any]] = []
        for request in self.notifications():
            if accepted_only and not request.accepted:
                continue
            for event in request.events:
                if unique:
                    if _event_id(event) in seen:
                        continue
                    seen.add(_event_id(event))
                result.append(event)
        return result

    def event_types(self, *, short: bool = True, by_time: bool = True) -> list[str]:
        """Types of the accepted events, one per id, ``short`` without ``Microsoft.Communication.``.

        Ordered by eventTime, which the emulator keeps strictly increasing in publish order; ``by_time=False``
        gives arrival order instead.
        """
        events = self.events(accepted_only=True, unique=True)
        if by_time:
            events.sort(key=lambda e: str(e.get("eventTime") or e.get("time")))
        types = [_event_type(e) for e in events]
        return [t.removeprefix("Microsoft.Communication.") for t in types] if short else types

    async def wait_until(
        self, predicate: Callable[[EventGridReceiver], bool], *, timeout: float, interval: float = 0.01
    ) -> bool:
        """Poll ``predicate(self)`` until it holds or ``timeout`` passes; returns whether it held."""

        async def holds() -> bool:
            return predicate(self)

        try:
            await wait_until_async(holds, timeout=timeout, interval=interval)
        except WaitTimeout:
            return False
        return True

    async def wait_for_events(
        self, count: int, *, timeout: float, accepted_only: bool = True
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` distinct events arrived; TimeoutError listing what did arrive otherwise."""
        if not await self.wait_until(
            lambda r: len(r.events(accepted_only=accepted_only, unique=True)) >= count, timeout=timeout
        ):
            got = [_event_type(e) for e in self.events(accepted_only=accepted_only, unique=True)]
            raise TimeoutError(f"expected {count} events within {timeout}s, got {len(got)}: {got}")
        return self.events(accepted_only=accepted_only, unique=True)

    # ---------------------------------------------------------------------------------- internals

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        pending = ReceivedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            body=body,
            arrived_at=time.monotonic(),
            status=0,
        )
        if pending.is_validation:
            response = self._answer_validation(pending)
            self._record(pending, response.status)
            return response
        answer = self._next_answer(pending)
        self._record(pending, answer.status)
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            delay = self._delay + answer.delay
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            with self._lock:
                self._in_flight -= 1
        return web.Response(status=answer.status, body=answer.body)

    def _answer_validation(self, request: ReceivedRequest) -> web.Response:
        if self._validation == "reject":
            return web.Response(status=403, text="validation refused by test receiver")
        try:
            code = str(request.events[0]["data"]["validationCode"])
        except (ValueError, LookupError, TypeError):
            return web.Response(status=400, text="no data.validationCode in the validation event")
        if self._validation == "wrong-code":
            code = "not-" + code
        return web.json_response({"validationResponse": code})

    def _next_answer(self, request: ReceivedRequest) -> Answer:
        if self._responder is not None:
            chosen = self._responder(request)
            if chosen is not None:
                return _as_answer(chosen)
        with self._lock:
            if self._answers:
                return self._answers.popleft()
        return self._default

    def _record(self, pending: ReceivedRequest, status: int) -> None:
        record = ReceivedRequest(
            method=pending.method,
            path=pending.path,
            query=pending.query,
            headers=pending.headers,
            body=pending.body,
            arrived_at=pending.arrived_at,
            status=status,
        )
        with self._lock:
            self._requests.append(record)


def _as_answer(value: int | Answer) -> Answer:
    return value if isinstance(value, Answer) else Answer(status=value)


class EventGridReceiverThread:
    """:class:`EventGridReceiver` on its own event loop in a daemon thread, for sync tests.

    Context manager; same constructor arguments; the query methods and setters are safe from any thread.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._receiver: EventGridReceiver | None = None

    def start(self) -> None:
        """Start the thread and wait until the receiver listens."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="eventgrid-receiver", daemon=True)
        self._thread.start()

        async def make() -> EventGridReceiver:
            receiver = EventGridReceiver(**self._kwargs)
            await receiver.start()
            return receiver

        self._receiver = asyncio.run_coroutine_threadsafe(make(), loop).result(timeout=10)

    def stop(self) -> None:
        """Stop the receiver, the loop and the thread."""
        if self._loop is None or self._thread is None:
            return
        if self._receiver is not None:
            asyncio.run_coroutine_threadsafe(self._receiver.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def receiver(self) -> EventGridReceiver:
        """The underlying receiver (its query methods and setters are thread-safe)."""
        if self._receiver is None:
            raise RuntimeError("receiver thread not started")
        return self._receiver

    @property
    def url(self) -> str:
        """The webhook URL to subscribe (the receiver's; see :attr:`EventGridReceiver.url`)."""
        return self.receiver.url

    def wait_for_events(
        self, count: int, *, timeout: float, accepted_only: bool = True
    ) -> list[dict[str, Any]]:
        """Block until ``count`` distinct events arrived; TimeoutError listing what did arrive otherwise."""

        def arrived() -> bool:
            return len(self.receiver.events(accepted_only=accepted_only, unique=True)) >= count

        try:
            wait_until(arrived, timeout=timeout, interval=0.01)
        except WaitTimeout:
            got = [_event_type(e) for e in self.receiver.events(accepted_only=accepted_only, unique=True)]
            raise TimeoutError(f"expected {count} events within {timeout}s, got {len(got)}: {got}") from None
        return self.receiver.events(accepted_only=accepted_only, unique=True)

    def __getattr__(self, name: str) -> Any:
        # requests, notifications(), events(), event_types(), set_answers(), ... delegate to the receiver.
        return getattr(self.receiver, name)
