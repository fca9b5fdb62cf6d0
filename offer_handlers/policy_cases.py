"""Policy test cases: what a policy must decide for given offers, read from a JSON document and checked.

A cases document (version 1) lists cases; each names an offer-issued event (a file next to the document, or
inline), optional changes to the event's ``data``, an optional evaluation time (default: the offer's
offered-at time) and the expected decision in the policy's own words plus the reason. Loading validates
everything and raises ``InvalidCasesError`` naming the case and field; ``check_cases`` is pure.
README.md, "Policy tests as code", documents the format.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal, NoReturn, assert_never

from offer_handlers.decide import Accept, Decision, Decline, Leave, decide
from offer_handlers.errors import InvalidCasesError, InvalidEventError
from offer_handlers.events import Envelope, Offer, envelopes_from_json, is_offer_issued, parse_offer
from offer_handlers.explain import RuleTrace, trace
from offer_handlers.policy import Policy

__all__ = [
    "CASES_VERSION",
    "CaseResult",
    "Expected",
    "PolicyCase",
    "check_cases",
    "describe_decision",
    "describe_expected",
    "load_cases_file",
]

CASES_VERSION: Final = 1
# The policy's own bound on retryAfterSeconds: a job lives at most 90 days.
_MAX_RETRY_AFTER_SECONDS: Final = 90 * 24 * 3600

type ActionName = Literal["accept", "decline", "leave"]


@dataclass(frozen=True, slots=True)
class Expected:
    """The decision a case expects: ``retry_after`` only for a decline with retry, ``None`` otherwise."""

    action: ActionName
    reason: str
    retry_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class PolicyCase:
    """One case: the parsed offer, when to evaluate it (and why that time), and what must be decided."""

    name: str
    offer: Offer
    now: datetime
    now_source: str
    expected: Expected


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's outcome: the actual decision and the rules tried to reach it."""

    case: PolicyCase
    decision: Decision
    passed: bool
    steps: tuple[RuleTrace, ...]


def check_cases(policy: Policy, cases: tuple[PolicyCase, ...]) -> tuple[CaseResult, ...]:
    """Decide every case's offer with the policy at the case's time and compare with what it expects."""
    results = []
    for case in cases:
        decision = decide(case.offer, policy, now=case.now)
        steps = trace(case.offer, policy, now=case.now)
        results.append(CaseResult(case, decision, _matches(case.expected, decision, case.now), steps))
    return tuple(results)


def _matches(expected: Expected, decision: Decision, now: datetime) -> bool:
    if expected.reason != decision.reason:
        return False
    match decision:
        case Accept():
            return expected.action == "accept"
        case Leave():
            return expected.action == "leave"
        case Decline(retry_at=None):
            return expected.action == "decline" and expected.retry_after is None
        case Decline(retry_at=retry_at):
            assert retry_at is not None
            return expected.action == "decline" and expected.retry_after == retry_at - now
        case _:
            assert_never(decision)


def describe_expected(expected: Expected) -> str:
    """The expected decision in the words ``describe_decision`` uses."""
    what: str = expected.action
    if expected.action == "decline":
        what = _decline_words(expected.retry_after)
    return f"{what} ({expected.reason})"


def describe_decision(decision: Decision, now: datetime) -> str:
    """A decision as ``accept (reason)``, ``decline, retry after 120 s (reason)``, ``leave (reason)``..."""
    match decision:
        case Accept():
            what = "accept"
        case Leave():
            what = "leave"
        case Decline(retry_at=retry_at):
            what = _decline_words(None if retry_at is None else retry_at - now)
        case _:
            assert_never(decision)
    return f"{what} ({decision.reason})"


def _decline_words(retry_after: timedelta | None) -> str:
    if retry_after is None:
        return "decline for good"
    return f"decline, retry after {retry_after.total_seconds():g} s"


# --- loading --------------------------------------------------------------------------------------


def load_cases_file(path: Path) -> tuple[PolicyCase, ...]:
    """Read and validate a cases document; event files are read relative to its folder."""
    document = _read_json(path, what="cases")
    top = _Obj(document, case=None, path="")
    top.only({"$schema", "version", "description", "cases"})
    version = top.get("version")
    if version != CASES_VERSION or isinstance(version, bool):
        top.fail("version", f"expected {CASES_VERSION}, got {version!r}")
    top.optional_text("description")
    raw_cases = top.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        top.fail("cases", "expected a non-empty array of cases")
    cases: list[PolicyCase] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_cases):
        case = _parse_case(raw, index, path.parent)
        if case.name in seen:
            raise InvalidCasesError("two cases have this name", case=case.name)
        seen.add(case.name)
        cases.append(case)
    return tuple(cases)


def _parse_case(raw: object, index: int, folder: Path) -> PolicyCase:
    label = f"#{index + 1}"
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
        label = raw["name"]
    case = _Obj(raw, case=label, path="")
    case.only({"name", "description", "event", "data", "now", "expect"})
    name = case.get("name")
    if not isinstance(name, str) or not name:
        case.fail("name", "every case needs a name")
    case.optional_text("description")
    envelope = _event(case, folder)
    changes = case.get("data")
    if changes is not None:
        if not isinstance(changes, dict):
            case.fail("data", "expected an object of event data fields to replace")
        if not isinstance(envelope.data, dict):
            case.fail("data", "the event's data is not an object, so it cannot be changed")
        envelope = dataclasses.replace(envelope, data={**envelope.data, **changes})
    try:
        offer = parse_offer(envelope)
    except InvalidEventError as err:
        case.fail("event", f"not a valid offer: {err}")
    now, now_source = _now(case, offer)
    return PolicyCase(name, offer, now, now_source, _parse_expected(case.child("expect")))


def _event(case: _Obj, folder: Path) -> Envelope:
    raw = case.get("event")
    if isinstance(raw, str) and raw:
        body = _read_json(folder / raw, what="event", case=case)
    elif isinstance(raw, dict | list):
        body = raw
    else:
        case.fail("event", "expected a file name (relative to the cases file) or the event itself")
    try:
        envelopes = envelopes_from_json(body)
    except InvalidEventError as err:
        case.fail("event", str(err))
    if len(envelopes) != 1:
        case.fail("event", f"expected exactly one event, found {len(envelopes)}")
    (envelope,) = envelopes
    if not is_offer_issued(envelope):
        case.fail("event", f"expected a RouterWorkerOfferIssued event, got {envelope.event_type!r}")
    return envelope


def _now(case: _Obj, offer: Offer) -> tuple[datetime, str]:
    raw = case.get("now")
    if raw is None:
        if offer.offered_at is None:
            case.fail("now", "the event has no offered-at time: give the evaluation time")
        return offer.offered_at, "the offer's offered-at time"
    if not isinstance(raw, str):
        case.fail("now", "expected an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        case.fail("now", f"{raw!r} is not an ISO 8601 date-time")
    return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed), "given"


def _parse_expected(obj: _Obj) -> Expected:
    reason = obj.get("reason")
    if not isinstance(reason, str) or not reason:
        obj.fail("reason", "expected the reason: the matching rule's name, or 'default'")
    match obj.get("action"):
        case "accept":
            obj.only({"action", "reason"})
            return Expected("accept", reason)
        case "leave":
            obj.only({"action", "reason"})
            return Expected("leave", reason)
        case "decline":
            obj.only({"action", "reason", "retryAfterSeconds", "retry"})
            has_after = obj.get("retryAfterSeconds") is not None
            has_never = obj.get("retry") is not None
            if has_after == has_never:
                obj.fail(None, 'a decline expects either "retryAfterSeconds": N or "retry": "never"')
            if has_never:
                if obj.get("retry") != "never":
                    obj.fail("retry", 'the only value is "never"')
                return Expected("decline", reason)
            seconds = obj.get("retryAfterSeconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                obj.fail("retryAfterSeconds", "expected a number")
            if not 1 <= seconds <= _MAX_RETRY_AFTER_SECONDS:
                obj.fail("retryAfterSeconds", f"must be between 1 and {_MAX_RETRY_AFTER_SECONDS}")
            return Expected("decline", reason, timedelta(seconds=seconds))
        case other:
            obj.fail("action", f'expected "accept", "decline" or "leave", got {other!r}')


def _read_json(path: Path, *, what: str, case: _Obj | None = None) -> object:
    """A JSON file, strictly: duplicate keys and NaN/Infinity are errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        message = f"cannot read {what} file {str(path)!r}: {err.__class__.__name__}"
        if case is not None:
            case.fail("event", message)
        raise InvalidCasesError(message) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except InvalidCasesError as err:
        message = f"{what} file {str(path)!r}: {err.message}"
    except (ValueError, RecursionError) as err:
        message = f"{what} file {str(path)!r} is not valid JSON: {err}"
    if case is not None:
        case.fail("event", message)
    raise InvalidCasesError(message)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidCasesError(f"key {key!r} appears twice in the same object")
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise InvalidCasesError(f"{name} is not a JSON number")


class _Obj:
    """A JSON object inside the cases document, with reads that fail naming the case and field path."""

    __slots__ = ("_case", "_path", "_raw")

    def __init__(self, raw: object, *, case: str | None, path: str) -> None:
        self._case = case
        self._path = path
        if not isinstance(raw, dict):
            raise InvalidCasesError("expected a JSON object", case=case, field=path or None)
        self._raw: Mapping[str, object] = raw

    def fail(self, key: str | None, message: str) -> NoReturn:
        field = self._path if key is None else (f"{self._path}.{key}" if self._path else key)
        raise InvalidCasesError(message, case=self._case, field=field or None)

    def get(self, key: str) -> object:
        return self._raw.get(key)

    def only(self, allowed: set[str]) -> None:
        for key in self._raw:
            if key not in allowed:
                self.fail(key, f"unknown field; expected one of {', '.join(sorted(allowed))}")

    def child(self, key: str) -> _Obj:
        return _Obj(self._raw.get(key), case=self._case, path=f"{self._path}.{key}" if self._path else key)

    def optional_text(self, key: str) -> None:
        if self.get(key) is not None and not isinstance(self.get(key), str):
            self.fail(key, "expected a string")
