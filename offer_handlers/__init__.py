"""Decide Azure Communication Services Job Router offers by policy (the core of the offer handler).

Plain Python: nothing here imports ``azure.functions``. ``function_app.py`` is the thin shell that
turns the trigger object into an ``Envelope`` and hands it to ``OfferHandler``. The names below are
what an OFFER_DECIDER plug-in needs: the offer, the policy and the three decisions.
"""

from offer_handlers.decide import Accept, Decider, Decision, Decline, Leave, decide
from offer_handlers.errors import (
    ConfigurationError,
    InvalidDeciderError,
    InvalidEventError,
    InvalidPolicyError,
    OfferHandlerError,
    RetryableServiceError,
)
from offer_handlers.events import Envelope, Offer
from offer_handlers.policy import Policy

__all__ = [
    "Accept",
    "ConfigurationError",
    "Decider",
    "Decision",
    "Decline",
    "Envelope",
    "InvalidDeciderError",
    "InvalidEventError",
    "InvalidPolicyError",
    "Leave",
    "Offer",
    "OfferHandlerError",
    "Policy",
    "RetryableServiceError",
    "decide",
]
