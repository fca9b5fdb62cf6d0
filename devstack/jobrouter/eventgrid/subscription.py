"""One webhook subscription: its Event Grid delivery policy and the ``--webhook URL[#options]`` grammar.

``--webhook`` syntax (:meth:`Subscription.parse`)::

    URL[#option=value[&option=value...]]

    http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=on_offer
    http://127.0.0.1:7071/api/events#types=RouterWorkerOfferIssued,RouterWorkerOfferRevoked&schema=cloudevents

The options live in the URL *fragment*, which HTTP never sends, so they cannot clash with the URL's query.
Options: ``types`` (comma list; short ``RouterJobQueued`` or full ``Microsoft.Communication.RouterJobQueued``
names, case-insensitive; default all), ``schema`` (``eventgrid`` | ``cloudevents``), ``name`` (the
``aeg-subscription-name``), ``max-attempts`` (1-30), ``ttl`` (minutes, 1-1440), ``retry-scale``
(multiplies every retry delay and the TTL, e.g. 0.01), ``timeout`` (seconds to wait for an answer),
``dead-letter`` (path of the JSON-lines file) and ``handshake`` (``true`` | ``false``).
Guide: docs/eventgrid-delivery.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from devstack.jobrouter.event_types import resolve_event_type, short_event_type
from devstack.jobrouter.eventgrid.delivery import DEFAULT_RETRY_SCHEDULE, retry_delay
from devstack.jobrouter.eventgrid.envelopes import SCHEMAS, Schema

__all__ = ["Subscription"]

_MAX_ATTEMPTS_LIMIT: Final = 30
_TTL_LIMIT_MINUTES: Final = 1440
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Subscription:
    """One webhook event subscription and its Event Grid delivery policy.

    ``event_ttl`` is in minutes (Event Grid's unit). ``retry_scale`` multiplies every retry delay *and* the
    TTL, so ``retry_scale=0.001`` replays the real timeline a thousand times faster; it never touches
    ``delivery_timeout`` (how long one attempt waits for an answer).
    """

    endpoint: str = field(repr=False)
    schema: Schema = "eventgrid"
    included_event_types: frozenset[str] | None = None
    max_delivery_attempts: int = 30
    event_ttl: float = 1440.0
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    retry_scale: float = 1.0
    delivery_timeout: float = 30.0
    dead_letter_path: Path | None = None
    name: str = ""
    handshake: bool = True

    def __post_init__(self) -> None:
        self._check_endpoint()
        if self.schema not in SCHEMAS:
            raise ValueError(f"webhook schema must be one of {', '.join(SCHEMAS)}, got {self.schema!r}")
        if self.included_event_types is not None:
            if not self.included_event_types:
                raise ValueError("included_event_types must be None (all types) or name at least one type")
            resolved = frozenset(resolve_event_type(t) for t in self.included_event_types)
            object.__setattr__(self, "included_event_types", resolved)
        self._check_retry_policy()
        if not (math.isfinite(self.delivery_timeout) and self.delivery_timeout > 0):
            raise ValueError(f"delivery_timeout must be > 0 seconds, got {self.delivery_timeout}")
        if self.dead_letter_path is not None:
            object.__setattr__(self, "dead_letter_path", Path(self.dead_letter_path))

    def _check_endpoint(self) -> None:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"webhook endpoint must be an absolute http(s) URL, got {_redact(self.endpoint)!r}"
            )
        if parts.fragment:
            raise ValueError(
                "webhook endpoint must not carry a '#' fragment (use Subscription.parse for '#options')"
            )

    def _check_retry_policy(self) -> None:
        """Attempts, time to live, schedule and scale; the schedule is stored as a tuple of floats."""
        if not 1 <= self.max_delivery_attempts <= _MAX_ATTEMPTS_LIMIT:
            raise ValueError(
                f"max_delivery_attempts must be 1-{_MAX_ATTEMPTS_LIMIT}, got {self.max_delivery_attempts}"
            )
        if not 0 < self.event_ttl <= _TTL_LIMIT_MINUTES:
            raise ValueError(
                f"event_ttl must be >0 and <= {_TTL_LIMIT_MINUTES} minutes, got {self.event_ttl}"
            )
        if not self.retry_schedule or any(not math.isfinite(d) or d < 0 for d in self.retry_schedule):
            raise ValueError(
                f"retry_schedule must be a non-empty list of delays >= 0, got {self.retry_schedule}"
            )
        object.__setattr__(self, "retry_schedule", tuple(float(d) for d in self.retry_schedule))
        if not (math.isfinite(self.retry_scale) and self.retry_scale > 0):
            raise ValueError(f"retry_scale must be > 0, got {self.retry_scale}")

    def __repr__(self) -> str:
        types = (
            "all"
            if self.included_event_types is None
            else sorted(map(short_event_type, self.included_event_types))
        )
        return (
            f"Subscription(endpoint={self.display_endpoint!r}, schema={self.schema!r}, types={types}, "
            f"max_delivery_attempts={self.max_delivery_attempts}, event_ttl={self.event_ttl}, "
            f"retry_scale={self.retry_scale}, dead_letter_path={self.dead_letter_path})"
        )

    @property
    def display_endpoint(self) -> str:
        """The endpoint without query or credentials (a Function URL's ``code=`` is a secret): safe to log."""
        return _redact(self.endpoint)

    def accepts(self, event_type: str) -> bool:
        """True when this subscription's type filter lets ``event_type`` through."""
        return self.included_event_types is None or event_type in self.included_event_types

    def retry_delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failed attempt (1-based), already scaled."""
        return retry_delay(self.retry_schedule, failed_attempts, self.retry_scale)

    @property
    def ttl_seconds(self) -> float:
        """The event time-to-live in seconds, already scaled."""
        return self.event_ttl * 60.0 * self.retry_scale

    @classmethod
    def parse(
        cls,
        spec: str,
        *,
        schema: Schema = "eventgrid",
        max_delivery_attempts: int = 30,
        event_ttl: float = 1440.0,
        retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE,
        retry_scale: float = 1.0,
        delivery_timeout: float = 30.0,
        dead_letter_path: Path | None = None,
        name: str = "",
        handshake: bool = True,
    ) -> Subscription:
        """Parse a CLI ``--webhook`` value ``URL[#option=value&...]``; keyword arguments are the defaults.

        Raises ValueError naming the bad option or value.
        """
        url, _, fragment = spec.strip().partition("#")
        if not url:
            raise ValueError("empty --webhook value")
        values: dict[str, Any] = {
            "schema": schema,
            "included_event_types": None,
            "max_delivery_attempts": max_delivery_attempts,
            "event_ttl": event_ttl,
            "retry_schedule": retry_schedule,
            "retry_scale": retry_scale,
            "delivery_timeout": delivery_timeout,
            "dead_letter_path": dead_letter_path,
            "name": name,
            "handshake": handshake,
        }
        for key, raw in parse_qsl(fragment, keep_blank_values=True, strict_parsing=False):
            option = key.strip().lower().replace("_", "-")
            value = raw.strip()
            try:
                _apply_option(values, option, value)
            except ValueError as error:
                raise ValueError(f"--webhook {_redact(url)}: option {key!r}: {error}") from None
        try:
            return cls(endpoint=url, **values)
        except ValueError as error:
            raise ValueError(f"--webhook {_redact(url)}: {error}") from None


def _parse_types(value: str) -> frozenset[str]:
    names = [n for n in (part.strip() for part in value.split(",")) if n]
    if not names:
        raise ValueError("needs at least one event type")
    return frozenset(resolve_event_type(n) for n in names)


def _parse_schema(value: str) -> str:
    if value.lower() not in SCHEMAS:
        raise ValueError(f"must be one of {', '.join(SCHEMAS)}, got {value!r}")
    return value.lower()


def _parse_bool(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {value!r}")


# option name (and aliases) -> (Subscription field, parser)
_OPTIONS: Final[Mapping[str, tuple[str, Callable[[str], Any]]]] = {
    "types": ("included_event_types", _parse_types),
    "type": ("included_event_types", _parse_types),
    "schema": ("schema", _parse_schema),
    "name": ("name", str),
    "max-attempts": ("max_delivery_attempts", lambda v: _number(v, int)),
    "ttl": ("event_ttl", lambda v: _number(v, float)),
    "retry-scale": ("retry_scale", lambda v: _number(v, float)),
    "timeout": ("delivery_timeout", lambda v: _number(v, float)),
    "dead-letter": ("dead_letter_path", lambda v: Path(v) if v else None),
    "handshake": ("handshake", _parse_bool),
}


def _apply_option(values: dict[str, Any], option: str, value: str) -> None:
    known = _OPTIONS.get(option)
    if known is None:
        raise ValueError(f"unknown option; known: {', '.join(sorted(_OPTIONS))}")
    field_name, parse = known
    values[field_name] = parse(value)


def _number[T: (int, float)](value: str, kind: type[T]) -> T:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"expected {'an integer' if kind is int else 'a number'}, got {value!r}") from None


def _redact(url: str) -> str:
    """scheme://host:port/path only: drops userinfo, query and fragment, where keys live."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
