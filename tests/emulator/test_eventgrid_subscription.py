"""Spec for devstack.jobrouter.eventgrid.Subscription: the --webhook syntax, validation and retry timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.jobrouter import event_types as ev
from devstack.jobrouter.eventgrid import DEFAULT_RETRY_SCHEDULE, Subscription


def test_plain_url_gets_event_grid_defaults() -> None:
    sub = Subscription.parse("http://127.0.0.1:7071/api/events")
    assert sub == Subscription(endpoint="http://127.0.0.1:7071/api/events")
    assert (sub.schema, sub.included_event_types, sub.max_delivery_attempts, sub.event_ttl) == (
        "eventgrid",
        None,
        30,
        1440.0,
    )
    assert (sub.delivery_timeout, sub.dead_letter_path, sub.handshake) == (30.0, None, True)
    assert sub.retry_schedule == (10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200)


def test_query_string_is_kept_in_the_endpoint() -> None:
    sub = Subscription.parse(
        "http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=on_offer&code=k3y"
    )
    assert sub.endpoint == "http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=on_offer&code=k3y"


def test_type_filter_accepts_short_and_full_names_in_any_case() -> None:
    sub = Subscription.parse(
        "http://h/e#types=RouterWorkerOfferIssued,microsoft.communication.routerworkerofferrevoked"
    )
    assert sub.included_event_types == frozenset({ev.WORKER_OFFER_ISSUED, ev.WORKER_OFFER_REVOKED})
    assert sub.accepts(ev.WORKER_OFFER_ISSUED)
    assert not sub.accepts(ev.JOB_QUEUED)


def test_no_type_filter_accepts_every_type() -> None:
    sub = Subscription.parse("http://h/e")
    assert all(sub.accepts(t) for t in ev.ALL_EVENT_TYPES)


def test_every_option_is_parsed(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    sub = Subscription.parse(
        f"http://h/e#schema=cloudevents&name=offers&max-attempts=3&ttl=5&retry-scale=0.01&timeout=2.5"
        f"&dead-letter={dead}&handshake=false&types=RouterJobQueued"
    )
    assert sub == Subscription(
        endpoint="http://h/e",
        schema="cloudevents",
        included_event_types=frozenset({ev.JOB_QUEUED}),
        max_delivery_attempts=3,
        event_ttl=5.0,
        retry_scale=0.01,
        delivery_timeout=2.5,
        dead_letter_path=dead,
        name="offers",
        handshake=False,
    )


def test_keyword_arguments_are_defaults_that_options_override() -> None:
    sub = Subscription.parse("http://h/e#max-attempts=2", schema="cloudevents", max_delivery_attempts=7)
    assert (sub.schema, sub.max_delivery_attempts) == ("cloudevents", 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("ftp://h/e", "http"),
        ("/relative/path", "http"),
        ("http://h/e#colour=blue", "'colour'.*unknown option"),
        ("http://h/e#schema=xml", "'schema'.*eventgrid, cloudevents"),
        ("http://h/e#types=RouterOfferIssued", "'types'.*RouterOfferIssued"),
        ("http://h/e#types=", "'types'.*at least one"),
        ("http://h/e#max-attempts=many", "'max-attempts'.*integer"),
        ("http://h/e#max-attempts=31", "max_delivery_attempts must be 1-30"),
        ("http://h/e#ttl=0", "event_ttl"),
        ("http://h/e#ttl=1441", "event_ttl"),
        ("http://h/e#retry-scale=0", "retry_scale"),
        ("http://h/e#timeout=-1", "delivery_timeout"),
        ("http://h/e#handshake=maybe", "'handshake'.*true or false"),
    ],
    ids=[
        "empty",
        "not-http",
        "relative",
        "unknown-option",
        "bad-schema",
        "unknown-type",
        "empty-types",
        "non-numeric",
        "too-many-attempts",
        "ttl-zero",
        "ttl-over-a-day",
        "zero-scale",
        "negative-timeout",
        "bad-bool",
    ],
)
def test_bad_spec_is_rejected_with_a_message_naming_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Subscription.parse(spec)


def test_errors_and_repr_never_show_the_query_where_function_keys_live() -> None:
    spec = "http://127.0.0.1:7071/runtime/webhooks/eventgrid?code=S3CRET#colour=blue"
    with pytest.raises(ValueError, match="colour") as raised:
        Subscription.parse(spec)
    assert "S3CRET" not in str(raised.value)
    sub = Subscription.parse(spec.partition("#")[0])
    assert "S3CRET" not in repr(sub)
    assert sub.display_endpoint == "http://127.0.0.1:7071/runtime/webhooks/eventgrid"


def test_credentials_in_the_url_are_not_displayed() -> None:
    assert Subscription("http://user:pw@h:81/e").display_endpoint == "http://h:81/e"


@pytest.mark.parametrize(
    ("failed_attempts", "delay"),
    [(1, 10.0), (2, 30.0), (3, 60.0), (9, 21600.0), (10, 43200.0), (29, 43200.0)],
    ids=["first", "second", "third", "ninth", "tenth", "then-every-12h"],
)
def test_retry_delay_follows_event_grid_schedule(failed_attempts: int, delay: float) -> None:
    assert Subscription("http://h/e").retry_delay(failed_attempts) == delay


def test_retry_scale_compresses_delays_and_ttl() -> None:
    sub = Subscription("http://h/e", retry_scale=0.01, event_ttl=10)
    assert sub.retry_delay(2) == pytest.approx(0.3)
    assert sub.ttl_seconds == pytest.approx(6.0)


def test_default_schedule_constant_is_the_documented_one() -> None:
    assert DEFAULT_RETRY_SCHEDULE == (10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200)


@pytest.mark.parametrize(
    "kwargs",
    [{"retry_schedule": ()}, {"retry_schedule": (1.0, -1.0)}, {"included_event_types": frozenset()}],
    ids=["empty-schedule", "negative-delay", "empty-type-set"],
)
def test_bad_constructor_values_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"retry_schedule|included_event_types"):
        Subscription("http://h/e", **kwargs)


def test_subscription_is_frozen() -> None:
    sub = Subscription("http://h/e")
    with pytest.raises(AttributeError):
        sub.schema = "cloudevents"  # type: ignore[misc]
