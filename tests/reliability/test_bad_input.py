"""Reliability: bad input: generated and mutated payloads through the function, via the worker library
and via the host stand-in's webhook. Nothing but the documented outcomes; no SDK call for an invalid
event; every rejection logged with the field at fault; bad policies and deciders fail naming the fault.

The quick run tries a few hundred payloads per path; ``-m slow`` tries 10,000 per path.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings

import function_app
import offer_handlers.client
from devstack.functions_host import FunctionsHost
from devstack.functions_worker import WorkerApp
from offer_handlers.decision_log import parse_fields
from offer_handlers.errors import ConfigurationError, InvalidEventError
from offer_handlers.events import is_offer_issued, parse_offer
from offer_handlers.handler import DECISION_LOGGER, OfferHandler
from offer_handlers.settings import SETTING_NAMES, load_settings
from tests.fixtures import REPO_ROOT, envelope, fresh, load_event, single, trigger_object
from tests.fixtures.fakes import FakeResponder
from tests.fixtures.http import ACCESS_KEY
from tests.reliability.figures import record
from tests.reliability.payloads import bad_bodies, bad_events
from tests.unit.test_properties import mutated_policies

FUNCTION: Final = "on_offer_issued"
ACCEPT_ALL: Final = json.dumps({"version": 1, "default": {"action": "accept"}})
SETTINGS: Final = {
    "OFFER_POLICY": ACCEPT_ALL,
    "JOBROUTER_CONNECTION_STRING": f"endpoint=http://127.0.0.1:9/;accesskey={ACCESS_KEY}",
}
QUICK: Final = 300
FULL: Final = 10_000
#: Webhook bodies hold 1-3 events each: this many bodies carry over 10,000 events.
HOST_BODIES: Final = 7_000
HEALTH: Final = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
]


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=HEALTH)


class Lines(logging.Handler):
    """The decision-log lines and malformed-event errors written since the last ``take``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.decisions: list[str] = []
        self.rejections: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == DECISION_LOGGER:
            self.decisions.append(record.getMessage())
        elif record.name == "offer_handlers.handler" and "rejected malformed event" in record.getMessage():
            self.rejections.append(record.getMessage()[:2000])

    def take(self) -> tuple[list[str], list[str]]:
        decisions, rejections = self.decisions, self.rejections
        self.decisions, self.rejections = [], []
        return decisions, rejections


@dataclass
class Tally:
    """What the payloads were and what happened to them."""

    examples: int = 0
    events: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_verdict: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    rejected_fields: Counter[str] = field(default_factory=Counter)
    calls_for_invalid: int = 0
    calls_for_valid: int = 0
    unhandled: list[str] = field(default_factory=list)
    unlogged: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    offers: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "events": self.events,
            "by_category": dict(sorted(self.by_category.items())),
            "by_verdict": dict(sorted(self.by_verdict.items())),
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "distinct_rejected_fields": len(self.rejected_fields),
            "top_rejected_fields": dict(self.rejected_fields.most_common(12)),
            "sdk_calls_for_invalid_events": self.calls_for_invalid,
            "sdk_calls_for_valid_events": self.calls_for_valid,
            "unhandled_exceptions": len(self.unhandled),
            "rejections_without_field": len(self.unlogged),
            "http_statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def verdict(event: object) -> tuple[str, str | None]:
    """What the function should do with one event object: (verdict, field at fault).

    For ``open`` the second item is the offer id. ``binding``: azure-functions' converter rejects it
    before the function runs (the worker fails the invocation); ``ignored``: not an offer-issued event;
    ``invalid``: malformed; ``open``: a valid offer with minutes left (exactly one accept); ``valid``: a
    valid offer (expired or about to).
    """
    try:
        envelope = function_app.to_envelope(trigger_object(event))  # type: ignore[arg-type]
    except Exception:
        return "binding", None
    if not is_offer_issued(envelope):
        return "ignored", None
    try:
        offer = parse_offer(envelope)
    except InvalidEventError as err:
        return "invalid", err.field
    if offer.expires_at - datetime.now(UTC) > timedelta(seconds=60):
        return "open", offer.offer_id
    return "valid", None


def outcome_of(line: str) -> str:
    return parse_fields(line).get("outcome") or "?"


def names_field(line: str, bad_field: str) -> bool:
    """Whether a decision line's ``field`` is ``bad_field`` (long values are capped in the log)."""
    logged = parse_fields(line).get("field") or ""
    return logged == bad_field or ("...(+" in logged and bad_field.startswith(logged.split("...(+")[0]))


def check_invocation(
    tally: Tally, category: str, event: object, *, ok: bool, error: str | None, calls: int, lines: Lines
) -> None:
    """One event's invocation against its verdict; problems are collected, asserted at the end."""
    expected, bad_field = verdict(event)
    decisions, rejections = lines.take()
    tally.events += 1
    tally.by_category[category] += 1
    tally.by_verdict[expected] += 1
    outcomes = [outcome_of(line) for line in decisions]
    tally.by_outcome.update(outcomes or ["(binding)"])
    if expected == "binding":
        if ok or decisions:
            tally.unhandled.append(f"{category}: binding verdict but the function ran: {outcomes}")
        return
    if not ok:
        tally.unhandled.append(f"{category}: {expected} event failed the invocation: {(error or '')[:300]}")
    if len(decisions) != 1:
        tally.unhandled.append(f"{category}: {len(decisions)} decision lines for one invocation")
    if expected in ("invalid", "ignored"):
        tally.calls_for_invalid += calls
    else:
        tally.calls_for_valid += calls
    if expected == "open":
        # A mutation can give many events one offer id: the later ones are duplicates (no call).
        if calls != (0 if bad_field in tally.offers else 1):
            tally.unhandled.append(f"{category}: an open offer got {calls} calls")
        tally.offers.add(str(bad_field))
    if expected == "invalid":
        assert bad_field is not None
        tally.rejected_fields[bad_field] += 1
        logged = any(names_field(line, bad_field) for line in decisions)
        named = any(f"field {bad_field}" in line for line in rejections)
        if outcomes != ["invalid"] or not logged or not named:
            tally.unlogged.append(f"{category}: field {bad_field!r}: {decisions} {rejections[:1]}")


def assert_clean(tally: Tally, examples: int) -> None:
    assert tally.examples >= examples
    assert tally.unhandled == [], tally.unhandled[:5]
    assert tally.calls_for_invalid == 0
    assert tally.unlogged == [], tally.unlogged[:5]
    assert tally.by_verdict["invalid"] > examples // 3  # the generator really produces bad payloads
    assert tally.calls_for_valid >= len(tally.offers) > 0  # the counting can see calls


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> FakeResponder:
    return FakeResponder()


@pytest.fixture(scope="module")
def app_env(fake: FakeResponder) -> Iterator[None]:
    """The function's settings (accept everything) and the fake in place of the SDK client."""
    with pytest.MonkeyPatch.context() as patch:
        for name in SETTING_NAMES:
            patch.delenv(name, raising=False)

        def build_fake(_settings: object, **_: object) -> FakeResponder:
            return fake

        patch.setattr(offer_handlers.client, "build_responder", build_fake)
        yield


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    loggers = [logging.getLogger(DECISION_LOGGER), logging.getLogger("offer_handlers.handler")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def worker(app_env: None) -> Iterator[WorkerApp]:
    """A fresh import of function_app per test: its handler has settled no offer yet."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SETTINGS.items():
            patch.setenv(name, value)
        app = WorkerApp.load(REPO_ROOT)
        yield app
        app.close()


class HostRunner:
    """An in-process Functions host on a private loop; ``post`` sends one webhook request."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.host = FunctionsHost(REPO_ROOT, SETTINGS, "127.0.0.1", 0)
        self.loop.run_until_complete(self.host.start())
        self.session = self.loop.run_until_complete(self._session())
        self.url = self.host.webhook_url(FUNCTION)

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def post(self, body: bytes) -> int:
        async def send() -> int:
            headers = {"aeg-event-type": "Notification", "Content-Type": "application/json"}
            async with self.session.post(self.url, data=io.BytesIO(body), headers=headers) as response:
                await response.read()
                return response.status

        return self.loop.run_until_complete(send())

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.host.stop())
        self.loop.close()


@pytest.fixture
def host(app_env: None) -> Iterator[HostRunner]:
    runner = HostRunner()
    yield runner
    runner.close()


# --- through the worker library ---------------------------------------------------------------------------


def fuzz_worker(worker: WorkerApp, fake: FakeResponder, lines: Lines, examples: int) -> Tally:
    tally = Tally()
    loop = asyncio.new_event_loop()

    @fuzz_settings(examples)
    @given(bad_events())
    def one(pair: tuple[str, dict[str, Any]]) -> None:
        category, event = pair
        before = len(fake.calls)
        lines.take()
        result = loop.run_until_complete(worker.invoke(FUNCTION, event))
        tally.examples += 1
        check_invocation(
            tally,
            category,
            event,
            ok=result.ok,
            error=result.error,
            calls=len(fake.calls) - before,
            lines=lines,
        )

    try:
        one()
    finally:
        loop.close()
    return tally


def test_bad_events_through_the_worker_library_are_acknowledged_logged_and_never_called(
    worker: WorkerApp, fake: FakeResponder, lines: Lines
) -> None:
    tally = fuzz_worker(worker, fake, lines, QUICK)

    assert_clean(tally, QUICK)


@pytest.mark.slow
def test_ten_thousand_bad_events_through_the_worker_library(
    worker: WorkerApp, fake: FakeResponder, lines: Lines
) -> None:
    tally = fuzz_worker(worker, fake, lines, FULL)

    record(
        "bad_input",
        "worker",
        tally.as_json(),
        command="pytest tests/reliability/test_bad_input.py -m slow -k worker_library",
    )
    assert_clean(tally, FULL)


# --- through the host stand-in's webhook -----------------------------------------------------------------


def fuzz_host(host: HostRunner, fake: FakeResponder, lines: Lines, examples: int) -> Tally:
    tally = Tally()

    @fuzz_settings(examples)
    @given(bad_bodies())
    def one(case: tuple[str, bytes, list[dict[str, Any]]]) -> None:
        category, body, events = case
        failed_before = host.host.invocations_failed
        before = len(fake.calls)
        lines.take()
        status = host.post(body)
        tally.examples += 1
        tally.statuses[status] += 1
        calls = len(fake.calls) - before
        if category in {"non-json", "non-object"}:
            decisions, rejections = lines.take()
            tally.by_category[category] += 1
            tally.calls_for_invalid += calls if category == "non-json" else 0
            if category == "non-json" and (status != 500 or decisions):
                tally.unhandled.append(f"non-JSON body {body[:40]!r}: {status}, {len(decisions)} lines")
            if category == "non-object" and status != 500:
                tally.unhandled.append(f"an array with a non-object answered {status}, not 500")
            if category == "non-json":
                return
            lines.decisions, lines.rejections = decisions, rejections  # checked per event below, in any order
        verdicts = [verdict(e) for e in events]
        binding = any(v == "binding" for v, _ in verdicts) or category == "non-object"
        if status not in (202, 500) or (status == 500) != (
            binding or host.host.invocations_failed > failed_before
        ):
            tally.unhandled.append(f"{category}: HTTP {status} for verdicts {verdicts}")
        if host.host.invocations_failed - failed_before != sum(v == "binding" for v, _ in verdicts) + (
            category == "non-object"
        ):
            tally.unhandled.append(f"{category}: an invocation failed outside the binding: {verdicts}")
        # Events of one request run concurrently: check the totals, not the order.
        decisions, rejections = lines.take()
        tally.events += len(events)
        tally.by_category[category] += 1
        tally.by_verdict.update(v for v, _ in verdicts)
        tally.by_outcome.update(outcome_of(line) for line in decisions)
        invalid_fields = [f for v, f in verdicts if v == "invalid" and f is not None]
        tally.rejected_fields.update(invalid_fields)
        expected_lines = sum(v != "binding" for v, _ in verdicts)
        if len(decisions) != expected_lines:
            tally.unhandled.append(f"{category}: {len(decisions)} decision lines for {expected_lines} events")
        opened = len({f for v, f in verdicts if v == "open"} - tally.offers)
        tally.offers.update(str(f) for v, f in verdicts if v == "open")
        valid = opened + sum(v == "valid" for v, _ in verdicts)
        if not opened <= calls <= valid:
            tally.calls_for_invalid += max(0, calls - valid)
            tally.unhandled.append(f"{category}: {calls} calls for {opened} open / {valid} valid offers")
        else:
            tally.calls_for_valid += calls
        for bad_field in invalid_fields:
            if not any(f"field {bad_field}" in line for line in rejections):
                tally.unlogged.append(f"{category}: field {bad_field!r} not in the rejection log")

    one()
    return tally


def test_bad_bodies_through_the_host_webhook_are_acknowledged_logged_and_never_called(
    host: HostRunner, fake: FakeResponder, lines: Lines
) -> None:
    tally = fuzz_host(host, fake, lines, QUICK)

    assert_clean(tally, QUICK)
    assert tally.statuses[500] > 0  # non-JSON bodies are answered 500 (the host's contract)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ten_thousand_bad_events_through_the_host_webhook(
    host: HostRunner, fake: FakeResponder, lines: Lines
) -> None:
    tally = fuzz_host(host, fake, lines, HOST_BODIES)

    record(
        "bad_input",
        "host",
        tally.as_json(),
        command="pytest tests/reliability/test_bad_input.py -m slow -k host_webhook",
    )
    assert_clean(tally, HOST_BODIES)
    assert tally.events >= FULL


# --- invalid policies and deciders fail when loaded, naming the fault ------------------------------------

BAD_POLICIES: Final = [
    ("not-json", "{", ["OFFER_POLICY", "JSON"]),
    (
        "wrong-version",
        json.dumps({"version": 2, "default": {"action": "accept"}}),
        ["OFFER_POLICY", "version"],
    ),
    (
        "unknown-action",
        json.dumps(
            {
                "version": 1,
                "rules": [{"name": "r1", "when": {}, "then": {"action": "acept"}}],
                "default": {"action": "leave"},
            }
        ),
        ["OFFER_POLICY", "rule", "r1", "then.action"],
    ),
    (
        "unknown-operator",
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "vip",
                        "when": {"jobLabels": [{"key": "vip", "labelOperator": "eq", "value": True}]},
                        "then": {"action": "accept"},
                    }
                ],
                "default": {"action": "leave"},
            }
        ),
        ["OFFER_POLICY", "rule", "vip", "labelOperator"],
    ),
    (
        "bad-time-zone",
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "hours",
                        "when": {"timeWindow": {"timeZone": "Mars/Olympus", "from": "09:00", "to": "17:00"}},
                        "then": {"action": "accept"},
                    }
                ],
                "default": {"action": "leave"},
            }
        ),
        ["OFFER_POLICY", "rule", "hours", "Mars/Olympus"],
    ),
    (
        "unknown-field",
        json.dumps({"version": 1, "default": {"action": "accept"}, "defualt": 1}),
        ["OFFER_POLICY", "defualt"],
    ),
]
BAD_DECIDERS: Final = [
    ("no-such-module", "no_such_module_xyz:decide"),
    ("no-such-function", "tests.fixtures.deciders:nope"),
    ("not-callable", "tests.fixtures.deciders:NOT_CALLABLE"),
    ("wrong-signature", "tests.fixtures.deciders:wrong_signature"),
    ("no-colon", "tests.fixtures.deciders"),
]


@pytest.fixture
def fresh_worker(app_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerApp]:
    """A newly imported function_app (its handler has loaded no policy yet); the test sets the policy."""
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    app = WorkerApp.load(REPO_ROOT)
    yield app
    app.close()


def an_open_offer() -> dict[str, Any]:
    return fresh(single(load_event("offer_issued.eventgrid")), seconds_left=600)


@pytest.mark.parametrize(
    ("document", "named"), [(d, n) for _, d, n in BAD_POLICIES], ids=[i for i, _, _ in BAD_POLICIES]
)
def test_an_invalid_policy_fails_the_invocation_naming_the_setting_and_the_fault(
    fresh_worker: WorkerApp,
    fake: FakeResponder,
    monkeypatch: pytest.MonkeyPatch,
    document: str,
    named: list[str],
) -> None:
    monkeypatch.setenv("OFFER_POLICY", document)
    before = len(fake.calls)

    result = asyncio.run(fresh_worker.invoke(FUNCTION, an_open_offer()))

    assert not result.ok
    assert "ConfigurationError" in (result.error or "")
    for fragment in named:
        assert fragment in (result.error or "")
    assert len(fake.calls) == before


@pytest.mark.parametrize("decider", [d for _, d in BAD_DECIDERS], ids=[i for i, _ in BAD_DECIDERS])
def test_an_invalid_decider_fails_the_invocation_naming_offer_decider(
    fresh_worker: WorkerApp, fake: FakeResponder, monkeypatch: pytest.MonkeyPatch, decider: str
) -> None:
    monkeypatch.setenv("OFFER_DECIDER", decider)
    before = len(fake.calls)

    result = asyncio.run(fresh_worker.invoke(FUNCTION, an_open_offer()))

    assert not result.ok
    assert "InvalidDeciderError" in (result.error or "")
    assert "OFFER_DECIDER" in (result.error or "")
    assert len(fake.calls) == before


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=HEALTH)
@given(mutated_policies())
def test_a_mutated_policy_loads_or_fails_naming_offer_policy_and_never_reaches_the_sdk(document: Any) -> None:
    fake = FakeResponder()
    handler = OfferHandler(
        app_root=REPO_ROOT,
        settings_loader=lambda root: load_settings(root, {"OFFER_POLICY": json.dumps(document)}),
        responder_factory=lambda _settings: fake,
    )
    offer = an_open_offer()

    errors: list[ConfigurationError] = []
    try:
        handler.handle(envelope(offer))
    except ConfigurationError as err:
        errors.append(err)

    for error in errors:
        assert str(error).startswith("OFFER_POLICY: policy")
        assert error.setting == "OFFER_POLICY"
    assert len(fake.calls) <= (0 if errors else 1)
