"""Carrying a decision out: the outcome contract, and the memory of settled offers.

The SDK sits behind ``OfferResponder``; Azure SDK exceptions are mapped onto the package's error
tree here and nowhere else (most specific first, by type and status code, never by message text):

    404, 409                       -> Outcome.GONE, nothing raised (a redelivery cannot help)
    401, 403, other 4xx            -> ConfigurationError naming the settings to check (never their values)
    408, 429, 5xx, timeouts,
    connection errors              -> RetryableServiceError, so Event Grid redelivers
    offer past its expiry          -> Outcome.EXPIRED, no call
    offer already settled here     -> Outcome.DUPLICATE, no call
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol, assert_never

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from offer_handlers.decide import Accept, Decision, Decline, Leave
from offer_handlers.errors import ConfigurationError, OfferHandlerError, RetryableServiceError
from offer_handlers.events import Offer

__all__ = [
    "DEFAULT_SETTLED_CAPACITY",
    "OfferResponder",
    "Outcome",
    "Result",
    "SettledOffers",
    "carry_out",
    "map_sdk_error",
]

DEFAULT_SETTLED_CAPACITY: Final = 10_000


class Outcome(StrEnum):
    """What actually happened to an offer in one invocation (the decision log's ``outcome``)."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    LEFT = "left"
    GONE = "gone"  # 404/409: accepted elsewhere, revoked, expired or already answered
    EXPIRED = "expired"  # past its expiry by our clock: no call made
    DUPLICATE = "duplicate"  # already settled (or being settled) in this process: no call made
    INVALID = "invalid"  # malformed event: acknowledged, no call made
    IGNORED = "ignored"  # another event type: acknowledged, no call made
    ERROR = "error"  # the invocation failed and raised


@dataclass(frozen=True, slots=True)
class Result:
    """An outcome, plus the service's status code when it was a 404/409."""

    outcome: Outcome
    status_code: int | None = None


class OfferResponder(Protocol):
    """The two calls an offer needs. Implementations raise ``azure.core.exceptions`` types on failure.

    ``timeout`` is the time in seconds the call (retries included) may take: what the offer has left.
    """

    def accept(self, worker_id: str, offer_id: str, *, timeout: float) -> None:
        """Accept the offer."""
        ...

    def decline(self, worker_id: str, offer_id: str, *, retry_at: datetime | None, timeout: float) -> None:
        """Decline the offer, to be offered again at ``retry_at`` (UTC) or never to this worker."""
        ...

    def check_access(self, *, timeout: float) -> None:
        """One harmless authenticated read (the health check): returns when Job Router answered, even 404."""
        ...


class SettledOffers:
    """A bounded, thread-safe memory of offer ids settled in this process (LRU; memory stays flat).

    An id is *claimed* while its call is in flight, so a concurrent duplicate delivery makes no call
    either; it is *settled* when the service answered, and *released* when the call failed (so a
    redelivery can try again).
    """

    def __init__(self, capacity: int = DEFAULT_SETTLED_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, offer_id: str) -> bool:
        """Reserve the offer for one call; False when it is settled or in flight already."""
        with self._lock:
            if offer_id in self._in_flight:
                return False
            if offer_id in self._settled:
                self._settled.move_to_end(offer_id)
                return False
            self._in_flight.add(offer_id)
            return True

    def settle(self, offer_id: str) -> None:
        """Remember the offer as answered, evicting the least recently seen id when full."""
        with self._lock:
            self._in_flight.discard(offer_id)
            self._settled[offer_id] = None
            self._settled.move_to_end(offer_id)
            while len(self._settled) > self._capacity:
                self._settled.popitem(last=False)

    def release(self, offer_id: str) -> None:
        """Drop an in-flight claim without settling (the call failed or was not made)."""
        with self._lock:
            self._in_flight.discard(offer_id)

    def __contains__(self, offer_id: object) -> bool:
        with self._lock:
            return offer_id in self._settled

    def __len__(self) -> int:
        with self._lock:
            return len(self._settled)


def carry_out(
    offer: Offer,
    decision: Decision,
    *,
    responder: Callable[[], OfferResponder],
    settled: SettledOffers,
    clock: Callable[[], datetime],
    auth_settings: str,
) -> Result:
    """Carry ``decision`` out under the outcome contract; ``responder`` is only called when a call is due."""
    if isinstance(decision, Leave):
        return Result(Outcome.LEFT)
    if not settled.claim(offer.offer_id):
        return Result(Outcome.DUPLICATE)
    try:
        time_left = (offer.expires_at - clock()).total_seconds()
        if time_left <= 0:
            settled.release(offer.offer_id)
            return Result(Outcome.EXPIRED)
        match decision:
            case Accept():
                responder().accept(offer.worker_id, offer.offer_id, timeout=time_left)
                outcome = Outcome.ACCEPTED
            case Decline(retry_at=retry_at):
                responder().decline(offer.worker_id, offer.offer_id, retry_at=retry_at, timeout=time_left)
                outcome = Outcome.DECLINED
            case _:
                assert_never(decision)
    except AzureError as err:
        mapped = map_sdk_error(err, auth_settings=auth_settings)
        if isinstance(mapped, Result):
            settled.settle(offer.offer_id)
            return mapped
        settled.release(offer.offer_id)
        raise mapped from err
    except BaseException:
        settled.release(offer.offer_id)
        raise
    settled.settle(offer.offer_id)
    return Result(outcome)


def map_sdk_error(err: AzureError, *, auth_settings: str) -> Result | OfferHandlerError:
    """Map an Azure SDK exception onto the outcome contract: a settled result, or the error to raise."""
    if isinstance(err, ResourceNotFoundError):
        return Result(Outcome.GONE, err.status_code or 404)
    if isinstance(err, ResourceExistsError):
        return Result(Outcome.GONE, err.status_code or 409)
    configuration = _configuration_error(err, auth_settings)
    if configuration is not None:
        return configuration
    status = err.status_code if isinstance(err, HttpResponseError) else None
    what = f"HTTP {status}" if status is not None else err.__class__.__name__
    return RetryableServiceError(
        f"Job Router call failed ({what}); raising so Event Grid redelivers", status_code=status
    )


def _configuration_error(err: AzureError, auth_settings: str) -> ConfigurationError | None:
    if not isinstance(err, HttpResponseError):  # connection errors and timeouts are transient
        return None
    status = err.status_code
    if isinstance(err, ClientAuthenticationError) and status is None:
        # No response at all: the credential could not get a token (Entra ID path).
        return ConfigurationError(
            f"could not get a Microsoft Entra ID token for Job Router; check {auth_settings}",
            setting=auth_settings,
        )
    if isinstance(err, ClientAuthenticationError) or status == 403:
        return ConfigurationError(
            f"Job Router refused the credentials (HTTP {status}); check {auth_settings}",
            setting=auth_settings,
            status_code=status,
        )
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return ConfigurationError(
            f"Job Router rejected the request (HTTP {status}); check that {auth_settings} points at a "
            "Communication Services resource with Job Router",
            setting=auth_settings,
            status_code=status,
        )
    return None
