"""The Functions host's Event Grid webhook contract as a pure function: request in, decision out.

Mirrors the Event Grid extension (``Azure/azure-sdk-for-net``,
``Microsoft.Azure.WebJobs.Extensions.EventGrid``: ``EventGridExtensionConfigProvider.ProcessAsync`` and
``HttpRequestProcessor.ProcessAsync``), in its order:
function name first (404), then the ``aeg-event-type`` header, then the body. No I/O here; the server
in ``host.py`` carries the decision out.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

__all__ = [
    "EVENT_TYPE_HEADER",
    "WEBHOOK_PATH",
    "BadRequest",
    "BodyError",
    "Decision",
    "FunctionNotFound",
    "Notification",
    "Unsubscribe",
    "Validation",
    "decide",
    "not_found_message",
]

WEBHOOK_PATH = "/runtime/webhooks/eventgrid"
EVENT_TYPE_HEADER = "aeg-event-type"


@dataclass(frozen=True, slots=True)
class FunctionNotFound:
    """404: ``functionName`` missing or not an Event Grid function (exact, case-sensitive match)."""

    function_name: str


@dataclass(frozen=True, slots=True)
class BadRequest:
    """400: the ``aeg-event-type`` header is missing or has an unknown value."""

    function_name: str
    event_type: str | None


@dataclass(frozen=True, slots=True)
class Validation:
    """200 ``{"validationResponse": code}``: the subscription validation handshake."""

    function_name: str
    validation_code: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """202: Event Grid says the subscription is being deleted (the host does nothing else)."""

    function_name: str


@dataclass(frozen=True, slots=True)
class Notification:
    """Invoke ``function_name`` once per event, all concurrently; 202 if all succeed, else 500."""

    function_name: str
    events: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class BodyError:
    """The body could not be read as the header says. The real host throws here, which its exception
    middleware turns into a 500 with an empty body; we answer 500 with this message."""

    function_name: str
    message: str


type Decision = FunctionNotFound | BadRequest | Validation | Unsubscribe | Notification | BodyError


def not_found_message(function_name: str) -> str:
    """The extension's 404 body."""
    return f"cannot find function: '{function_name}'"


def decide(
    function_name: str | None,
    served: Collection[str],
    event_type: str | None,
    body: bytes,
) -> Decision:
    """Decide how the host answers one webhook request.

    ``served`` are the names of the app's Event Grid functions as the extension registers them.
    ``event_type`` is the first ``aeg-event-type`` header value, if any.
    """
    name = function_name or ""
    if not name or name not in served:
        return FunctionNotFound(name)
    kind = (event_type or "").lower()
    if kind == "subscriptionvalidation":
        return _validation(name, body)
    if kind == "notification":
        return _notification(name, body)
    if kind == "unsubscribe":
        return Unsubscribe(name)
    return BadRequest(name, event_type)


def _parse(body: bytes) -> object:
    """JSON text of the body (UTF-8, a BOM allowed); ValueError when it is not JSON."""
    return json.loads(body.decode("utf-8-sig"))


def _validation(name: str, body: bytes) -> Validation | BodyError:
    try:
        parsed = _parse(body)
    except ValueError as exc:
        return BodyError(name, f"subscription validation body is not JSON: {exc}")
    code: object = None
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        data = parsed[0].get("data")
        code = data.get("validationCode") if isinstance(data, dict) else None
    elif isinstance(parsed, dict):
        # A CloudEvents validation event carries its data double-encoded (a JSON string); accept both.
        data = parsed.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                data = None
        code = data.get("validationCode") if isinstance(data, dict) else None
    else:
        return BodyError(name, "subscription validation body must be a JSON object or array")
    if code is None or isinstance(code, dict | list):
        return BodyError(name, "subscription validation event has no data.validationCode")
    return Validation(name, code if isinstance(code, str) else json.dumps(code))


def _notification(name: str, body: bytes) -> Notification | BodyError:
    try:
        parsed = _parse(body)
    except ValueError as exc:
        return BodyError(name, f"notification body is not JSON: {exc}")
    if isinstance(parsed, list):
        return Notification(name, tuple(parsed))
    if isinstance(parsed, dict):
        return Notification(name, (parsed,))
    return BodyError(
        name,
        f"notification body should be a JSON object or array, but was {type(parsed).__name__}",
    )
