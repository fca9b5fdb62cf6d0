"""Keyed one-shot timers on the event loop, against an injectable clock.

The engine schedules things by *wall-clock* time (offer expiry, ``retryOfferAt``, ``scheduleAt``,
``closeAt``, selector expiry, wait-time exception triggers). Each timer has a key, so re-arming replaces it
and a state change can cancel it. A tuple key's second item names its owner (``("waitTime", job_id,
rule_id)``), so all of one job's timers can be cancelled without looking at anyone else's. Callbacks run
on the loop thread; an exception in one is logged and never stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Hashable
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock", "Timers"]

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where the engine reads the time."""

    def now(self) -> datetime:
        """The current UTC time (timezone-aware)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """``datetime.now(UTC)``."""
        return datetime.now(UTC)


class Timers:
    """Keyed timers; ``at(key, when, fn)`` replaces any timer with the same key."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Clock, *, on_fire: Callable[[], None]) -> None:
        self._loop = loop
        self._clock = clock
        self._on_fire = on_fire
        self._handles: dict[Hashable, asyncio.TimerHandle] = {}
        self._due: dict[Hashable, datetime] = {}
        self._owned: dict[Hashable, set[Hashable]] = {}
        self._closed = False

    def at(self, key: Hashable, when: datetime, fn: Callable[[], None]) -> None:
        """Run ``fn`` at wall-clock ``when`` (at once if it has passed)."""
        if self._closed:
            return
        self.cancel(key)
        delay = max(0.0, (when - self._clock.now()).total_seconds())
        self._handles[key] = self._loop.call_later(delay, self._fire, key, fn)
        self._due[key] = when
        owner = _owner(key)
        if owner is not None:
            self._owned.setdefault(owner, set()).add(key)

    def cancel(self, key: Hashable) -> None:
        """Cancel the timer with this key, if any."""
        handle = self._handles.pop(key, None)
        self._due.pop(key, None)
        self._disown(key)
        if handle is not None:
            handle.cancel()

    def cancel_owned(self, owner: Hashable, kinds: Collection[str] | None = None) -> None:
        """Cancel the timers whose key is ``(kind, owner, ...)``, of ``kinds`` only when given."""
        for key in list(self._owned.get(owner, ())):
            if kinds is None or key[0] in kinds:  # type: ignore[index]  # owned keys are tuples
                self.cancel(key)

    def pending(self) -> dict[Hashable, datetime]:
        """Keys and due times of the armed timers."""
        return dict(self._due)

    def close(self) -> None:
        """Cancel everything; later ``at`` calls are ignored."""
        self._closed = True
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        self._due.clear()
        self._owned.clear()

    def _disown(self, key: Hashable) -> None:
        owner = _owner(key)
        keys = self._owned.get(owner) if owner is not None else None
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._owned[owner]

    def _fire(self, key: Hashable, fn: Callable[[], None]) -> None:
        self._handles.pop(key, None)
        self._due.pop(key, None)
        self._disown(key)
        try:
            fn()
        except Exception:
            log.exception("timer %r failed", key)
        finally:
            self._on_fire()


def _owner(key: Hashable) -> Hashable | None:
    """The owner of a ``(kind, owner, ...)`` key; None for other keys."""
    if isinstance(key, tuple) and len(key) >= 2:
        owner: Hashable = key[1]
        return owner
    return None
