"""Timer triggers: each ``timerTrigger`` function is invoked on its NCRONTAB schedule, as the host does.

One asyncio task per timer function sleeps until the schedule's next time (UTC), then invokes the function
through the worker library (``FunctionsHost`` supplies ``invoke``); the following time is computed after
the invocation ends, so a slow run skips the times it overlapped, as the host's schedule monitor does.
``runOnStartup`` invokes once when the host starts. There is no schedule monitor (``useMonitor``): a
stand-in that was stopped does not catch up, and ``IsPastDue`` is always false. A schedule may name an app
setting, ``%NAME%``, which is resolved from the settings (the environment) when the app is indexed, as the
host's name resolver does; a setting that is not there fails start-up naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from devstack.functions_host.ncrontab import CrontabError, Schedule, parse_schedule
from devstack.functions_worker import TIMER_TRIGGER, FunctionInfo

__all__ = ["TimerInvoke", "TimerRunner", "TimerSpec", "timer_specs"]

_log = logging.getLogger(__name__)

# A binding expression naming an app setting: %NAME%.
_SETTING_EXPRESSION: Final = re.compile(r"%([^%\s]+)%")


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """One timer function: its name, parsed schedule and whether it also runs at start-up."""

    function_name: str
    schedule: Schedule
    run_on_startup: bool


type TimerInvoke = Callable[[TimerSpec, datetime | None, datetime], Awaitable[None]]
"""Invoke one timer function: ``(spec, last run or None, next scheduled run)``."""


def timer_specs(
    functions: Iterable[FunctionInfo], settings: Mapping[str, str] | None = None
) -> tuple[TimerSpec, ...]:
    """The app's timer functions; raises ``CrontabError`` (naming the function) for a bad schedule.

    ``%NAME%`` in a schedule is replaced with the setting ``NAME`` (from ``settings``, default the
    environment, where the host put the app settings).
    """
    env = os.environ if settings is None else settings
    specs = []
    for info in functions:
        if info.trigger_type != TIMER_TRIGGER:
            continue
        trigger = info.trigger
        try:
            schedule = parse_schedule(_resolved(str(trigger.get("schedule", "")), env))
        except ValueError as err:
            raise type(err)(f"function {info.name!r}: {err}") from err
        specs.append(TimerSpec(info.name, schedule, bool(trigger.get("runOnStartup", False))))
    return tuple(specs)


def _resolved(expression: str, settings: Mapping[str, str]) -> str:
    def setting(match: re.Match[str]) -> str:
        value = settings.get(match[1], "").strip()
        if not value:
            raise CrontabError(f"schedule {expression!r}: the app setting {match[1]} is not set")
        return value

    return _SETTING_EXPRESSION.sub(setting, expression)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TimerRunner:
    """Runs every timer function on its schedule until ``stop()``."""

    def __init__(
        self,
        specs: Iterable[TimerSpec],
        invoke: TimerInvoke,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._specs = tuple(specs)
        self._invoke = invoke
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start one task per timer function on the running loop."""
        self._tasks = [asyncio.create_task(self._run(spec)) for spec in self._specs]

    async def stop(self) -> None:
        """Cancel the tasks (an invocation on a worker thread finishes on its own)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, spec: TimerSpec) -> None:
        last: datetime | None = None
        if spec.run_on_startup:
            await self._invoke(spec, None, spec.schedule.next_after(self._clock()))
            last = self._clock()
        while True:
            due = spec.schedule.next_after(self._clock())
            await asyncio.sleep(max(0.0, (due - self._clock()).total_seconds()))
            await self._invoke(spec, last, spec.schedule.next_after(due))
            last = due
