"""Errors the emulator answers with, in the live service's ``communicationError`` envelope.

Hierarchy (each maps to one HTTP status; none is ever a 5xx, because the SDK retries those)::

    RouterApiError                 base: status, code, message
    ├── BadRequest            400  invalid body, bad enum, unknown field, wrong state for an action
    │   └── NotSupported      400  a real service feature the emulator does not implement (says so)
    ├── Unauthorized          401  bad or missing HMAC signature / bearer token, clock skew
    ├── NotFound              404  unknown resource, offer or assignment
    ├── Conflict              409  first accept won already, resource still in use
    └── PreconditionFailed    412  If-Match / If-None-Match / If-Unmodified-Since did not hold
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "NotFound",
    "NotSupported",
    "PreconditionFailed",
    "RouterApiError",
    "Unauthorized",
    "error_body",
]


class RouterApiError(Exception):
    """A rejection the REST layer turns into ``{"communicationError": {...}}`` with ``status``."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "BadRequest"

    def __init__(self, message: str, *, code: str | None = None, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.target = target


class BadRequest(RouterApiError):
    """400: the request is malformed or not allowed in the resource's current state."""


class NotSupported(BadRequest):
    """400: a feature of the real service that this emulator does not implement."""

    def __init__(self, feature: str, *, target: str | None = None) -> None:
        super().__init__(
            f"The Job Router emulator does not support {feature}. "
            "See docs/emulator-support-matrix.md for what is supported.",
            code="NotSupportedByEmulator",
            target=target,
        )


class Unauthorized(RouterApiError):
    """401: authentication failed (the message says why, never echoing key material)."""

    status = 401
    default_code = "Unauthorized"


class NotFound(RouterApiError):
    """404: the item does not exist (the live service's message is "The item was not found.")."""

    status = 404
    default_code = "NotFound"

    def __init__(self, message: str = "The item was not found.", *, target: str | None = None) -> None:
        super().__init__(message, target=target)


class Conflict(RouterApiError):
    """409: the request conflicts with the current state (e.g. another worker accepted the job)."""

    status = 409
    default_code = "Conflict"


class PreconditionFailed(RouterApiError):
    """412: a conditional request header did not hold."""

    status = 412
    default_code = "PreconditionFailed"


def error_body(code: str, message: str, target: str | None) -> dict[str, Any]:
    """The live service's error envelope: {"communicationError": {"code", "message", "target"}}."""
    inner: dict[str, Any] = {"code": code, "message": message}
    if target is not None:
        inner["target"] = target
    return {"communicationError": inner}
