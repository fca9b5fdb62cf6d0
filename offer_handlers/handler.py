"""One invocation end to end: parse, decide, carry out, and write exactly one decision-log line.

``OfferHandler`` lives once per worker process. It reads settings, loads the policy (or plug-in) and
builds the SDK client lazily, on the first event that needs each, and keeps them. The decision log
(logger ``offer_handlers.decisions``, format in ``offer_handlers.decision_log``) gets one INFO line of
``key=value`` pairs per invocation, whatever happens — including malformed events and failures, which
are logged before re-raising. The same fields go on the log record as attributes and, in OpenTelemetry
mode, on the offer's span and into metrics (``offer_handlers.telemetry``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from offer_handlers.decide import Accept, Decider, Decision, Decline, Leave, decide
from offer_handlers.decision_log import DECISION_LOGGER, LOG_VERSION, format_fields
from offer_handlers.errors import (
    ConfigurationError,
    InvalidEventError,
    InvalidPolicyError,
    RetryableServiceError,
)
from offer_handlers.events import Envelope, Offer, OfferIds, is_offer_issued, parse_offer, peek_ids
from offer_handlers.execute import OfferResponder, Outcome, Result, SettledOffers, carry_out
from offer_handlers.policy import NO_POLICY, Policy
from offer_handlers.policy_document import load_policy_file, load_policy_text
from offer_handlers.settings import POLICY, POLICY_FILE, Settings, load_settings
from offer_handlers.telemetry import NO_TELEMETRY, AttributeValue, Telemetry

if TYPE_CHECKING:
    from offer_handlers.health import HealthReport

__all__ = ["DECISION_LOGGER", "OfferHandler", "ResponderFactory", "format_fields", "utc_now"]

_decisions = logging.getLogger(DECISION_LOGGER)
_log = logging.getLogger(__name__)

# Enough of a bad payload to recover it from the logs, without letting one event flood them.
_PAYLOAD_LOG_LIMIT: Final = 8192

type ResponderFactory = Callable[[Settings], OfferResponder]


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


def _default_responder_factory(settings: Settings) -> OfferResponder:
    from offer_handlers.client import build_responder  # the SDK client only when a call is due

    return build_responder(settings)


@dataclass(frozen=True, slots=True)
class _Config:
    settings: Settings
    policy: Policy
    decider: Decider
    telemetry: Telemetry


class OfferHandler:
    """Handles delivered events; one instance per worker process (thread-safe)."""

    def __init__(
        self,
        *,
        app_root: Path,
        settings_loader: Callable[[Path], Settings] = load_settings,
        responder_factory: ResponderFactory = _default_responder_factory,
        clock: Callable[[], datetime] = utc_now,
        settled: SettledOffers | None = None,
    ) -> None:
        self._app_root = app_root
        self._settings_loader = settings_loader
        self._responder_factory = responder_factory
        self._clock = clock
        self.settled = settled if settled is not None else SettledOffers()
        self._lock = threading.Lock()
        self._config: _Config | None = None
        self._responder: OfferResponder | None = None

    # --- lazily built, then kept for the life of the process -------------------------------------

    def config(self) -> _Config:
        """Settings, policy and decider; loaded on first use (errors are raised, not cached)."""
        config = self._config
        if config is None:
            with self._lock:
                if self._config is None:
                    self._config = _load_config(self._settings_loader(self._app_root))
                config = self._config
        return config

    def responder(self) -> OfferResponder:
        """The SDK-backed responder; built on the first accept or decline."""
        responder = self._responder
        if responder is None:
            settings = self.config().settings
            with self._lock:
                if self._responder is None:
                    self._responder = self._responder_factory(settings)
                responder = self._responder
        return responder

    def health(self) -> HealthReport:
        """Whether settings and policy load and Job Router accepts the credentials."""
        from offer_handlers.health import check_health

        return check_health(
            load_settings=lambda: self._settings_loader(self._app_root),
            load_policy=self.config,
            responder=self.responder,
        )

    # --- one invocation ----------------------------------------------------------------------------

    def handle(self, envelope: Envelope) -> Result:
        """Handle one event; raises only when a redelivery can help (or configuration is wrong)."""
        started = time.perf_counter()
        now = self._clock()
        line = _Line(envelope.schema, peek_ids(envelope))

        if not is_offer_issued(envelope):
            line.reason = "not-an-offer-event"
            if envelope.event_type is not None:
                line.extra["event_type"] = _text(envelope.event_type)
            return line.done(Result(Outcome.IGNORED), started, self._telemetry_if_loaded())
        try:
            offer = parse_offer(envelope)
        except InvalidEventError as err:
            line.reason = "invalid-event"
            line.extra["field"] = err.field
            _log.error(
                "rejected malformed event %s (field %s: %s); acknowledged without any call. payload=%s",
                _ids_text(line.ids),
                err.field,
                err.message,
                _capped_payload(envelope),
            )
            return line.done(Result(Outcome.INVALID), started, self._telemetry_if_loaded())
        line.offer = offer

        try:
            config = self.config()
        except Exception as err:
            self._failed(line, err, started, NO_TELEMETRY, None)
            raise
        telemetry = config.telemetry
        with telemetry.offer_span() as span:
            try:
                decision = config.decider(offer, config.policy, now=now)
                line.set_decision(decision)
                result = carry_out(
                    offer,
                    decision,
                    responder=self.responder,
                    settled=self.settled,
                    clock=self._clock,
                    auth_settings=config.settings.auth_settings,
                )
            except Exception as err:
                self._failed(line, err, started, telemetry, span)
                raise
            if result.status_code is not None:
                line.extra["status"] = result.status_code
            return line.done(result, started, telemetry, span, answered_at=self._clock())

    def _telemetry_if_loaded(self) -> Telemetry:
        # Events that are not offers never load settings; they are reported once an offer has.
        config = self._config
        return NO_TELEMETRY if config is None else config.telemetry

    def _failed(
        self, line: _Line, err: Exception, started: float, telemetry: Telemetry, span: object | None
    ) -> None:
        line.extra["error"] = err.__class__.__name__
        status = getattr(err, "status_code", None)
        if isinstance(status, int):
            line.extra["status"] = status
        # A transient failure is routine (Event Grid redelivers); anything else needs a person.
        level = logging.WARNING if isinstance(err, RetryableServiceError) else logging.ERROR
        _log.log(level, "offer %s failed: %s", _ids_text(line.ids), _cap(str(err), _PAYLOAD_LOG_LIMIT))
        line.done(Result(Outcome.ERROR), started, telemetry, span, answered_at=self._clock())


def _load_config(settings: Settings) -> _Config:
    try:
        if settings.policy_text is not None:
            policy = load_policy_text(settings.policy_text)
        elif settings.policy_file is not None:
            policy = load_policy_file(settings.policy_file)
        else:
            policy = NO_POLICY
    except InvalidPolicyError as err:
        source = POLICY if settings.policy_text is not None else POLICY_FILE
        raise ConfigurationError(f"{source}: {err}", setting=source) from err
    decider: Decider = decide
    if settings.decider is not None:
        from offer_handlers.plugin import load_decider

        decider = load_decider(settings.decider)
    telemetry = NO_TELEMETRY
    if settings.opentelemetry:
        from offer_handlers.telemetry_otel import OpenTelemetryTelemetry  # OpenTelemetry only in this mode

        telemetry = OpenTelemetryTelemetry()
    return _Config(settings=settings, policy=policy, decider=decider, telemetry=telemetry)


# --- the decision log line ----------------------------------------------------------------------


class _Line:
    """Collects the fields of one decision-log line and writes it exactly once."""

    __slots__ = ("decision", "extra", "ids", "offer", "reason", "retry_at", "schema")

    def __init__(self, schema: str, ids: OfferIds) -> None:
        self.schema = schema
        self.ids = ids
        self.offer: Offer | None = None
        self.decision = "none"
        self.reason: str | None = None
        self.retry_at: datetime | None = None
        self.extra: dict[str, AttributeValue] = {}

    def set_decision(self, decision: Decision) -> None:
        match decision:
            case Accept(reason=reason):
                self.decision, self.reason = "accept", reason
            case Decline(reason=reason, retry_at=retry_at):
                self.decision, self.reason, self.retry_at = "decline", reason, retry_at
            case Leave(reason=reason):
                self.decision, self.reason = "leave", reason

    def done(
        self,
        result: Result,
        started: float,
        telemetry: Telemetry,
        span: object | None = None,
        *,
        answered_at: datetime | None = None,
    ) -> Result:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        offer_age_ms = time_left_ms = None
        if self.offer is not None and answered_at is not None:
            if self.offer.offered_at is not None:
                offer_age_ms = _ms(answered_at - self.offer.offered_at)
            time_left_ms = _ms(self.offer.expires_at - answered_at)
        fields: dict[str, AttributeValue | None] = {
            "v": LOG_VERSION,
            "decision": self.decision,
            "reason": self.reason,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "event_id": self.ids.event_id,
            "offer_id": self.ids.offer_id,
            "job_id": self.ids.job_id,
            "worker_id": self.ids.worker_id,
            "outcome": result.outcome.value,
            "elapsed_ms": elapsed_ms,
            "offer_age_ms": offer_age_ms,
            "time_left_ms": time_left_ms,
            "schema": self.schema,
            **self.extra,
        }
        attributes = {key: value for key, value in fields.items() if value is not None}
        telemetry.record(attributes, span)
        _decisions.info("%s", format_fields(fields), extra=attributes)
        return result


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...(+{len(text) - limit} chars)"


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=repr)


def _ids_text(ids: OfferIds) -> str:
    return format_fields(
        {"event_id": ids.event_id, "offer_id": ids.offer_id, "job_id": ids.job_id, "worker_id": ids.worker_id}
    )


def _capped_payload(envelope: Envelope) -> str:
    body = {
        "schema": envelope.schema,
        "id": envelope.event_id,
        "type": envelope.event_type,
        "subject": envelope.subject,
        "data": envelope.data,
    }
    try:
        text = json.dumps(body, default=repr, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = "<payload could not be serialised>"
    return _cap(text, _PAYLOAD_LOG_LIMIT)
