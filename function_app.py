"""Azure Functions entry point (Python v2 model): thin shells over offer_handlers.

``on_offer_issued`` decides offers: it turns the trigger object (``func.EventGridEvent`` or
``func.CloudEvent``, by the subscription's schema) into plain data and hands it to the process-wide
``OfferHandler``, which decides, answers the offer and logs one line. ``on_worker_lifecycle`` and
``reconcile_fleet`` keep the declared bot fleet registered (``FleetKeeper``). Each raises only when a
redelivery (or the next run) can help (README.md, "The outcome contract", "The bot fleet"). ``health``
(GET /api/health, function key) reports whether settings, policy and Job Router access work (README.md,
"Checking a deployment").
"""

from __future__ import annotations

from pathlib import Path

import azure.functions as func

from offer_handlers.events import Envelope
from offer_handlers.fleet_keeper import FleetKeeper
from offer_handlers.handler import OfferHandler
from offer_handlers.settings import reconcile_schedule

app = func.FunctionApp()

# One each per worker process. Nothing is read or built until the first event (or run) arrives; tests
# replace them (e.g. with an OfferHandler whose responder_factory returns an in-memory fake).
handler = OfferHandler(app_root=Path(__file__).resolve().parent)
fleet_keeper = FleetKeeper(app_root=Path(__file__).resolve().parent)


@app.event_grid_trigger(arg_name="event")
def on_offer_issued(event: func.EventGridEvent) -> None:
    """Decide a RouterWorkerOfferIssued offer by policy and carry the decision out."""
    handler.handle(to_envelope(event))


@app.event_grid_trigger(arg_name="event")
def on_worker_lifecycle(event: func.EventGridEvent) -> None:
    """Register a declared bot again after RouterWorkerOfferExpired / RouterWorkerDeregistered."""
    fleet_keeper.handle(to_envelope(event))


@app.timer_trigger(arg_name="timer", schedule=reconcile_schedule())
def reconcile_fleet(timer: func.TimerRequest) -> None:
    """Compare every declared bot with Job Router and repair what drifted (FLEET_RECONCILE_SCHEDULE)."""
    fleet_keeper.reconcile()


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """200 and ``{"status": "healthy", ...}`` when everything checks out, else 503 naming the setting."""
    report = handler.health()
    return func.HttpResponse(report.to_json(), status_code=report.status_code, mimetype="application/json")


def to_envelope(event: func.EventGridEvent | func.CloudEvent) -> Envelope:
    """The schema-independent fields of either trigger type (the worker picks it by ``specversion``)."""
    if isinstance(event, func.CloudEvent):
        return Envelope("cloudevents", event.id, event.type, event.subject, event.get_json())
    return Envelope("eventgrid", event.id, event.event_type, event.subject, event.get_json())
