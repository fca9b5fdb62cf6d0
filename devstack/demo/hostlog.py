"""What the function did, read from the Functions host's log: invocations and decision-log lines.

The host stand-in logs ``Executed 'NAME' (Succeeded|Failed, ...)`` once per invocation, and the offer
handler writes one ``offer_handlers.decisions`` line per invocation, read here with the product's own
parser (``offer_handlers.decision_log``). ``HostTally`` collects both, from log lines of a host process or
from log records of an in-process host; it is thread-safe (in-process, the function logs from worker
threads).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Final

from offer_handlers.decision_log import (
    DECISION_LOGGER,
    DecisionRecord,
    InvalidLogLineError,
    decision_text,
)

__all__ = [
    "DECISION_LOGGER",
    "DecisionLogHandler",
    "HostSnapshot",
    "HostTally",
]

_EXECUTED: Final = re.compile(r"\bExecuted '(?P<name>[^']+)' \((?P<outcome>Succeeded|Failed)\b")


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    """Invocations the host made, and the decision lines the function wrote, so far."""

    invocations_ok: int
    invocations_failed: int
    decisions: tuple[DecisionRecord, ...]
    #: Decision-log lines that did not parse (none, unless the log was cut or mangled).
    unreadable_lines: int = 0

    @property
    def invocations(self) -> int:
        """Every invocation, succeeded or failed."""
        return self.invocations_ok + self.invocations_failed

    def outcomes(self) -> dict[str, int]:
        """Decision lines per ``outcome`` (accepted, declined, left, gone, ...)."""
        counts: dict[str, int] = {}
        for line in self.decisions:
            key = line.outcome or "-"
            counts[key] = counts.get(key, 0) + 1
        return counts


class HostTally:
    """Accumulates invocations and decision lines (thread-safe).

    ``function_name``: count only that function's invocations (the app's HTTP and timer functions write
    no decision line); None counts every ``Executed`` line.
    """

    def __init__(self, function_name: str | None = None) -> None:
        self._function_name = function_name
        self._lock = threading.Lock()
        self._ok = 0
        self._failed = 0
        self._decisions: list[DecisionRecord] = []
        self._unreadable = 0

    def feed_line(self, line: str) -> None:
        """One line of the host process's log (other lines are ignored)."""
        executed = _EXECUTED.search(line)
        if executed is not None:
            if self._function_name in (None, executed["name"]):
                self.add_invocation(ok=executed["outcome"] == "Succeeded")
            return
        text = decision_text(line)
        if text is not None:
            self.add_decision_text(text)

    def add_invocation(self, *, ok: bool) -> None:
        """Count one invocation of the function."""
        with self._lock:
            if ok:
                self._ok += 1
            else:
                self._failed += 1

    def add_decision_text(self, text: str) -> None:
        """The message of one decision-log line (one that does not parse is counted, not kept)."""
        try:
            line = DecisionRecord.from_text(text)
        except InvalidLogLineError:
            with self._lock:
                self._unreadable += 1
            return
        with self._lock:
            self._decisions.append(line)

    def snapshot(self) -> HostSnapshot:
        """The invocations and decision lines so far."""
        with self._lock:
            return HostSnapshot(self._ok, self._failed, tuple(self._decisions), self._unreadable)


class DecisionLogHandler(logging.Handler):
    """Feeds ``offer_handlers.decisions`` records of an in-process host into a :class:`HostTally`."""

    def __init__(self, tally: HostTally) -> None:
        super().__init__(level=logging.INFO)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        """Feed the record's message to the tally (never raising into the function)."""
        try:
            self.tally.add_decision_text(record.getMessage())
        except Exception:  # a logging handler must never raise into the function
            self.handleError(record)
