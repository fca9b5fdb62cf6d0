"""devstack.polling, the one bounded wait of the tools and tests: the first truthy result, or a timeout
that names what was awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devstack.polling import WaitTimeout, wait_until, wait_until_async


def answers(*values: object) -> Iterator[object]:
    """The values in turn, then the last one for ever."""
    yield from values
    while True:
        yield values[-1]


def test_wait_until_returns_the_first_truthy_result() -> None:
    given = answers(None, 0, [], ["found"])

    assert wait_until(lambda: next(given), timeout=5, interval=0) == ["found"]


def test_wait_until_fails_as_an_assertion_naming_what_it_waited_for() -> None:
    with pytest.raises(WaitTimeout, match=r"timed out after 0\.05s waiting for the job closed") as raised:
        wait_until(lambda: None, timeout=0.05, interval=0.01, what="the job closed")

    assert isinstance(raised.value, AssertionError)


def test_wait_until_async_awaits_the_check_until_it_holds() -> None:
    given = answers(False, False, "ready")

    async def check() -> object:
        return next(given)

    assert asyncio.run(wait_until_async(check, timeout=5, interval=0)) == "ready"


def test_wait_until_async_fails_naming_what_it_waited_for() -> None:
    async def never() -> None:
        return None

    with pytest.raises(WaitTimeout, match="waiting for every delivery finished"):
        asyncio.run(wait_until_async(never, timeout=0.05, interval=0.01, what="every delivery finished"))
