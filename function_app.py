"""Azure Functions entry point (Python v2 model): ``on_offer_issued`` and ``health``, a thin shell over
offer_handlers.

``on_offer_issued`` turns the trigger object (``func.EventGridEvent`` or ``func.CloudEvent``, by the
subscription's schema) into plain data and hands it to the process-wide ``OfferHandler``, which decides,
answers the offer and logs one line. It raises only when Event Grid should redeliver (README.md, "The
outcome contract"). ``health`` (GET /api/health, function key) reports whether settings, policy and Job
Router access work (README.md, "Checking a deployment").
"""

from __future__ import annotations

from pathlib import Path

import azure.functions as func

from offer_handlers.events import Envelope
from offer_handlers.handler import OfferHandler

app = func.FunctionApp()

# One per worker process. Nothing is read or built until the first event arrives; tests replace it
# (e.g. with an OfferHandler whose responder_factory returns an in-memory fake).
handler = OfferHandler(app_root=Path(__file__).resolve().parent)


@app.event_grid_trigger(arg_name="event")
def on_offer_issued(event: func.EventGridEvent) -> None:
    """Decide a RouterWorkerOfferIssued offer by policy and carry the decision out."""
    handler.handle(to_envelope(event))


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
