"""Property-based: arbitrary and mutated JSON never raises anything but the documented errors, and a
payload that does not parse never reaches the responder."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offer_handlers.decide import decide
from offer_handlers.errors import InvalidEventError, InvalidPolicyError
from offer_handlers.events import OFFER_ISSUED, Envelope, Offer, envelopes_from_json, parse_offer
from offer_handlers.execute import Outcome
from offer_handlers.handler import OfferHandler
from offer_handlers.policy import Policy
from offer_handlers.policy_document import load_policy_file, load_policy_text, parse_policy
from offer_handlers.settings import load_settings
from tests.fixtures import EXAMPLES_DIR, OFFER_FIXTURES, envelope, load_event, offered_at, single
from tests.fixtures.fakes import FakeResponder

# Moderate counts: the whole unit suite must stay well under a minute on two cores.
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WIRE_KEYS = [
    "workerId", "jobId", "offerId", "queueId", "channelId", "channelReference", "jobPriority",
    "offeredOn", "expiresOn", "offerTimeUtc", "expiryTimeUtc",
    "jobLabels", "jobTags", "workerLabels", "workerTags",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        ["2024-03-05T10:16:02.1234567Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", ""]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
data_like = st.dictionaries(st.sampled_from(WIRE_KEYS) | st.text(max_size=8), json_values, max_size=10)
envelopes = st.builds(
    Envelope,
    schema=st.sampled_from(["eventgrid", "cloudevents"]),
    event_id=st.one_of(st.text(max_size=20), json_values),
    event_type=st.one_of(st.just(OFFER_ISSUED), json_values),
    subject=json_values,
    data=st.one_of(data_like, json_values, data_like.map(json.dumps)),
)

FIXTURE_EVENTS = [single(load_event(name)) for name in OFFER_FIXTURES]


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A real fixture with a few data fields removed, replaced or added."""
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(FIXTURE_EVENTS)))
    data = event["data"]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        key = draw(st.sampled_from(WIRE_KEYS))
        match draw(st.sampled_from(["delete", "replace", "nest"])):
            case "delete":
                data.pop(key, None)
            case "replace":
                data[key] = draw(json_values)
            case _:
                data[key] = {draw(st.text(max_size=5)): draw(json_values)}
    return event


def attempt(function: Callable[[Any], object], argument: Any) -> object:
    """The function's result, or the documented error it raised (anything else fails the test)."""
    try:
        return function(argument)
    except (InvalidEventError, InvalidPolicyError) as err:
        return err


# Each fixture's clock: a second after its (unmutated) offer was issued, so a valid offer is still open.
CLOCKS = {event["id"]: offered_at(event) + timedelta(seconds=1) for event in FIXTURE_EVENTS if "offeredOn" in
          event["data"] or "offerTimeUtc" in event["data"]}  # fmt: skip
DEFAULT_CLOCK = next(iter(CLOCKS.values()))


def handler_for(event_id: object, fake: FakeResponder) -> OfferHandler:
    now = CLOCKS.get(event_id, DEFAULT_CLOCK) if isinstance(event_id, str) else DEFAULT_CLOCK
    policy = json.dumps({"version": 1, "default": {"action": "decline", "retryAfterSeconds": 30}})
    return OfferHandler(
        app_root=Path("."),
        settings_loader=lambda root: load_settings(root, {"OFFER_POLICY": policy}),
        responder_factory=lambda settings: fake,
        clock=lambda: now,
    )


@FAST
@given(envelopes)
def test_parsing_any_envelope_returns_an_offer_or_raises_invalid_event(env: Envelope) -> None:
    result = attempt(parse_offer, env)

    assert isinstance(result, Offer | InvalidEventError)
    if isinstance(result, InvalidEventError):
        assert result.field
    else:
        assert all((result.offer_id, result.worker_id, result.job_id))


@FAST
@given(envelopes)
def test_the_handler_never_raises_for_any_envelope_and_calls_only_for_parsed_offers(env: Envelope) -> None:
    fake = FakeResponder()
    handler = handler_for(env.event_id, fake)

    result = handler.handle(env)

    try:
        parse_offer(env)
        parsed = True
    except InvalidEventError:
        parsed = False
    if not parsed:
        assert fake.calls == []
        assert result.outcome in (Outcome.INVALID, Outcome.IGNORED)


@FAST
@given(mutated_events())
def test_mutated_real_events_parse_or_fail_cleanly_and_only_parsed_ones_reach_the_responder(
    event: dict[str, Any],
) -> None:
    env = envelope(event)
    try:
        parse_offer(env)
        parsed = True
    except InvalidEventError:
        parsed = False
    fake = FakeResponder()

    result = handler_for(event["id"], fake).handle(env)

    if parsed:
        assert result.outcome in (Outcome.DECLINED, Outcome.EXPIRED)
        assert len(fake.calls) == (1 if result.outcome is Outcome.DECLINED else 0)
    else:
        assert result.outcome is Outcome.INVALID
        assert fake.calls == []


@FAST
@given(json_values)
def test_any_delivery_body_splits_into_envelopes_or_raises_invalid_event(body: Any) -> None:
    result = attempt(envelopes_from_json, body)

    assert isinstance(result, tuple | InvalidEventError)


EXAMPLE_POLICY = json.loads((EXAMPLES_DIR / "policy.json").read_text())
POLICY_KEYS = ["version", "rules", "default", "name", "when", "then", "action", "queues", "priority", "min",
               "jobLabels", "labelOperator", "value", "timeWindow", "timeZone", "from", "to", "days",
               "retryAfterSeconds", "retry", "minSecondsLeft"]  # fmt: skip


@st.composite
def mutated_policies(draw: st.DrawFn) -> Any:
    """The example policy with a value somewhere replaced by arbitrary JSON."""
    policy = copy.deepcopy(EXAMPLE_POLICY)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        node: Any = policy
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            child = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            if not isinstance(node[child], dict | list):
                break
            node = node[child]
        if isinstance(node, dict):
            node[draw(st.sampled_from(POLICY_KEYS))] = draw(json_values)
        elif isinstance(node, list) and node:
            node[draw(st.integers(min_value=0, max_value=len(node) - 1))] = draw(json_values)
    return policy


@FAST
@given(st.one_of(json_values, mutated_policies()))
def test_any_policy_document_is_valid_or_raises_invalid_policy(document: Any) -> None:
    result = attempt(parse_policy, document)

    assert isinstance(result, Policy | InvalidPolicyError)
    assert not isinstance(result, InvalidPolicyError) or str(result).startswith("policy")


@FAST
@given(st.text(max_size=200))
def test_any_policy_text_is_valid_or_raises_invalid_policy(text: str) -> None:
    assert isinstance(attempt(load_policy_text, text), Policy | InvalidPolicyError)


@FAST
@given(mutated_events())
def test_decide_is_total_over_every_parsed_offer(event: dict[str, Any]) -> None:
    policy = load_policy_file(EXAMPLES_DIR / "policy.json")
    try:
        offer = parse_offer(envelope(event))
    except InvalidEventError:
        return

    decision = decide(offer, policy, now=offer.expires_at - timedelta(seconds=5))

    assert decision.reason
