"""Function and webhook rule calls started by the synchronous engine and answered on its event loop.

The engine never awaits: a request or a timer callback runs to completion. When classification or
best-worker scoring needs a ``function``/``webhook`` rule, the engine hands :meth:`RuleCallTasks.start`
the calls and a callback; the calls run concurrently on the loop (at most ``concurrency`` at a time, each
bounded by the caller's timeout) and the callback then receives one result per call, in order: the
rule's JSON answer or the :class:`~devstack.jobrouter.rule_http.RuleCallError` that replaced it. The
callback runs on the loop like a timer callback, so the engine stays single-threaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from devstack.jobrouter.router_rules import RemoteRule
from devstack.jobrouter.rule_http import RuleCaller, RuleCallError

__all__ = ["RuleCall", "RuleCallResult", "RuleCallTasks"]

_log = logging.getLogger(__name__)

#: Calls in flight at once across the emulator (a batch-scoring pass can start many).
_DEFAULT_CONCURRENCY: Final = 16

#: A rule's JSON answer, or why there is none.
type RuleCallResult = Any | RuleCallError


@dataclass(frozen=True, slots=True)
class RuleCall:
    """One call to make: the rule's position (for error messages), its target and the JSON payload."""

    target: str
    rule: RemoteRule
    payload: Mapping[str, Any]


class RuleCallTasks:
    """The rule calls in flight; ``close()`` cancels them (the engine re-runs what they were for)."""

    def __init__(self, caller: RuleCaller, *, concurrency: int = _DEFAULT_CONCURRENCY) -> None:
        self.caller = caller
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """How many batches of calls are still running."""
        return len(self._tasks)

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        calls: Sequence[RuleCall],
        on_done: Callable[[list[RuleCallResult]], None],
    ) -> None:
        """Make ``calls`` concurrently on ``loop``; then ``on_done(results)``, one result per call."""
        if not calls:
            loop.call_soon(on_done, [])
            return
        task = loop.create_task(self._run(list(calls), on_done), name=f"rule calls: {calls[0].target}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, calls: list[RuleCall], on_done: Callable[[list[RuleCallResult]], None]) -> None:
        results = await asyncio.gather(*(self._one(call) for call in calls))
        try:
            on_done(list(results))
        except Exception:
            _log.exception("handling the answers of %d rule call(s) failed", len(calls))

    async def _one(self, call: RuleCall) -> RuleCallResult:
        async with self._slots:
            try:
                return await self.caller.call(call.rule, call.payload)
            except RuleCallError as error:
                return error

    async def close(self) -> None:
        """Cancel every call in flight and close the caller's HTTP session (if it has one)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        close = getattr(self.caller, "close", None)
        if close is not None:
            await close()
