"""What the function did, read from the Functions host's log: invocations and decision-log lines.

The host stand-in logs ``Executed 'NAME' (Succeeded|Failed, ...)`` once per invocation, and the offer
handler writes one ``offer_handlers.decisions`` line of ``key=value`` pairs per invocation (values with
spaces are JSON-quoted). ``HostTally`` collects both, from log lines of a host process or from log
records of an in-process host; it is thread-safe (in-process, the function logs from worker threads).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DECISION_LOGGER",
    "DecisionLine",
    "DecisionLogHandler",
    "HostSnapshot",
    "HostTally",
    "parse_fields",
]

DECISION_LOGGER: Final = "offer_handlers.decisions"
_DECISION: Final = re.compile(r"\boffer_handlers\.decisions: (?P<fields>.*)$")
_EXECUTED: Final = re.compile(r"\bExecuted '(?P<name>[^']+)' \((?P<outcome>Succeeded|Failed)\b")
_PAIR: Final = re.compile(r'(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>"(?:[^"\\]|\\.)*"|\S*)')


@dataclass(frozen=True, slots=True)
class DecisionLine:
    """One decision-log line; missing values (``-``) are None."""

    decision: str | None
    reason: str | None
    retry_at: str | None
    outcome: str | None
    offer_id: str | None
    job_id: str | None
    worker_id: str | None
    elapsed_ms: float | None
    fields: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> DecisionLine:
        """The line's fields as parsed; a missing, empty or ``-`` value is None."""

        def get(key: str) -> str | None:
            value = fields.get(key)
            return None if value in (None, "", "-") else value

        elapsed = get("elapsed_ms")
        try:
            elapsed_ms = float(elapsed) if elapsed is not None else None
        except ValueError:
            elapsed_ms = None
        return cls(
            decision=get("decision"),
            reason=get("reason"),
            retry_at=get("retry_at"),
            outcome=get("outcome"),
            offer_id=get("offer_id"),
            job_id=get("job_id"),
            worker_id=get("worker_id"),
            elapsed_ms=elapsed_ms,
            fields=dict(fields),
        )


def parse_fields(text: str) -> dict[str, str]:
    """logfmt ``key=value`` pairs as the offer handler writes them (JSON-quoted values unquoted)."""
    fields: dict[str, str] = {}
    for match in _PAIR.finditer(text):
        value = match["value"]
        if value.startswith('"'):
            try:
                value = str(json.loads(value))
            except ValueError:
                value = value.strip('"')
        fields[match["key"]] = value
    return fields


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    """Invocations the host made, and the decision lines the function wrote, so far."""

    invocations_ok: int
    invocations_failed: int
    decisions: tuple[DecisionLine, ...]

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
    """Accumulates invocations and decision lines (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ok = 0
        self._failed = 0
        self._decisions: list[DecisionLine] = []

    def feed_line(self, line: str) -> None:
        """One line of the host process's log (other lines are ignored)."""
        executed = _EXECUTED.search(line)
        if executed is not None:
            self.add_invocation(ok=executed["outcome"] == "Succeeded")
            return
        decision = _DECISION.search(line)
        if decision is not None:
            self.add_decision_text(decision["fields"])

    def add_invocation(self, *, ok: bool) -> None:
        """Count one invocation of the function."""
        with self._lock:
            if ok:
                self._ok += 1
            else:
                self._failed += 1

    def add_decision_text(self, text: str) -> None:
        """The message of one decision-log line."""
        line = DecisionLine.from_fields(parse_fields(text))
        with self._lock:
            self._decisions.append(line)

    def snapshot(self) -> HostSnapshot:
        """The invocations and decision lines so far."""
        with self._lock:
            return HostSnapshot(self._ok, self._failed, tuple(self._decisions))


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
