"""Decide Azure Communication Services Job Router offers by policy (the core of the offer handler).

Plain Python: nothing here imports ``azure.functions``. ``function_app.py`` is the thin shell that
turns the trigger object into an ``Envelope`` and hands it to ``OfferHandler`` (offers) or
``FleetKeeper`` (the bot fleet). The names below are what an OFFER_DECIDER plug-in needs: the offer,
the policy and the three decisions, and the package's error tree.
"""

from offer_handlers.decide import Accept, Decider, Decision, Decline, Leave, decide
from offer_handlers.errors import (
    ConfigurationError,
    InvalidDeciderError,
    InvalidEventError,
    InvalidFleetError,
    InvalidPolicyError,
    OfferHandlerError,
    RetryableServiceError,
    WorkerChangedError,
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
    "InvalidFleetError",
    "InvalidPolicyError",
    "Leave",
    "Offer",
    "OfferHandlerError",
    "Policy",
    "RetryableServiceError",
    "WorkerChangedError",
    "decide",
]
