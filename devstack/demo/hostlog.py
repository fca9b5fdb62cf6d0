"""What the function app did, read from the Functions host's log: invocations, decision and fleet lines.

The host stand-in logs ``Executed 'NAME' (Succeeded|Failed, ...)`` once per invocation; the offer handler
writes one ``offer_handlers.decisions`` line of ``key=value`` pairs per offer, and the fleet keeper one
``offer_handlers.fleet_actions`` line per worker event or worker a reconciliation run looked at, plus one
per run (values with spaces are JSON-quoted). ``HostTally`` collects them, from log lines of a host process
or from log records of an in-process host; it is thread-safe (in-process, the function logs from worker
threads). Invocations of ``on_offer_issued`` and of the fleet's functions are counted apart.
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
    "FLEET_ACTION_LOGGER",
    "FLEET_FUNCTIONS",
    "HOST_LOGGER",
    "DecisionLine",
    "DecisionLogHandler",
    "FleetLine",
    "HostSnapshot",
    "HostTally",
    "parse_fields",
]

DECISION_LOGGER: Final = "offer_handlers.decisions"
FLEET_ACTION_LOGGER: Final = "offer_handlers.fleet_actions"
#: The logger of the host stand-in's ``Executed '...'`` lines.
HOST_LOGGER: Final = "devstack.functions_host.host"
#: The function app's functions that keep the bot fleet registered; every other one decides offers.
FLEET_FUNCTIONS: Final = frozenset({"on_worker_lifecycle", "reconcile_fleet"})
_DECISION: Final = re.compile(r"\boffer_handlers\.decisions: (?P<fields>.*)$")
_FLEET: Final = re.compile(r"\boffer_handlers\.fleet_actions: (?P<fields>.*)$")
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


@dataclass(frozen=True, slots=True)
class FleetLine:
    """One fleet-log line: what happened to one bot (or, with ``action`` reconcile, one timer run)."""

    action: str | None  # register, deregister, back-off, leave, reconcile (a run's summary), none
    reason: str | None
    outcome: str | None  # registered, created, repaired, deregistered, backed-off, left, ... (a run: done)
    trigger: str | None  # offer-expired, deregistered, reconcile
    worker_id: str | None
    event_id: str | None
    fields: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> FleetLine:
        """The line's fields as parsed; a missing, empty or ``-`` value is None."""

        def get(key: str) -> str | None:
            value = fields.get(key)
            return None if value in (None, "", "-") else value

        return cls(
            action=get("action"),
            reason=get("reason"),
            outcome=get("outcome"),
            trigger=get("trigger"),
            worker_id=get("worker_id"),
            event_id=get("event_id"),
            fields=dict(fields),
        )

    @property
    def is_run(self) -> bool:
        """The summary line of one reconciliation run (not a worker's line)."""
        return self.action == "reconcile"


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
    """Invocations the host made, and the decision and fleet lines the functions wrote, so far.

    ``invocations_ok``/``invocations_failed`` count the offer function's invocations; ``fleet_ok``/
    ``fleet_failed`` those of the fleet's functions (``FLEET_FUNCTIONS``).
    """

    invocations_ok: int
    invocations_failed: int
    decisions: tuple[DecisionLine, ...]
    fleet_actions: tuple[FleetLine, ...] = ()
    fleet_ok: int = 0
    fleet_failed: int = 0

    @property
    def invocations(self) -> int:
        """Every invocation of the offer function, succeeded or failed."""
        return self.invocations_ok + self.invocations_failed

    def outcomes(self) -> dict[str, int]:
        """Decision lines per ``outcome`` (accepted, declined, left, gone, ...)."""
        counts: dict[str, int] = {}
        for line in self.decisions:
            key = line.outcome or "-"
            counts[key] = counts.get(key, 0) + 1
        return counts


class HostTally:
    """Accumulates invocations, decision lines and fleet lines (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ok = 0
        self._failed = 0
        self._fleet_ok = 0
        self._fleet_failed = 0
        self._decisions: list[DecisionLine] = []
        self._fleet: list[FleetLine] = []

    def feed_line(self, line: str) -> None:
        """One line of the host process's log (other lines are ignored)."""
        executed = _EXECUTED.search(line)
        if executed is not None:
            self.add_invocation(ok=executed["outcome"] == "Succeeded", function=executed["name"])
            return
        decision = _DECISION.search(line)
        if decision is not None:
            self.add_decision_text(decision["fields"])
            return
        fleet = _FLEET.search(line)
        if fleet is not None:
            self.add_fleet_text(fleet["fields"])

    def add_invocation(self, *, ok: bool, function: str = "on_offer_issued") -> None:
        """Count one invocation of ``function``."""
        fleet = function in FLEET_FUNCTIONS
        with self._lock:
            if fleet and ok:
                self._fleet_ok += 1
            elif fleet:
                self._fleet_failed += 1
            elif ok:
                self._ok += 1
            else:
                self._failed += 1

    def add_fleet_text(self, text: str) -> None:
        """The message of one fleet-log line."""
        line = FleetLine.from_fields(parse_fields(text))
        with self._lock:
            self._fleet.append(line)

    def add_decision_text(self, text: str) -> None:
        """The message of one decision-log line."""
        line = DecisionLine.from_fields(parse_fields(text))
        with self._lock:
            self._decisions.append(line)

    def snapshot(self) -> HostSnapshot:
        """The invocations and decision lines so far."""
        with self._lock:
            return HostSnapshot(
                self._ok,
                self._failed,
                tuple(self._decisions),
                tuple(self._fleet),
                self._fleet_ok,
                self._fleet_failed,
            )


class DecisionLogHandler(logging.Handler):
    """Feeds the records of an in-process host into a :class:`HostTally`.

    Attach it to ``DECISION_LOGGER``, ``FLEET_ACTION_LOGGER`` and ``HOST_LOGGER``: each record is read
    by the logger it came from (the host's ``Executed`` lines count invocations).
    """

    def __init__(self, tally: HostTally) -> None:
        super().__init__(level=logging.INFO)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        """Feed the record's message to the tally (never raising into the function)."""
        try:
            if record.name == DECISION_LOGGER:
                self.tally.add_decision_text(record.getMessage())
            elif record.name == FLEET_ACTION_LOGGER:
                self.tally.add_fleet_text(record.getMessage())
            else:
                self.tally.feed_line(record.getMessage())
        except Exception:  # a logging handler must never raise into the function
            self.handleError(record)
