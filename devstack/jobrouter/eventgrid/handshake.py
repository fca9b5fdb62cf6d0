"""The ``SubscriptionValidation`` handshake, and each subscription's run-time state that it gates.

A webhook must echo the ``validationCode`` it is sent as ``{"validationResponse": <code>}`` (HTTP 200)
before any event is delivered to it. :func:`validate_once` runs one attempt; :func:`keep_validating`
re-tries a failed subscription in the background until it passes. Guide: docs/eventgrid-delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from devstack.jobrouter.eventgrid.delivery import ValidationState
from devstack.jobrouter.eventgrid.envelopes import (
    body,
    validation_event,
    validation_headers,
    validation_response,
)
from devstack.jobrouter.eventgrid.subscription import Subscription

__all__ = ["SubscriptionState", "keep_validating", "subscription_states", "validate_once"]

# The package's one logger, named as before the package split: users filter on it.
_log = logging.getLogger("devstack.jobrouter.eventgrid")


@dataclass(slots=True)
class SubscriptionState:
    """One subscription at run time: its unique name, its concurrency gate and its handshake state."""

    subscription: Subscription
    name: str
    semaphore: asyncio.Semaphore
    validated: asyncio.Event
    validation: ValidationState = ValidationState.PENDING
    validation_error: str | None = None
    validation_task: asyncio.Task[None] | None = None


def subscription_states(
    subscriptions: Sequence[Subscription], max_concurrency: int
) -> dict[str, SubscriptionState]:
    """Each subscription's fresh state under its unique upper-case name (``name`` option, else WEBHOOKn)."""
    states: dict[str, SubscriptionState] = {}
    for index, sub in enumerate(subscriptions, start=1):
        name = (sub.name or f"WEBHOOK{index}").upper()
        if name in states:
            raise ValueError(f"two webhook subscriptions are both named {name!r}; give them distinct names")
        states[name] = SubscriptionState(
            subscription=sub,
            name=name,
            semaphore=asyncio.Semaphore(max_concurrency),
            validated=asyncio.Event(),
        )
    return states


async def validate_once(
    session: aiohttp.ClientSession,
    state: SubscriptionState,
    *,
    topic: str,
    now: datetime,
    retry_interval: float,
) -> bool:
    """Run the handshake once and record the result in ``state``; True when the webhook passed it."""
    sub = state.subscription
    code = secrets.token_hex(16).upper()
    event = validation_event(code, topic, sub.schema, now)
    headers = validation_headers(sub.schema, state.name)
    timeout = aiohttp.ClientTimeout(total=sub.delivery_timeout)
    problem: str
    try:
        async with session.post(
            sub.endpoint, data=body(event, sub.schema), headers=headers, timeout=timeout
        ) as response:
            raw = await response.read()
            if response.status != 200:
                problem = f"answered HTTP {response.status}, expected 200"
            elif validation_response(raw) != code:
                problem = 'answered 200 without the matching {"validationResponse": <code>}'
            else:
                problem = ""
    except TimeoutError:
        problem = f"no answer within {sub.delivery_timeout:g}s"
    except aiohttp.ClientError as error:
        problem = f"connection failed ({type(error).__name__})"
    if not problem:
        state.validation = ValidationState.VALIDATED
        state.validation_error = None
        state.validated.set()
        _log.info("webhook %s (%s) validated", state.name, sub.display_endpoint)
        return True
    first_failure = state.validation is not ValidationState.FAILED
    state.validation = ValidationState.FAILED
    state.validation_error = problem
    if first_failure:
        _log.warning(
            "webhook %s (%s) failed the SubscriptionValidation handshake: %s. Its events are held "
            "and the handshake is re-tried every %gs",
            state.name,
            sub.display_endpoint,
            problem,
            retry_interval,
        )
    return False


async def keep_validating(
    session: aiohttp.ClientSession,
    state: SubscriptionState,
    *,
    topic: str,
    clock: Callable[[], datetime],
    retry_interval: float,
) -> None:
    """Re-run the handshake every ``retry_interval`` seconds until it passes."""
    while not await validate_once(session, state, topic=topic, now=clock(), retry_interval=retry_interval):
        await asyncio.sleep(retry_interval)
