"""Microsoft's Job Router test-proxy recordings as frozen values: one :class:`Recording` per file.

A recording is the traffic of one SDK 1.0.0 test against the live service, in the Azure SDK test proxy's
format (a JSON object whose ``Entries`` hold each request and response). Parsing happens here once;
everything past this module sees :class:`Exchange` values with the host stripped, the bodies decoded
and the few headers that matter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "COLLECTIONS",
    "Exchange",
    "Recording",
    "RecordingError",
    "default_recordings_dir",
    "load_recording",
    "load_recordings",
    "operation",
]

#: The /routing collections that hold resources with client-chosen ids.
COLLECTIONS: Final = frozenset(
    {"distributionPolicies", "queues", "classificationPolicies", "exceptionPolicies", "workers", "jobs"}
)

_FILE_NAME = re.compile(r"^(?P<module>\w+?)\.py(?P<cls>[A-Z][A-Za-z]*?)(?P<test>test_\w+)\.json$")
_RESOURCE_PATH = re.compile(r"^/routing/(?P<collection>\w+)/(?P<id>[^/:]+)")
_LIST_PATH = re.compile(r"^/routing/(?P<collection>\w+)$")
#: Request headers the replay sends as recorded (auth, date, ids and transport headers are the SDK's own).
_REPLAYED_REQUEST_HEADERS: Final = (
    "Content-Type",
    "Accept",
    "If-Match",
    "If-None-Match",
    "If-Unmodified-Since",
)


class RecordingError(ValueError):
    """A recording file is not in the test-proxy format this module understands."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path.name}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded request and the live service's response."""

    index: int  #: 1-based position in the recording
    method: str
    target: str  #: path and query exactly as recorded (percent-encoded), host stripped
    request_headers: Mapping[str, str]
    request_body: Any
    status: int
    response_headers: Mapping[str, str]
    response_body: Any
    request_date: datetime | None

    @property
    def path(self) -> str:
        """The percent-encoded path."""
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        """Decoded query pairs in recorded order."""
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def resource(self) -> tuple[str, str] | None:
        """``(collection, id)`` for requests on one resource (or its sub-resources and actions)."""
        match = _RESOURCE_PATH.match(self.path)
        if match is None or match["collection"] not in COLLECTIONS:
            return None
        return match["collection"], unquote(match["id"])

    @property
    def list_collection(self) -> str | None:
        """The collection for a list request (first or later page), else None."""
        match = _LIST_PATH.match(self.path)
        if self.method != "GET" or match is None or match["collection"] not in COLLECTIONS:
            return None
        return match["collection"]

    @property
    def continuation_token(self) -> str | None:
        """The decoded ``continuationToken`` of a next-page request."""
        return next((v for k, v in self.query if k == "continuationToken"), None)

    @property
    def operation(self) -> str:
        """The REST operation, e.g. ``PATCH /routing/jobs/{id}`` (see :func:`operation`)."""
        return operation(self.method, self.path)


@dataclass(frozen=True, slots=True)
class Recording:
    """All exchanges of one recorded SDK test."""

    name: str  #: ``<module>.<test>``, e.g. ``test_worker.test_list_workers``
    file: Path
    exchanges: tuple[Exchange, ...]
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def started_at(self) -> datetime | None:
        """When the first request was signed (its ``x-ms-date``)."""
        return next((e.request_date for e in self.exchanges if e.request_date is not None), None)

    def own_ids(self, collection: str) -> frozenset[str]:
        """Ids the test itself addressed in ``collection`` (list items with other ids are foreign)."""
        return frozenset(r[1] for e in self.exchanges if (r := e.resource) is not None and r[0] == collection)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges)


def operation(method: str, path: str) -> str:
    """``GET /routing/workers/{id}``, ``POST /routing/workers/{id}/offers/{offerId}:accept``, ..."""
    template = re.sub(r"^/routing/(\w+)/[^/:]+", r"/routing/\1/{id}", path)
    template = re.sub(r"/offers/[^/:]+", "/offers/{offerId}", template)
    template = re.sub(r"/assignments/[^/:]+", "/assignments/{assignmentId}", template)
    return f"{method} {template}"


def default_recordings_dir(repo_root: Path) -> Path:
    """The ``shared/recordings/jobrouter`` folder next to the repository root (where CI mounts it)."""
    return (repo_root.parent / "shared" / "recordings" / "jobrouter").resolve()


def load_recordings(directory: Path) -> list[Recording]:
    """Every ``*.json`` recording in ``directory``, sorted by name."""
    return sorted((load_recording(p) for p in directory.glob("*.json")), key=lambda r: r.name)


def load_recording(path: Path) -> Recording:
    """Parse one test-proxy recording file."""
    match = _FILE_NAME.match(path.name)
    name = f"{match['module']}.{match['test']}" if match else path.stem
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(path, f"cannot read JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("Entries"), list):
        raise RecordingError(path, "no 'Entries' list")
    exchanges = tuple(_exchange(path, i, entry) for i, entry in enumerate(raw["Entries"], start=1))
    variables = raw.get("Variables") or {}
    return Recording(name=name, file=path, exchanges=exchanges, variables=dict(variables))


def _exchange(path: Path, index: int, entry: Any) -> Exchange:
    if not isinstance(entry, dict):
        raise RecordingError(path, f"entry {index} is not an object")
    try:
        uri = str(entry["RequestUri"])
        method = str(entry["RequestMethod"]).upper()
        status = int(entry["StatusCode"])
        request_headers = dict(entry.get("RequestHeaders") or {})
        response_headers = dict(entry.get("ResponseHeaders") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordingError(path, f"entry {index} lacks {exc}") from None
    parts = urlsplit(uri)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lowered = {k.lower(): (k, v) for k, v in request_headers.items()}
    replayed = {
        name: str(lowered[name.lower()][1]) for name in _REPLAYED_REQUEST_HEADERS if name.lower() in lowered
    }
    date_text = lowered.get("x-ms-date", ("", None))[1]
    return Exchange(
        index=index,
        method=method,
        target=target,
        request_headers=replayed,
        request_body=entry.get("RequestBody"),
        status=status,
        response_headers={str(k): str(v) for k, v in response_headers.items()},
        response_body=entry.get("ResponseBody"),
        request_date=_http_date(date_text),
    )


def _http_date(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
