"""OFFER_DECIDER plug-ins: validated when loaded; a misbehaving one fails clearly at run time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from offer_handlers.decide import Accept, Decline, Leave
from offer_handlers.errors import InvalidDeciderError
from offer_handlers.events import Offer
from offer_handlers.plugin import load_decider
from offer_handlers.policy import NO_POLICY

NOW = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
OFFER = Offer("e", "o", "w", "j", NOW + timedelta(seconds=30), job_labels={"vip": True})


def test_a_plug_in_is_called_with_the_offer_the_policy_and_now() -> None:
    decider = load_decider("tests.fixtures.deciders:vip_decline_else_leave")

    assert decider(OFFER, NO_POLICY, now=NOW) == Decline("plugin-vip", retry_at=NOW + timedelta(minutes=1))
    assert decider(Offer("e", "o", "w", "j", NOW), NO_POLICY, now=NOW) == Leave("plugin-leave")


def test_the_rule_engine_itself_is_a_valid_plug_in() -> None:
    assert load_decider("offer_handlers.decide:decide")(OFFER, NO_POLICY, now=NOW) == Accept("no-policy")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.fixtures.deciders", "must look like package.module:function"),
        (":always_accept", "must look like package.module:function"),
        ("tests.fixtures.deciders:", "must look like package.module:function"),
        ("tests.fixtures.no_such_module:f", "cannot import module 'tests.fixtures.no_such_module'"),
        ("tests.fixtures.deciders:missing", "has no 'missing'"),
        ("tests.fixtures.deciders:NOT_CALLABLE", "is not callable"),
        ("tests.fixtures.deciders:wrong_signature", "must take (offer, policy, *, now)"),
    ],
    ids=[
        "no-colon",
        "no-module",
        "no-function",
        "import-error",
        "missing",
        "not-callable",
        "wrong-signature",
    ],
)
def test_a_bad_plug_in_is_refused_at_load_naming_offer_decider(spec: str, message: str) -> None:
    with pytest.raises(InvalidDeciderError) as caught:
        load_decider(spec)

    assert message in str(caught.value)
    assert "OFFER_DECIDER" in str(caught.value)
    assert caught.value.setting == "OFFER_DECIDER"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.fixtures.deciders:returns_string", "returned str; expected Accept, Decline or Leave"),
        ("tests.fixtures.deciders:raises", "raised RuntimeError: plug-in bug"),
    ],
    ids=["wrong-return", "raises"],
)
def test_a_plug_in_that_misbehaves_at_run_time_raises_invalid_decider(spec: str, message: str) -> None:
    decider = load_decider(spec)

    with pytest.raises(InvalidDeciderError, match=message):
        decider(OFFER, NO_POLICY, now=NOW)


def test_a_plug_in_may_be_a_dotted_attribute_of_its_module() -> None:
    decider = load_decider(" tests.fixtures.deciders : Nested.decide ")

    assert decider(OFFER, NO_POLICY, now=NOW) == Accept("plugin-accept")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "tests.fixtures.deciders:always_accept:x",
            "OFFER_DECIDER: module 'tests.fixtures.deciders' has no 'always_accept:x'",
        ),
        (
            "tests.fixtures.deciders:Nested.nope",
            "OFFER_DECIDER: module 'tests.fixtures.deciders' has no 'Nested.nope'",
        ),
        (
            "tests.fixtures.deciders:NOT_CALLABLE",
            "OFFER_DECIDER: 'tests.fixtures.deciders:NOT_CALLABLE' is not callable",
        ),
        (
            "no_such_module_x:f",
            "OFFER_DECIDER: cannot import module 'no_such_module_x': ModuleNotFoundError: ",
        ),
        ("x", "OFFER_DECIDER must look like package.module:function, got 'x'"),
    ],
    ids=["second-colon", "dotted-missing", "not-callable", "import-error", "no-colon"],
)
def test_a_refused_plug_in_says_exactly_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(InvalidDeciderError) as caught:
        load_decider(spec)

    assert str(caught.value).startswith(message)


def test_a_plug_in_without_an_inspectable_signature_is_checked_when_called() -> None:
    decider = load_decider("tests.fixtures.deciders:NO_SIGNATURE")

    with pytest.raises(InvalidDeciderError, match="raised TypeError"):
        decider(OFFER, NO_POLICY, now=NOW)
