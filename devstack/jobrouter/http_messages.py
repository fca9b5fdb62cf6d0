"""The request and reply values the emulator's /routing handlers exchange, and body field readers.

A handler gets a :class:`Call` (path parameters, query, headers and the JSON body parsed once) and
returns a :class:`Reply` (status, JSON body, and the record whose ``ETag``/``Last-Modified`` to send).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import JsonObject

__all__ = ["Call", "Handler", "Reply", "optional_string", "options_body"]


@dataclass(frozen=True, slots=True)
class Call:
    """A parsed /routing request as handlers see it."""

    method: str
    path: str
    params: tuple[str, ...]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler returns: status, JSON body (None = no body) and optional resource headers."""

    status: int
    body: Any = None
    record: Record | None = None


Handler = Callable[[Call], Reply]


def options_body(body: Any) -> JsonObject:
    """An action's optional JSON object body (absent means no options)."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def optional_string(body: Mapping[str, Any], key: str) -> str | None:
    """An optional string field of an action body."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string.")
    return value
