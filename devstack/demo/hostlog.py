"""What the function app did, read from the Functions host's log: invocations, decision and fleet lines.

The host stand-in logs ``Executed 'NAME' (Succeeded|Failed, ...)`` once per invocation; the offer handler
writes one ``offer_handlers.decisions`` line per offer, and the fleet keeper one
``offer_handlers.fleet_actions`` line per worker event or worker a reconciliation run looked at, plus one
per run, both read here with the product's own parser (``offer_handlers.decision_log``). ``HostTally``
collects them, from log lines of a host process or from log records of an in-process host; it is
thread-safe (in-process, the functions log from worker threads). Invocations of the offer function and of
the fleet's functions are counted apart.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from offer_handlers.decision_log import (
    DECISION_LOGGER,
    DecisionRecord,
    InvalidLogLineError,
    decision_text,
    parse_fields,
)

__all__ = [
    "DECISION_LOGGER",
    "FLEET_ACTION_LOGGER",
    "FLEET_FUNCTIONS",
    "HOST_LOGGER",
    "DecisionLogHandler",
    "FleetLine",
    "HostSnapshot",
    "HostTally",
]

FLEET_ACTION_LOGGER: Final = "offer_handlers.fleet_actions"
#: The logger of the host stand-in's ``Executed '...'`` lines.
HOST_LOGGER: Final = "devstack.functions_host.host"
#: The function app's functions that keep the bot fleet registered.
FLEET_FUNCTIONS: Final = frozenset({"on_worker_lifecycle", "reconcile_fleet"})
_EXECUTED: Final = re.compile(r"\bExecuted '(?P<name>[^']+)' \((?P<outcome>Succeeded|Failed)\b")
_FLEET: Final = re.compile(rf"(?:^|\s){re.escape(FLEET_ACTION_LOGGER)}:? (?P<fields>.*)$")


@dataclass(frozen=True, slots=True)
class FleetLine:
    """One fleet-log line: what happened to one bot (or, with ``action`` reconcile, one timer run)."""

    action: str | None  # register, deregister, back-off, leave, reconcile (a run's summary), none
    reason: str | None
    outcome: str | None  # registered, created, repaired, deregistered, backed-off, left, ... (a run: done)
    trigger: str | None  # offer-expired, deregistered, reconcile
    worker_id: str | None
    event_id: str | None
    fields: Mapping[str, str | None] = field(repr=False)

    @classmethod
    def from_text(cls, text: str) -> FleetLine:
        """Parse the fields of one fleet line; raises ``InvalidLogLineError``."""
        fields = parse_fields(text)
        return cls(
            action=fields.get("action"),
            reason=fields.get("reason"),
            outcome=fields.get("outcome"),
            trigger=fields.get("trigger"),
            worker_id=fields.get("worker_id"),
            event_id=fields.get("event_id"),
            fields=fields,
        )

    @property
    def is_run(self) -> bool:
        """The summary line of one reconciliation run (not a worker's line)."""
        return self.action == "reconcile"


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    """Invocations the host made, and the decision and fleet lines the functions wrote, so far.

    ``invocations_ok``/``invocations_failed`` count the offer function (or every function, when the tally
    counts all); ``fleet_ok``/``fleet_failed`` the fleet's functions.
    """

    invocations_ok: int
    invocations_failed: int
    decisions: tuple[DecisionRecord, ...]
    #: Decision-log and fleet-log lines that did not parse (none, unless the log was cut or mangled).
    unreadable_lines: int = 0
    fleet_actions: tuple[FleetLine, ...] = ()
    #: Invocations of the fleet's functions (``FLEET_FUNCTIONS``).
    fleet_ok: int = 0
    fleet_failed: int = 0

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
    """Accumulates invocations, decision lines and fleet lines (thread-safe).

    ``function_name``: count only that function's invocations (the app's HTTP and timer functions write
    no decision line); None counts every ``Executed`` line. The fleet's functions are counted apart
    either way.
    """

    def __init__(self, function_name: str | None = None) -> None:
        self._function_name = function_name
        self._lock = threading.Lock()
        self._ok = 0
        self._failed = 0
        self._decisions: list[DecisionRecord] = []
        self._unreadable = 0
        self._fleet: list[FleetLine] = []
        self._fleet_ok = 0
        self._fleet_failed = 0

    def feed_line(self, line: str) -> None:
        """One line of the host process's log (other lines are ignored)."""
        executed = _EXECUTED.search(line)
        if executed is not None:
            ok = executed["outcome"] == "Succeeded"
            if executed["name"] in FLEET_FUNCTIONS:
                self.add_fleet_invocation(ok=ok)
            elif self._function_name in (None, executed["name"]):
                self.add_invocation(ok=ok)
            return
        text = decision_text(line)
        if text is not None:
            self.add_decision_text(text)
            return
        fleet = _FLEET.search(line.strip())
        if fleet is not None:
            self.add_fleet_text(fleet["fields"])

    def add_invocation(self, *, ok: bool) -> None:
        """Count one invocation of the function."""
        with self._lock:
            if ok:
                self._ok += 1
            else:
                self._failed += 1

    def add_fleet_invocation(self, *, ok: bool) -> None:
        """Count one invocation of a fleet function."""
        with self._lock:
            if ok:
                self._fleet_ok += 1
            else:
                self._fleet_failed += 1

    def add_fleet_text(self, text: str) -> None:
        """The message of one fleet-log line (one that does not parse is counted, not kept)."""
        try:
            line = FleetLine.from_text(text)
        except InvalidLogLineError:
            with self._lock:
                self._unreadable += 1
            return
        with self._lock:
            self._fleet.append(line)

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
            return HostSnapshot(
                self._ok,
                self._failed,
                tuple(self._decisions),
                self._unreadable,
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
