"""Bounded waits: poll a check until it holds instead of sleeping a fixed time.

The one wait helper of the dev stack's tools and of the tests. :func:`wait_until` (blocking) and
:func:`wait_until_async` call ``check`` every ``interval`` seconds and return its first truthy result; once
``timeout`` seconds have passed they raise :class:`WaitTimeout`, naming what was awaited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["WaitTimeout", "wait_until", "wait_until_async"]


class WaitTimeout(AssertionError):
    """A bounded wait ran out. An AssertionError, so that a test that waits reports a failed expectation."""


def wait_until[T](
    check: Callable[[], T | None], *, timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> T:
    """Call ``check`` until it returns something truthy and return that; WaitTimeout after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeout(_message(timeout, what or check))
        time.sleep(interval)


async def wait_until_async[T](
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> T:
    """Await ``check()`` until it gives something truthy and return that; WaitTimeout after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeout(_message(timeout, what or check))
        await asyncio.sleep(interval)


def _message(timeout: float, what: object) -> str:
    return f"timed out after {timeout}s waiting for {what}"
