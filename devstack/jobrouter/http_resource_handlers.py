"""The /routing resource handlers: conditional upsert (PATCH), get, delete, and paged, filtered lists.

Lists are newest first; a page that is not the last carries ``nextLink`` with an opaque
``continuationToken`` (the filters, the page size and where the page ended), so later pages need no
server-side cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from devstack.jobrouter.engine import Router
from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.http_conditions import upsert_precondition
from devstack.jobrouter.http_list_filters import list_filter
from devstack.jobrouter.http_messages import Call, Reply
from devstack.jobrouter.resources import render
from devstack.jobrouter.wire import JsonObject

__all__ = ["ResourceHandlers"]


class ResourceHandlers:
    """PATCH, GET, DELETE of one resource and GET of a collection, for every resource kind."""

    def __init__(self, router: Router, *, page_size: int) -> None:
        self._router = router
        self._page_size = page_size

    def upsert(self, call: Call) -> Reply:
        """Create (201) or merge-patch (200) a resource, honouring the conditional headers."""
        kind, resource_id = call.params
        if not isinstance(call.body, dict):
            raise BadRequest("The request body must be a JSON object.")
        precondition = upsert_precondition(call.headers)
        created, record = self._router.upsert(kind, resource_id, call.body, precondition)
        return Reply(201 if created else 200, render(kind, record.body, record.etag), record)

    def get(self, call: Call) -> Reply:
        """One resource (404 if absent)."""
        kind, resource_id = call.params
        record = self._router.get(kind, resource_id)
        return Reply(200, render(kind, record.body, record.etag), record)

    def delete(self, call: Call) -> Reply:
        """Delete (204 even when already gone)."""
        kind, resource_id = call.params
        self._router.delete(kind, resource_id)
        return Reply(204)

    def list(self, call: Call) -> Reply:
        """One page of a collection, newest first, with ``nextLink`` when more follow."""
        (kind,) = call.params
        token = call.query.get("continuationToken")
        if token is not None:
            state = _decode_token(token, kind)
            filters: dict[str, str] = state["f"]
            size = int(state["n"])
            after: int | None = int(state["after"])
        else:
            filters = {k: v for k, v in call.query.items() if k not in ("api-version", "maxpagesize")}
            size = _page_size(call.query.get("maxpagesize"), self._page_size)
            after = None
        records = self._router.list_records(kind, list_filter(kind, filters))
        if after is not None:
            records = [r for r in records if r.seq < after]
        page = records[:size]
        body: JsonObject = {"value": [render(kind, r.body, r.etag) for r in page]}
        if len(records) > size:
            next_token = _encode_token({"k": kind, "f": filters, "n": size, "after": page[-1].seq})
            body["nextLink"] = f"/routing/{kind}?continuationToken={next_token}"
        return Reply(200, body)


def _page_size(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        size = int(text)
    except ValueError:
        raise BadRequest(f"'maxpagesize' must be an integer, got {text!r}") from None
    if size < 1:
        raise BadRequest(f"'maxpagesize' must be at least 1, got {size}")
    return size


def _encode_token(state: Mapping[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, kind: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(state, dict) or state.get("k") != kind:
            raise ValueError("wrong collection")
        int(state["n"])
        int(state["after"])
        if not isinstance(state["f"], dict):
            raise ValueError("bad filters")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest(
            "The continuationToken is not valid for this list.", code="InvalidContinuationToken"
        ) from None
    return state
