"""Event Grid for the emulator: push Job Router events to webhooks with Event Grid's delivery semantics.

User guide: docs/eventgrid-delivery.md. Module map (each module imports only those above it)::

    envelopes.py     what a webhook receives: Event Grid / CloudEvents 1.0 bodies, aeg-* headers,
                     the SubscriptionValidation event and its answer (pure)
    delivery.py      Event Grid's retry schedule, attempt outcomes, delivery records, the ledger and its
                     statistics, the dead-letter line (pure bookkeeping)
    subscription.py  Subscription: one webhook's delivery policy and the --webhook URL#options grammar
    handshake.py     the SubscriptionValidation handshake and each subscription's run-time state
    publisher.py     EventPublisher: publish, fan out, deliver with retries, dead-letter, test knobs

Everything a caller needs is importable from this package.
"""

from devstack.jobrouter.eventgrid.delivery import (
    DEFAULT_EVENT_LOG_LIMIT,
    DEFAULT_RETRY_SCHEDULE,
    NON_RETRIABLE_STATUSES,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStats,
    ValidationState,
)
from devstack.jobrouter.eventgrid.envelopes import VALIDATION_EVENT_TYPE, PublishedEvent, Schema
from devstack.jobrouter.eventgrid.publisher import EventPublisher
from devstack.jobrouter.eventgrid.subscription import Subscription

__all__ = [
    "DEFAULT_EVENT_LOG_LIMIT",
    "DEFAULT_RETRY_SCHEDULE",
    "NON_RETRIABLE_STATUSES",
    "VALIDATION_EVENT_TYPE",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStats",
    "EventPublisher",
    "PublishedEvent",
    "Schema",
    "Subscription",
    "ValidationState",
]
