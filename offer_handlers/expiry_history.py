"""The memory of recent offer expiries per declared worker: what the flapping guard counts.

Kept in the worker process (like the settled-offer memory), bounded and thread-safe: only declared
workers are recorded, each keeps only the expiries inside the guard's window (at most
``MAX_EXPIRIES_PER_WORKER``), and a redelivered event for the same offer is counted once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Final

__all__ = ["MAX_EXPIRIES_PER_WORKER", "ExpiryHistory"]

# Far more than any guard needs to count (it backs off long before), small enough to keep memory flat.
MAX_EXPIRIES_PER_WORKER: Final = 256


class ExpiryHistory:
    """Offer expiries by worker id: ``(key, when)``, oldest first; ``key`` is the offer (or event) id."""

    def __init__(self, per_worker: int = MAX_EXPIRIES_PER_WORKER) -> None:
        if per_worker < 1:
            raise ValueError("per_worker must be at least 1")
        self._per_worker = per_worker
        self._by_worker: dict[str, OrderedDict[str, datetime]] = {}
        self._lock = threading.Lock()

    def record(self, worker_id: str, key: str, at: datetime, *, keep: timedelta) -> bool:
        """Remember one expiry; False when ``key`` was already recorded (a redelivery counts once).

        Entries older than ``keep`` before ``at`` are forgotten.
        """
        with self._lock:
            entries = self._by_worker.setdefault(worker_id, OrderedDict())
            horizon = at - keep
            for old_key in [k for k, when in entries.items() if when < horizon]:
                del entries[old_key]
            if key in entries:
                return False
            entries[key] = at
            while len(entries) > self._per_worker:
                entries.popitem(last=False)
            return True

    def times(self, worker_id: str) -> tuple[datetime, ...]:
        """The recorded expiry times of ``worker_id``, in the order they were recorded."""
        with self._lock:
            entries = self._by_worker.get(worker_id)
            return tuple(entries.values()) if entries else ()

    def __len__(self) -> int:
        """How many workers have expiries recorded."""
        with self._lock:
            return sum(1 for entries in self._by_worker.values() if entries)
