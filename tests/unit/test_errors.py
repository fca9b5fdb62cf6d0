"""The error tree: each error's place in it, the context it carries, and how it reads."""

from __future__ import annotations

import pytest

from offer_handlers.errors import (
    ConfigurationError,
    InvalidCasesError,
    InvalidDeciderError,
    InvalidEventError,
    InvalidFleetError,
    InvalidPolicyError,
    OfferHandlerError,
    RetryableServiceError,
    WorkerChangedError,
)

READS: list[tuple[str, OfferHandlerError, str]] = [
    (
        "event",
        InvalidEventError("missing", field="data.offerId", event_id="e1"),
        "event 'e1': field 'data.offerId': missing",
    ),
    (
        "event-without-id",
        InvalidEventError("the event has no id", field="id"),
        "event: field 'id': the event has no id",
    ),
    (
        "policy",
        InvalidPolicyError("bad", rule="r1", field="when.queues"),
        "policy rule 'r1' field 'when.queues': bad",
    ),
    ("policy-field-only", InvalidPolicyError("missing", field="version"), "policy field 'version': missing"),
    ("policy-rule-only", InvalidPolicyError("twice", rule="r1"), "policy rule 'r1': twice"),
    ("policy-whole", InvalidPolicyError("not valid JSON"), "policy: not valid JSON"),
    (
        "fleet",
        InvalidFleetError("bad", worker="bot-1", field="capacity"),
        "fleet worker 'bot-1' field 'capacity': bad",
    ),
    ("fleet-whole", InvalidFleetError("not valid JSON"), "fleet: not valid JSON"),
    ("configuration", ConfigurationError("check X", setting="X", status_code=401), "check X"),
    ("decider", InvalidDeciderError("OFFER_DECIDER: nope"), "OFFER_DECIDER: nope"),
    ("retryable", RetryableServiceError("HTTP 503", status_code=503), "HTTP 503"),
    ("worker-changed", WorkerChangedError("changed", worker_id="bot-1"), "changed"),
]


@pytest.mark.parametrize(("error", "text"), [c[1:] for c in READS], ids=[c[0] for c in READS])
def test_each_error_reads_with_its_context(error: OfferHandlerError, text: str) -> None:
    assert str(error) == text


@pytest.mark.parametrize(
    ("context", "text"),
    [
        ({"case": "vip", "field": "expect.reason"}, "cases case 'vip' field 'expect.reason': bad"),
        ({"case": "vip"}, "cases case 'vip': bad"),
        ({"field": "cases"}, "cases field 'cases': bad"),
        ({}, "cases: bad"),
    ],
    ids=["case-and-field", "case-only", "field-only", "whole"],
)
def test_a_cases_error_reads_with_the_case_and_field_it_names(context: dict[str, str], text: str) -> None:
    # Built in the test, not at import, so that mutation testing maps this test to the constructor.
    assert str(InvalidCasesError("bad", **context)) == text


def test_each_error_keeps_its_context_as_attributes() -> None:
    event = InvalidEventError("missing", field="data.offerId", event_id="e1")
    policy = InvalidPolicyError("bad", rule="r1", field="when")
    fleet = InvalidFleetError("bad", worker="bot-1", field="capacity")
    cases = InvalidCasesError("bad", case="vip", field="expect")
    configuration = ConfigurationError("m", setting="X", status_code=403)

    assert (event.field, event.event_id, event.message) == ("data.offerId", "e1", "missing")
    assert (policy.rule, policy.field, policy.message) == ("r1", "when", "bad")
    assert (fleet.worker, fleet.field, fleet.message) == ("bot-1", "capacity", "bad")
    assert (cases.case, cases.field, cases.message) == ("vip", "expect", "bad")
    assert (configuration.setting, configuration.status_code) == ("X", 403)
    assert (ConfigurationError("m").setting, ConfigurationError("m").status_code) == (None, None)


def test_a_decider_error_is_a_configuration_error_naming_offer_decider() -> None:
    error = InvalidDeciderError("m")

    assert isinstance(error, ConfigurationError)
    assert (error.setting, error.status_code) == ("OFFER_DECIDER", None)


def test_a_worker_that_changed_is_a_retryable_412_naming_the_worker() -> None:
    error = WorkerChangedError("m", worker_id="bot-1")

    assert isinstance(error, RetryableServiceError)
    assert (error.worker_id, error.status_code) == ("bot-1", 412)
    assert WorkerChangedError("m", worker_id="b", status_code=409).status_code == 409
    assert RetryableServiceError("m").status_code is None


@pytest.mark.parametrize(
    "error_type",
    [
        InvalidEventError,
        InvalidPolicyError,
        InvalidFleetError,
        InvalidCasesError,
        ConfigurationError,
        RetryableServiceError,
    ],
)
def test_every_error_is_an_offer_handler_error(error_type: type[Exception]) -> None:
    assert issubclass(error_type, OfferHandlerError)
