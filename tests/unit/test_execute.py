"""The outcome contract: what each SDK answer means, with a fake raising the real azure.core types."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from offer_handlers.decide import Accept, Decision, Decline, Leave
from offer_handlers.errors import ConfigurationError, RetryableServiceError
from offer_handlers.events import Offer
from offer_handlers.execute import OfferResponder, Outcome, Result, SettledOffers, carry_out
from tests.fixtures.fakes import Call, FakeResponder, http_error

NOW = datetime(2024, 3, 5, 10, 15, 2, tzinfo=UTC)
OFFER = Offer(
    event_id="e1", offer_id="o1", worker_id="w1", job_id="j1", expires_at=NOW + timedelta(seconds=20)
)
AUTH = "JOBROUTER_CONNECTION_STRING"


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def run(
    decision: Decision,
    responder: FakeResponder,
    *,
    settled: SettledOffers | None = None,
    offer: Offer = OFFER,
    clock: Clock | None = None,
) -> Result:
    return carry_out(
        offer,
        decision,
        responder=lambda: responder,
        settled=settled if settled is not None else SettledOffers(),
        clock=clock or Clock(),
        auth_settings=AUTH,
    )


# --- the calls --------------------------------------------------------------------------------------


def test_accept_calls_accept_with_the_time_the_offer_has_left() -> None:
    fake = FakeResponder()

    assert run(Accept("r"), fake) == Result(Outcome.ACCEPTED)
    assert fake.calls == [Call("accept", "w1", "o1", timeout=20.0)]


def test_decline_with_retry_passes_retry_at() -> None:
    fake = FakeResponder()
    retry_at = NOW + timedelta(minutes=2)

    assert run(Decline("r", retry_at=retry_at), fake) == Result(Outcome.DECLINED)
    assert fake.calls == [Call("decline", "w1", "o1", timeout=20.0, retry_at=retry_at)]


def test_decline_for_good_passes_no_retry_at() -> None:
    fake = FakeResponder()

    run(Decline("r", retry_at=None), fake)

    assert fake.calls == [Call("decline", "w1", "o1", timeout=20.0, retry_at=None)]


def test_leave_makes_no_call_and_never_builds_the_responder() -> None:
    def no_responder() -> OfferResponder:
        raise AssertionError("the responder must not be built for a leave")

    result = carry_out(
        OFFER, Leave("r"), responder=no_responder, settled=SettledOffers(), clock=Clock(), auth_settings=AUTH
    )

    assert result == Result(Outcome.LEFT)


# --- the contract, case by case ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (http_error(ResourceNotFoundError, 404), 404),
        (http_error(ResourceExistsError, 409), 409),
        (ResourceNotFoundError("no response"), 404),
        (ResourceExistsError("no response"), 409),
    ],
    ids=["404", "409", "404-without-response", "409-without-response"],
)
@pytest.mark.parametrize("decision", [Accept("r"), Decline("r", None)], ids=["accept", "decline"])
def test_404_or_409_means_the_offer_is_gone_and_nothing_is_raised(
    decision: Decision, error: HttpResponseError, status: int
) -> None:
    fake = FakeResponder([error])
    settled = SettledOffers()

    assert run(decision, fake, settled=settled) == Result(Outcome.GONE, status)
    assert "o1" in settled  # a redelivery will not call again


TRANSIENT: list[tuple[str, AzureError, int | None]] = [
    ("429", http_error(HttpResponseError, 429), 429),
    ("500", http_error(HttpResponseError, 500), 500),
    ("502", http_error(HttpResponseError, 502), 502),
    ("503", http_error(HttpResponseError, 503), 503),
    ("504", http_error(HttpResponseError, 504), 504),
    ("408", http_error(HttpResponseError, 408), 408),
    ("response-timeout", ServiceResponseTimeoutError("read timed out"), None),
    ("request-timeout", ServiceRequestTimeoutError("connect timed out"), None),
    ("connection-refused", ServiceRequestError("connection refused"), None),
    ("connection-dropped", ServiceResponseError("connection reset"), None),
    ("retries-exhausted", AzureError("Maximum retries exceeded."), None),
]


@pytest.mark.parametrize(("error", "status"), [c[1:] for c in TRANSIENT], ids=[c[0] for c in TRANSIENT])
def test_429_5xx_timeouts_and_connection_errors_raise_so_event_grid_redelivers(
    error: AzureError, status: int | None
) -> None:
    fake = FakeResponder([error])
    settled = SettledOffers()

    with pytest.raises(RetryableServiceError) as caught:
        run(Accept("r"), fake, settled=settled)

    assert caught.value.status_code == status
    assert caught.value.__cause__ is error
    assert "o1" not in settled


def test_after_a_transient_failure_the_redelivery_calls_again() -> None:
    fake = FakeResponder([http_error(HttpResponseError, 503)])
    settled = SettledOffers()
    with pytest.raises(RetryableServiceError):
        run(Accept("r"), fake, settled=settled)

    assert run(Accept("r"), fake, settled=settled) == Result(Outcome.ACCEPTED)
    assert len(fake.calls) == 2


CONFIG: list[tuple[str, AzureError, str]] = [
    ("401", http_error(ClientAuthenticationError, 401), "refused the credentials (HTTP 401)"),
    ("403", http_error(HttpResponseError, 403), "refused the credentials (HTTP 403)"),
    ("400", http_error(HttpResponseError, 400), "rejected the request (HTTP 400)"),
    ("412", http_error(HttpResponseError, 412), "rejected the request (HTTP 412)"),
    (
        "no-token",
        ClientAuthenticationError("DefaultAzureCredential failed"),
        "could not get a Microsoft Entra ID token",
    ),
]


@pytest.mark.parametrize(("error", "message"), [c[1:] for c in CONFIG], ids=[c[0] for c in CONFIG])
def test_401_403_and_other_4xx_are_configuration_errors_naming_the_setting(
    error: AzureError, message: str
) -> None:
    fake = FakeResponder([error])

    with pytest.raises(ConfigurationError) as caught:
        run(Accept("r"), fake)

    assert message in str(caught.value)
    assert "check" in str(caught.value)
    assert AUTH in str(caught.value)
    assert caught.value.setting == AUTH


def test_an_offer_past_its_expiry_gets_no_call() -> None:
    fake = FakeResponder()
    clock = Clock(OFFER.expires_at)

    assert run(Accept("r"), fake, clock=clock) == Result(Outcome.EXPIRED)
    assert run(Decline("r", None), fake, clock=clock) == Result(Outcome.EXPIRED)
    assert fake.calls == []


def test_expiry_is_checked_at_call_time_not_decision_time() -> None:
    fake = FakeResponder()
    clock = Clock(OFFER.expires_at - timedelta(milliseconds=250))

    run(Accept("r"), fake, clock=clock)

    assert fake.calls == [Call("accept", "w1", "o1", timeout=0.25)]


def test_a_duplicate_delivery_of_a_settled_offer_makes_no_second_call() -> None:
    fake = FakeResponder()
    settled = SettledOffers()

    first = run(Accept("r"), fake, settled=settled)
    second = run(Accept("r"), fake, settled=settled)

    assert (first.outcome, second.outcome) == (Outcome.ACCEPTED, Outcome.DUPLICATE)
    assert len(fake.calls) == 1


def test_a_concurrent_duplicate_makes_no_call_while_the_first_is_in_flight() -> None:
    entered, release = threading.Event(), threading.Event()
    results: list[Result] = []

    class Slow(FakeResponder):
        def accept(self, worker_id: str, offer_id: str, *, timeout: float) -> None:
            entered.set()
            assert release.wait(5)
            super().accept(worker_id, offer_id, timeout=timeout)

    fake, settled = Slow(), SettledOffers()
    first = threading.Thread(target=lambda: results.append(run(Accept("r"), fake, settled=settled)))
    first.start()
    assert entered.wait(5)

    duplicate = run(Accept("r"), fake, settled=settled)
    release.set()
    first.join(5)

    assert duplicate == Result(Outcome.DUPLICATE)
    assert results == [Result(Outcome.ACCEPTED)]
    assert len(fake.calls) == 1


def test_unexpected_exceptions_propagate_and_release_the_claim() -> None:
    fake = FakeResponder([TypeError("SDK bug")])
    settled = SettledOffers()

    with pytest.raises(TypeError):
        run(Accept("r"), fake, settled=settled)

    assert settled.claim("o1")  # not stuck in flight


# --- the settled-offer memory -----------------------------------------------------------------------


def test_settled_memory_is_bounded_and_forgets_the_least_recently_seen() -> None:
    settled = SettledOffers(capacity=3)
    for offer_id in ("a", "b", "c"):
        assert settled.claim(offer_id)
        settled.settle(offer_id)
    assert not settled.claim("a")  # seen again: now the most recent

    settled.claim("d")
    settled.settle("d")

    assert len(settled) == 3
    assert "b" not in settled
    assert all(x in settled for x in ("a", "c", "d"))


def test_settled_memory_stays_flat_over_many_offers() -> None:
    settled = SettledOffers(capacity=100)
    for n in range(10_000):
        settled.claim(str(n))
        settled.settle(str(n))

    assert len(settled) == 100


def test_settled_memory_rejects_a_zero_capacity() -> None:
    with pytest.raises(ValueError, match=r"^capacity must be at least 1$"):
        SettledOffers(capacity=0)


# --- what a settled, expired or failed offer leaves behind --------------------------------------------


@pytest.mark.parametrize(
    "decision", [Accept("r"), Decline("r", None), Decline("r", NOW)], ids=["accept", "decline", "retry"]
)
def test_an_answered_offer_is_remembered_as_settled_not_left_in_flight(decision: Decision) -> None:
    settled = SettledOffers(capacity=1)

    run(decision, FakeResponder(), settled=settled)

    assert "o1" in settled
    assert len(settled) == 1
    # Settled, not in flight: once a newer offer evicts it, it can be claimed again.
    assert settled.claim("o2")
    settled.settle("o2")
    assert settled.claim("o1")


def test_an_expired_offer_delivered_again_is_expired_again_not_a_duplicate() -> None:
    settled = SettledOffers()
    clock = Clock(OFFER.expires_at + timedelta(seconds=1))

    first = run(Accept("r"), FakeResponder(), settled=settled, clock=clock)
    second = run(Accept("r"), FakeResponder(), settled=settled, clock=clock)

    assert (first, second) == (Result(Outcome.EXPIRED), Result(Outcome.EXPIRED))
    assert "o1" not in settled


def test_an_offer_with_time_left_is_answered_even_a_millisecond_before_expiry() -> None:
    fake = FakeResponder()

    result = run(Accept("r"), fake, clock=Clock(OFFER.expires_at - timedelta(milliseconds=1)))

    assert result == Result(Outcome.ACCEPTED)
    assert fake.calls == [Call("accept", "w1", "o1", timeout=0.001)]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (http_error(ClientAuthenticationError, 401), 401),
        (http_error(HttpResponseError, 403), 403),
        (http_error(HttpResponseError, 400), 400),
        (http_error(HttpResponseError, 412), 412),
        (http_error(HttpResponseError, 499), 499),
        (ClientAuthenticationError("DefaultAzureCredential failed"), None),
    ],
    ids=["401", "403", "400", "412", "499", "no-token"],
)
def test_a_configuration_error_carries_the_status_code_for_the_decision_log(
    error: AzureError, status: int | None
) -> None:
    settled = SettledOffers()

    with pytest.raises(ConfigurationError) as caught:
        run(Accept("r"), FakeResponder([error]), settled=settled)

    assert caught.value.status_code == status
    assert caught.value.__cause__ is error
    assert "o1" not in settled  # fixed settings, then a redelivery calls again
    assert settled.claim("o1")


@pytest.mark.parametrize(
    ("error", "status"),
    [(http_error(HttpResponseError, 408), 408), (http_error(HttpResponseError, 429), 429)],
    ids=["408", "429"],
)
def test_408_and_429_are_transient_not_configuration_errors(error: AzureError, status: int) -> None:
    with pytest.raises(RetryableServiceError) as caught:
        run(Accept("r"), FakeResponder([error]))

    assert not isinstance(caught.value, ConfigurationError)
    assert caught.value.status_code == status


@pytest.mark.parametrize(
    ("error", "what"),
    [
        (http_error(HttpResponseError, 503), "(HTTP 503)"),
        (ServiceRequestError("connection refused"), "(ServiceRequestError)"),
    ],
    ids=["status", "no-response"],
)
def test_a_transient_error_says_what_failed(error: AzureError, what: str) -> None:
    with pytest.raises(RetryableServiceError) as caught:
        run(Accept("r"), FakeResponder([error]))

    assert what in str(caught.value)


# --- the settled-offer memory, claim by claim -------------------------------------------------------


def test_a_capacity_of_one_remembers_exactly_the_latest_offer() -> None:
    settled = SettledOffers(capacity=1)
    for offer_id in ("a", "b"):
        assert settled.claim(offer_id)
        settled.settle(offer_id)

    assert ("a" in settled, "b" in settled, len(settled)) == (False, True, 1)


def test_the_default_capacity_is_ten_thousand_offers() -> None:
    settled = SettledOffers()
    for n in range(10_001):
        settled.claim(str(n))
        settled.settle(str(n))

    assert len(settled) == 10_000
    assert "0" not in settled
    assert "1" in settled


def test_an_offer_in_flight_cannot_be_claimed_again_until_it_is_released() -> None:
    settled = SettledOffers()

    assert settled.claim("o")
    assert not settled.claim("o")
    assert "o" not in settled  # in flight is not settled
    settled.release("o")
    assert settled.claim("o")


def test_releasing_an_offer_never_forgets_a_settled_one() -> None:
    settled = SettledOffers()
    settled.claim("o")
    settled.settle("o")

    settled.release("o")

    assert "o" in settled
    assert not settled.claim("o")


CONFIGURATION_MESSAGES: list[tuple[str, AzureError, str]] = [
    (
        "no-token",
        ClientAuthenticationError("DefaultAzureCredential failed"),
        f"could not get a Microsoft Entra ID token for Job Router; check {AUTH}",
    ),
    (
        "401",
        http_error(ClientAuthenticationError, 401),
        f"Job Router refused the credentials (HTTP 401); check {AUTH}",
    ),
    (
        "400",
        http_error(HttpResponseError, 400),
        f"Job Router rejected the request (HTTP 400); check that {AUTH} points at a Communication Services "
        "resource with Job Router",
    ),
]


@pytest.mark.parametrize(
    ("error", "message"),
    [c[1:] for c in CONFIGURATION_MESSAGES],
    ids=[c[0] for c in CONFIGURATION_MESSAGES],
)
def test_a_configuration_error_tells_the_operator_what_to_check(error: AzureError, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        run(Accept("r"), FakeResponder([error]))

    assert str(caught.value) == message
