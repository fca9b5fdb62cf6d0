"""Microsoft's Job Router test-proxy recordings as frozen values: one :class:`Recording` per file.

A recording is the traffic of one SDK 1.0.0 test against the live service, in the Azure SDK test proxy's
format (a JSON object whose ``Entries`` hold each request and response, and ``Variables``). Parsing happens
here once; everything past this module sees :class:`Exchange` values with the host stripped, the bodies
decoded and the few headers that matter. The recordings come from a folder of the original files or, in a
fresh clone, from the committed bundle (tests/parity/recordings/README.md): the same files reduced to what
this module reads, so a replay of either gives the same result.
"""

from __future__ import annotations

import gzip
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
    "COMMITTED_BUNDLE",
    "Exchange",
    "Recording",
    "RecordingError",
    "default_recordings",
    "default_recordings_dir",
    "load_recording",
    "load_recordings",
    "operation",
    "reduced",
    "write_bundle",
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
#: Response headers the comparison reads (exact values or presence); the others are transport noise.
_COMPARED_RESPONSE_HEADERS: Final = (
    "api-supported-versions",
    "Content-Type",
    "X-Cache",
    "Request-Context",
    "ETag",
    "Last-Modified",
)
#: The committed bundle of the 40 recordings, relative to the repository root.
COMMITTED_BUNDLE: Final = Path("tests", "parity", "recordings", "jobrouter-2023-11-14.json.gz")


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


def default_recordings(repo_root: Path) -> Path:
    """The original recordings folder when it is there, else the bundle committed in the repository."""
    folder = default_recordings_dir(repo_root)
    return folder if folder.is_dir() else repo_root / COMMITTED_BUNDLE


def load_recordings(source: Path) -> list[Recording]:
    """Every recording in ``source`` (a folder of ``*.json`` files, or a ``.json.gz`` bundle), by name."""
    if source.is_file():
        recordings = [_recording(source / name, document) for name, document in _read_bundle(source).items()]
    else:
        recordings = [load_recording(p) for p in source.glob("*.json")]
    return sorted(recordings, key=lambda r: r.name)


def load_recording(path: Path) -> Recording:
    """Parse one test-proxy recording file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(path, f"cannot read JSON ({exc})") from None
    return _recording(path, raw)


def reduced(document: Mapping[str, Any]) -> dict[str, Any]:
    """A test-proxy document with only what :func:`load_recording` reads (same values, same key order)."""
    keep_request = {h.lower() for h in (*_REPLAYED_REQUEST_HEADERS, "x-ms-date")}
    keep_response = {h.lower() for h in _COMPARED_RESPONSE_HEADERS}
    entries = [
        {
            "RequestUri": entry["RequestUri"],
            "RequestMethod": entry["RequestMethod"],
            "RequestHeaders": {
                k: v for k, v in (entry.get("RequestHeaders") or {}).items() if k.lower() in keep_request
            },
            "RequestBody": entry.get("RequestBody"),
            "StatusCode": entry["StatusCode"],
            "ResponseHeaders": {
                k: v for k, v in (entry.get("ResponseHeaders") or {}).items() if k.lower() in keep_response
            },
            "ResponseBody": entry.get("ResponseBody"),
        }
        for entry in document["Entries"]
    ]
    return {"Entries": entries, "Variables": document.get("Variables") or {}}


def write_bundle(folder: Path, bundle: Path) -> int:
    """Write every ``*.json`` recording of ``folder``, reduced, into one gzip bundle; return how many.

    The output is byte-for-byte reproducible (sorted names, no name or timestamp in the gzip header).
    """
    documents = {
        path.name: reduced(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.json"))
    }
    bundle.parent.mkdir(parents=True, exist_ok=True)
    with bundle.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as file:
        file.write(json.dumps(documents, separators=(",", ":"), ensure_ascii=False).encode())
    return len(documents)


def _read_bundle(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as file:
            raw = json.load(file)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(path, f"cannot read the gzip JSON bundle ({exc})") from None
    if not isinstance(raw, dict):
        raise RecordingError(path, "the bundle is not an object of file name -> recording")
    return raw


def _recording(path: Path, raw: Any) -> Recording:
    match = _FILE_NAME.match(path.name)
    name = f"{match['module']}.{match['test']}" if match else path.stem
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
    compared = {h.lower() for h in _COMPARED_RESPONSE_HEADERS}
    return Exchange(
        index=index,
        method=method,
        target=target,
        request_headers=replayed,
        request_body=entry.get("RequestBody"),
        status=status,
        response_headers={str(k): str(v) for k, v in response_headers.items() if str(k).lower() in compared},
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
