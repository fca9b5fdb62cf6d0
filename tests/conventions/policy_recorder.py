"""A pytest plugin that records every document ``parse_policy`` sees, with the loader's verdict.

Loaded with ``-p tests.conventions.policy_recorder`` before any test module is imported, so the tests' own
``from offer_handlers.policy_document import parse_policy`` binds the recording wrapper. Each call appends
one JSON line to the file named by ``POLICY_RECORD``: ``{"document": ..., "error": null | "message"}``;
a document that is not JSON (hypothesis' NaN, say) is recorded as ``{"document": null, "not_json": true}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import offer_handlers.policy_document as policy_module
from offer_handlers.errors import InvalidPolicyError
from offer_handlers.policy import Policy

_RECORD = Path(os.environ["POLICY_RECORD"])
_parse_policy = policy_module.parse_policy


def _record(line: dict[str, object]) -> None:
    with _RECORD.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def recording_parse_policy(document: object) -> Policy:
    """``parse_policy``, recording the document and the verdict."""
    try:
        text = json.dumps(document, allow_nan=False)
    except (TypeError, ValueError):
        text = None
    try:
        policy: Policy = _parse_policy(document)
    except InvalidPolicyError as err:
        _record(
            {
                "document": None if text is None else json.loads(text),
                "not_json": text is None,
                "error": str(err),
            }
        )
        raise
    _record({"document": None if text is None else json.loads(text), "not_json": text is None, "error": None})
    return policy


policy_module.parse_policy = recording_parse_policy
