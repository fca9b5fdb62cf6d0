"""Keeping the declared bot fleet registered: one lifecycle event, or one reconciliation run, end to end.

``FleetKeeper`` lives once per worker process. It reads the settings and the fleet, and builds the
SDK-backed registrar, lazily (on the first event or run that needs each), and keeps the memory of
recent offer expiries the flapping guard counts. The fleet log (logger ``offer_handlers.fleet_actions``)
gets one INFO line of ``key=value`` pairs, in the decision log's format, per event and per worker a run
looks at: worker id, event (or run) id, action, reason, outcome — whatever happens, failures included.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, assert_never

from offer_handlers.errors import (
    ConfigurationError,
    InvalidEventError,
    InvalidFleetError,
    RetryableServiceError,
)
from offer_handlers.events import (
    OFFER_EXPIRED,
    WORKER_DEREGISTERED,
    Envelope,
    OfferExpired,
    OfferIds,
    is_worker_lifecycle,
    parse_worker_lifecycle,
    peek_ids,
)
from offer_handlers.expiry_history import ExpiryHistory
from offer_handlers.fleet import NO_FLEET, Fleet, load_fleet_file, load_fleet_text
from offer_handlers.handler import format_fields, utc_now
from offer_handlers.repair import BackOff, Deregister, LeaveWorker, ReconcileRun, Register, RepairDecision
from offer_handlers.repair_execute import (
    Deadline,
    RepairOutcome,
    RepairResult,
    WorkerRegistrar,
    repair_worker,
)
from offer_handlers.settings import FLEET, FLEET_FILE, Settings, load_settings

__all__ = ["FLEET_ACTION_LOGGER", "FleetKeeper", "ReconcileSummary", "RegistrarFactory"]

FLEET_ACTION_LOGGER: Final = "offer_handlers.fleet_actions"
_actions = logging.getLogger(FLEET_ACTION_LOGGER)
_log = logging.getLogger(__name__)

# Event Grid abandons a delivery after 30 s: every call for one event (retries included) ends before.
_EVENT_BUDGET_SECONDS: Final = 25.0
_TRIGGERS: Final[Mapping[object, str]] = {OFFER_EXPIRED: "offer-expired", WORKER_DEREGISTERED: "deregistered"}
_PAYLOAD_LOG_LIMIT: Final = 2048

type RegistrarFactory = Callable[[Settings], WorkerRegistrar]


def _default_registrar_factory(settings: Settings) -> WorkerRegistrar:
    from offer_handlers.worker_registrar import build_registrar  # the SDK client only when a call is due

    return build_registrar(settings)


@dataclass(frozen=True, slots=True)
class _FleetConfig:
    settings: Settings
    fleet: Fleet
    source: str | None  # the setting the fleet came from (FLEET or FLEET_FILE), None when not set


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    """One reconciliation run: how many workers ended in each outcome (``error`` counts failures)."""

    run_id: str
    outcomes: Mapping[str, int] = field(default_factory=dict)

    def count(self, outcome: RepairOutcome) -> int:
        """How many workers ended in ``outcome``."""
        return self.outcomes.get(outcome.value, 0)


class FleetKeeper:
    """Handles worker lifecycle events and reconciliation runs; one instance per worker process."""

    def __init__(
        self,
        *,
        app_root: Path,
        settings_loader: Callable[[Path], Settings] = load_settings,
        registrar_factory: RegistrarFactory = _default_registrar_factory,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        history: ExpiryHistory | None = None,
    ) -> None:
        self._app_root = app_root
        self._settings_loader = settings_loader
        self._registrar_factory = registrar_factory
        self._clock = clock
        self._monotonic = monotonic
        self.history = history if history is not None else ExpiryHistory()
        self._lock = threading.Lock()
        self._config: _FleetConfig | None = None
        self._registrar: WorkerRegistrar | None = None
        self._cursor = 0  # where the next reconciliation run starts (runs cut short resume there)

    # --- lazily built, then kept for the life of the process -------------------------------------

    def config(self) -> _FleetConfig:
        """Settings and the fleet; loaded on first use (errors are raised, not cached)."""
        config = self._config
        if config is None:
            with self._lock:
                if self._config is None:
                    self._config = _load_fleet_config(self._settings_loader(self._app_root))
                config = self._config
        return config

    def registrar(self) -> WorkerRegistrar:
        """The SDK-backed registrar; built on the first read."""
        registrar = self._registrar
        if registrar is None:
            settings = self.config().settings
            with self._lock:
                if self._registrar is None:
                    self._registrar = self._registrar_factory(settings)
                registrar = self._registrar
        return registrar

    # --- one lifecycle event -----------------------------------------------------------------------

    def handle(self, envelope: Envelope) -> RepairResult:
        """Handle one worker lifecycle event; raises only when a redelivery can help (or on configuration)."""
        started = time.perf_counter()
        ids = peek_ids(envelope)
        line = _Line(
            schema=envelope.schema,
            trigger=_TRIGGERS.get(envelope.event_type, "other"),
            worker_id=ids.worker_id,
            event_id=ids.event_id,
        )
        if not is_worker_lifecycle(envelope):
            line.reason = "not-a-lifecycle-event"
            line.extra["event_type"] = envelope.event_type
            return line.done(RepairResult(RepairOutcome.IGNORED), started)
        try:
            event = parse_worker_lifecycle(envelope)
        except InvalidEventError as err:
            line.reason = "invalid-event"
            line.extra["field"] = err.field
            _log.error(
                "rejected malformed worker lifecycle event %s (field %s: %s); acknowledged without any call. "
                "data=%s",
                _ids_text(ids),
                err.field,
                err.message,
                _cap(repr(envelope.data), _PAYLOAD_LOG_LIMIT),
            )
            return line.done(RepairResult(RepairOutcome.INVALID), started)

        line.worker_id = event.worker_id
        try:
            config = self.config()
            if config.source is None:
                line.reason = "no-fleet"
                return line.done(RepairResult(RepairOutcome.IGNORED), started)
            fleet = config.fleet
            declared = fleet.declared(event.worker_id)
            if isinstance(event, OfferExpired) and declared is not None:
                key = event.offer_id or event.event_id
                self.history.record(event.worker_id, key, self._clock(), keep=fleet.guard.window)
            result = repair_worker(
                event,
                declared,
                worker_id=event.worker_id,
                registrar=self.registrar,
                expiries=self.history.times(event.worker_id),
                guard=fleet.guard,
                clock=self._clock,
                deadline=Deadline(_EVENT_BUDGET_SECONDS, monotonic=self._monotonic),
                reread_on_conflict=True,
                auth_settings=config.settings.auth_settings,
                fleet_setting=config.source,
            )
        except Exception as err:
            line.failed(err)
            _log.log(
                _level(err), "worker lifecycle event %s failed: %s", _ids_text(ids), _cap(str(err), 4096)
            )
            line.done(RepairResult(RepairOutcome.ERROR), started)
            raise
        return line.done(result, started)

    # --- one reconciliation run --------------------------------------------------------------------

    def reconcile(self, run_id: str | None = None) -> ReconcileSummary:
        """Compare every declared worker with Job Router and repair drift, within the fleet's time budget.

        At most one read per declared worker. Workers not reached in time are left to the next run,
        which starts with them. Raises ``ConfigurationError`` at once; other failures after the run.
        """
        run_id = run_id or f"reconcile-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        summary = _Line(schema="timer", trigger="reconcile", worker_id=None, event_id=run_id)
        try:
            config = self.config()
        except Exception as err:
            summary.failed(err)
            summary.done_run("failed", started)
            raise
        workers = config.fleet.workers
        if config.source is None or not workers:
            summary.reason = "no-fleet"
            summary.done_run("done", started)
            return ReconcileSummary(run_id)

        deadline = Deadline(config.fleet.reconcile_budget.total_seconds(), monotonic=self._monotonic)
        with self._lock:
            start = self._cursor % len(workers)
        order = workers[start:] + workers[:start]
        counts: Counter[str] = Counter()
        next_start = 0
        for position, declared in enumerate(order):
            outcome = RepairOutcome.SKIPPED
            if deadline.remaining() > 0:
                outcome = self._reconcile_one(run_id, declared.worker_id, config, deadline)
            if (
                outcome is RepairOutcome.SKIPPED
            ):  # out of time: this worker and the rest wait for the next run
                counts[outcome.value] += len(order) - position
                next_start = (start + position) % len(workers)
                break
            counts[outcome.value] += 1
        with self._lock:
            self._cursor = next_start

        failures = counts[RepairOutcome.ERROR.value]
        summary.reason = "timer"
        summary.extra.update({"workers": len(workers), **dict(sorted(counts.items()))})
        summary.done_run("failed" if failures else "done", started)
        if failures:
            raise RetryableServiceError(
                f"reconciliation {run_id}: {failures} of {len(workers)} workers failed; "
                "the next run retries them"
            )
        return ReconcileSummary(run_id, dict(counts))

    def _reconcile_one(
        self, run_id: str, worker_id: str, config: _FleetConfig, deadline: Deadline
    ) -> RepairOutcome:
        started = time.perf_counter()
        line = _Line(schema="timer", trigger="reconcile", worker_id=worker_id, event_id=run_id)
        fleet = config.fleet
        assert config.source is not None
        try:
            result = repair_worker(
                ReconcileRun(run_id),
                fleet.declared(worker_id),
                worker_id=worker_id,
                registrar=self.registrar,
                expiries=self.history.times(worker_id),
                guard=fleet.guard,
                clock=self._clock,
                deadline=deadline,
                reread_on_conflict=False,  # one read per worker per run: the next run reads it again
                auth_settings=config.settings.auth_settings,
                fleet_setting=config.source,
            )
        except ConfigurationError as err:
            line.failed(err)
            _log.error("reconciliation %s stopped at worker %s: %s", run_id, worker_id, err)
            line.done(RepairResult(RepairOutcome.ERROR), started)
            raise
        except Exception as err:
            if isinstance(err, RetryableServiceError) and deadline.remaining() <= 0:
                line.reason = "time-budget"  # the budget ran out between this worker's calls
                line.done(RepairResult(RepairOutcome.SKIPPED), started)
                return RepairOutcome.SKIPPED
            line.failed(err)
            _log.log(_level(err), "reconciliation %s: worker %s failed: %s", run_id, worker_id, err)
            line.done(RepairResult(RepairOutcome.ERROR), started)
            return RepairOutcome.ERROR
        line.done(result, started)
        return result.outcome


def _load_fleet_config(settings: Settings) -> _FleetConfig:
    if settings.fleet_text is not None and settings.fleet_file is not None:
        raise ConfigurationError(f"set {FLEET} or {FLEET_FILE}, not both", setting=f"{FLEET}, {FLEET_FILE}")
    source = FLEET if settings.fleet_text is not None else FLEET_FILE if settings.fleet_file else None
    try:
        if settings.fleet_text is not None:
            fleet = load_fleet_text(settings.fleet_text)
        elif settings.fleet_file is not None:
            fleet = load_fleet_file(settings.fleet_file)
        else:
            fleet = NO_FLEET
    except InvalidFleetError as err:
        assert source is not None
        raise ConfigurationError(f"{source}: {err}", setting=source) from err
    return _FleetConfig(settings=settings, fleet=fleet, source=source)


def _level(err: BaseException) -> int:
    # A transient failure is routine (a redelivery or the next run retries); anything else needs a person.
    return logging.WARNING if isinstance(err, RetryableServiceError) else logging.ERROR


# --- the fleet log line ---------------------------------------------------------------------------


class _Line:
    """Collects the fields of one fleet-log line and writes it exactly once."""

    __slots__ = ("event_id", "extra", "reason", "schema", "trigger", "worker_id")

    def __init__(self, *, schema: str, trigger: str, worker_id: str | None, event_id: str | None) -> None:
        self.schema = schema
        self.trigger = trigger
        self.worker_id = worker_id
        self.event_id = event_id
        self.reason = "-"
        self.extra: dict[str, object] = {}

    def failed(self, err: BaseException) -> None:
        self.extra["error"] = err.__class__.__name__
        status = getattr(err, "status_code", None)
        if isinstance(status, int):
            self.extra["status"] = status

    def done(self, result: RepairResult, started: float) -> RepairResult:
        action, reason, changes, until, expiries = _describe(result.decision)
        elapsed_ms = (time.perf_counter() - started) * 1000
        fields: dict[str, object] = {
            "action": action,
            "reason": reason if result.decision is not None else self.reason,
            "worker_id": self.worker_id,
            "event_id": self.event_id,
            "trigger": self.trigger,
            "outcome": result.outcome.value,
            "changes": changes,
            "until": until,
            "expiries": expiries,
            "elapsed_ms": f"{elapsed_ms:.1f}",
            "schema": self.schema,
            **self.extra,
        }
        if result.status_code is not None:
            fields["status"] = result.status_code
        _actions.info("%s", format_fields(fields))
        return result

    def done_run(self, outcome: str, started: float) -> None:
        """The summary line of a reconciliation run (``outcome``: done or failed, counts in ``extra``)."""
        elapsed_ms = (time.perf_counter() - started) * 1000
        fields: dict[str, object] = {
            "action": "reconcile",
            "reason": self.reason,
            "worker_id": None,
            "event_id": self.event_id,
            "trigger": self.trigger,
            "outcome": outcome,
            "elapsed_ms": f"{elapsed_ms:.1f}",
            "schema": self.schema,
            **self.extra,
        }
        _actions.info("%s", format_fields(fields))


def _describe(decision: RepairDecision | None) -> tuple[str, str, str | None, str | None, int | None]:
    """(action, reason, changes, until, expiries) of a decision, for the log line."""
    match decision:
        case None:
            return "none", "-", None, None, None
        case Register(reason=reason, patch=patch):
            return "register", reason, ",".join(patch.changes), None, None
        case Deregister(reason=reason, patch=patch):
            return "deregister", reason, ",".join(patch.changes), None, None
        case BackOff(reason=reason, until=until, expiries=expiries):
            return "back-off", reason, None, until.isoformat(), expiries
        case LeaveWorker(reason=reason):
            return "leave", reason, None, None, None
        case _:
            assert_never(decision)


def _ids_text(ids: OfferIds) -> str:
    return format_fields({"event_id": ids.event_id, "worker_id": ids.worker_id, "offer_id": ids.offer_id})


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...(+{len(text) - limit} chars)"
