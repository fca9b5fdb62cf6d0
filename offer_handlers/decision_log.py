"""The decision-log line: its logfmt format, the one parser of it, and a typed view of a parsed line.

Every invocation writes one line to the logger ``offer_handlers.decisions`` (README.md, "Logs"). Its
first field is the format version, ``v=2``; a line without ``v`` is version 1 (before ``offer_age_ms``
and ``time_left_ms``). ``format_fields`` writes ``key=value`` pairs; ``parse_fields`` is its exact
inverse, and every consumer of the log (the demo summary, the reliability reconciliation, ``python -m
offer_handlers report``) reads lines through it, so the format lives in this module only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DECISION_LOGGER",
    "LOG_VERSION",
    "VALUE_LOG_LIMIT",
    "DecisionRecord",
    "InvalidLogLineError",
    "decision_text",
    "format_fields",
    "parse_fields",
]

DECISION_LOGGER: Final = "offer_handlers.decisions"
LOG_VERSION: Final = 2
#: Longer values are cut to this many characters (plus a ``...(+N chars)`` marker) when written.
VALUE_LOG_LIMIT: Final = 256
_MISSING: Final = "-"
# A value is JSON-quoted when it holds whitespace, '=', '"' or '\\' (or a non-printable character), and
# when it is the missing marker itself. One regex search instead of a per-character loop: the line is
# written on every invocation.
_NEEDS_QUOTES: Final = re.compile(r'[\s="\\]')
# A bare value runs to the next whitespace; a quoted one is a JSON string.
_PAIR: Final = re.compile(r'([^\s="\\]+)=("(?:[^"\\]|\\.)*"|[^\s="\\]*)')
_SPACES: Final = re.compile(r" +")
# How a decision line sits in a log file: after the logger name (the host's and the worker's formats),
# or alone, as Application Insights stores the message.
_IN_LOG: Final = re.compile(rf"(?:^|\s){re.escape(DECISION_LOGGER)}:? (?P<fields>.*)$")


class InvalidLogLineError(ValueError):
    """Text that is not a sequence of ``key=value`` pairs; ``position`` is where reading stopped."""

    def __init__(self, message: str, *, position: int) -> None:
        self.position = position
        super().__init__(f"{message} at character {position}")


def format_fields(fields: Mapping[str, object]) -> str:
    """logfmt ``key=value`` pairs: values with spaces, quotes or '=' are JSON-quoted, missing ones '-'.

    Keys must be identifiers. ``None`` and ``""`` are written as ``-`` (missing); a literal ``-`` is
    quoted so that it reads back as itself. Values are written with ``str`` and cut at
    ``VALUE_LOG_LIMIT`` characters.
    """
    return " ".join(f"{key}={_value(value)}" for key, value in fields.items())


def _value(value: object) -> str:
    if value is None or value == "":
        return _MISSING
    text = _cap(str(value), VALUE_LOG_LIMIT)
    if text == _MISSING or _NEEDS_QUOTES.search(text) is not None or not text.isprintable():
        return json.dumps(text)
    return text


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...(+{len(text) - limit} chars)"


def parse_fields(text: str) -> dict[str, str | None]:
    """The pairs of a line written by ``format_fields`` (``-`` reads as None); raises ``InvalidLogLineError``.

    Exactly the inverse: ``parse_fields(format_fields(x)) == x`` for identifier keys and values that are
    None or non-empty strings within ``VALUE_LOG_LIMIT``.
    """
    fields: dict[str, str | None] = {}
    position = 0
    end = len(text.rstrip())
    while position < end:
        match = _PAIR.match(text, position)
        if match is None:
            raise InvalidLogLineError("expected key=value", position=position)
        key, raw = match.group(1), match.group(2)
        if key in fields:
            raise InvalidLogLineError(f"key {key!r} appears twice", position=position)
        fields[key] = _unquote(raw, match.start(2))
        position = match.end()
        if position < end:
            spaces = _SPACES.match(text, position)
            if spaces is None:
                raise InvalidLogLineError("expected a space between pairs", position=position)
            position = spaces.end()
    return fields


def _unquote(raw: str, position: int) -> str | None:
    if raw == _MISSING:
        return None
    if not raw.startswith('"'):
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidLogLineError("a quoted value is not a JSON string", position=position) from None
    return str(value)


def decision_text(line: str) -> str | None:
    """The decision fields of one log-file line, or None when the line is not a decision line.

    Accepts the line as the host stand-in and the worker log it (``... offer_handlers.decisions: v=2 ...``)
    and the bare message (a line that starts with ``v=``, e.g. exported from Application Insights).
    """
    stripped = line.strip()
    if stripped.startswith("v="):
        return stripped
    found = _IN_LOG.search(stripped)
    return None if found is None else found["fields"]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One parsed decision line, with typed views of the fields every consumer reads.

    ``fields`` keeps every pair as written (missing values None), for keys added later.
    """

    version: int
    decision: str | None
    reason: str | None
    retry_at: str | None
    outcome: str | None
    event_id: str | None
    offer_id: str | None
    job_id: str | None
    worker_id: str | None
    elapsed_ms: float | None
    offer_age_ms: float | None
    time_left_ms: float | None
    error: str | None
    status: int | None
    fields: Mapping[str, str | None] = field(repr=False)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str | None]) -> DecisionRecord:
        """The typed view of parsed pairs; a number that does not parse reads as None."""
        version = _number(fields.get("v"))
        status = _number(fields.get("status"))
        return cls(
            version=int(version) if version is not None else 1,
            decision=fields.get("decision"),
            reason=fields.get("reason"),
            retry_at=fields.get("retry_at"),
            outcome=fields.get("outcome"),
            event_id=fields.get("event_id"),
            offer_id=fields.get("offer_id"),
            job_id=fields.get("job_id"),
            worker_id=fields.get("worker_id"),
            elapsed_ms=_number(fields.get("elapsed_ms")),
            offer_age_ms=_number(fields.get("offer_age_ms")),
            time_left_ms=_number(fields.get("time_left_ms")),
            error=fields.get("error"),
            status=int(status) if status is not None and status.is_integer() else None,
            fields=dict(fields),
        )

    @classmethod
    def from_text(cls, text: str) -> DecisionRecord:
        """Parse the fields of one decision line; raises ``InvalidLogLineError``."""
        return cls.from_fields(parse_fields(text))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
