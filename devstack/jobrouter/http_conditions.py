"""Conditional upserts: ``If-Match``, ``If-None-Match`` and ``If-Unmodified-Since`` against a stored resource.

:func:`upsert_precondition` reads the headers of a PATCH and returns the check the engine runs on the
stored resource before it changes anything (412 ``PreconditionFailed`` when a condition does not hold).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from devstack.jobrouter.engine import Precondition
from devstack.jobrouter.errors import BadRequest, PreconditionFailed
from devstack.jobrouter.store import Record
from devstack.jobrouter.wire import parse_http_date

__all__ = ["Conditions", "check_conditions", "upsert_precondition"]


@dataclass(frozen=True, slots=True)
class Conditions:
    """Conditional request headers of an upsert."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_unmodified_since: datetime | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Conditions:
        """The conditions of a request (400 when ``If-Unmodified-Since`` is not an RFC 1123 date)."""
        since = headers.get("If-Unmodified-Since")
        since_date = parse_http_date(since) if since else None
        if since and since_date is None:
            raise BadRequest("If-Unmodified-Since is not an RFC 1123 date.")
        return cls(
            if_match=headers.get("If-Match"),
            if_none_match=headers.get("If-None-Match"),
            if_unmodified_since=since_date,
        )


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}


def check_conditions(existing: Record | None, cond: Conditions) -> None:
    """Raise :class:`PreconditionFailed` unless every condition holds for the stored resource (or None)."""
    if cond.if_match is not None:
        if existing is None:
            raise PreconditionFailed("If-Match was given but the resource does not exist.")
        if cond.if_match.strip() != "*" and existing.etag not in _etags(cond.if_match):
            raise PreconditionFailed("The resource's ETag does not match If-Match.")
    if (
        cond.if_none_match is not None
        and existing is not None
        and (cond.if_none_match.strip() == "*" or existing.etag in _etags(cond.if_none_match))
    ):
        raise PreconditionFailed("If-None-Match did not hold: the resource exists with that ETag.")
    if (
        cond.if_unmodified_since is not None
        and existing is not None
        and existing.last_modified.replace(microsecond=0) > cond.if_unmodified_since
    ):
        raise PreconditionFailed("The resource was modified after If-Unmodified-Since.")


def upsert_precondition(headers: Mapping[str, str]) -> Precondition:
    """The engine-side check for a PATCH's conditional headers."""
    cond = Conditions.from_headers(headers)

    def check(existing: Record | None) -> None:
        check_conditions(existing, cond)

    return check
