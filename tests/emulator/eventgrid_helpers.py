"""Helpers for the Event Grid publisher specs: a bounded asyncio runner, a started publisher, an event."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from devstack.jobrouter.event_payloads import worker_deregistered
from devstack.jobrouter.event_types import RouterEvent
from devstack.jobrouter.eventgrid import EventPublisher, Subscription

TOPIC = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/communicationServices/acs"


def run_async[**P](test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test body on a fresh loop, bounded so a hang fails fast."""

    @functools.wraps(test)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), timeout=20))

    return wrapper


@asynccontextmanager
async def publishing(*subscriptions: Subscription, **kwargs: Any) -> AsyncIterator[EventPublisher]:
    """A started :class:`EventPublisher` on ``TOPIC`` (other arguments as its constructor's), then closed."""
    publisher = EventPublisher(subscriptions, topic=TOPIC, **kwargs)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.close()


def worker_event(i: int) -> RouterEvent:
    """A small event that names its worker (``w<i>``), to tell events apart."""
    return worker_deregistered(worker_id=f"w{i}")
