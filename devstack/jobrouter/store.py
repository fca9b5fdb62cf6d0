"""The emulator's state: resource records in memory, optionally written through to SQLite (``sqlite3``).

Every resource is a :class:`Record` holding its wire body (what GET returns, minus ``etag``), its etag,
``Last-Modified``, a creation sequence number (lists are newest first) and an ``internal`` JSON object for
engine-only bookkeeping (declines, triggered exception rules, ...). Pending offers live in the worker body
(``offers``), so everything needed to resume timers after a restart is in the records themselves.

Writes are batched: the engine marks records dirty while it handles one request or timer, then calls
:meth:`Store.flush`, which writes them in one transaction. Without a state file, flush only clears marks.
A flush that cannot write raises :class:`StateWriteError` and keeps the marks, so the caller can refuse to
acknowledge a change that is not on disk; a file that cannot be read raises :class:`StateFileError` naming
the file (and the record).
Every create, touch and delete is also told to the listeners (:meth:`Store.listen`): the engine's matching
index follows the records that way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from devstack.jobrouter.wire import JsonObject

__all__ = ["KINDS", "Record", "StateFileError", "StateWriteError", "Store"]

log = logging.getLogger(__name__)

KINDS: Final = (
    "distributionPolicies",
    "queues",
    "classificationPolicies",
    "exceptionPolicies",
    "workers",
    "jobs",
)
_SCHEMA_VERSION: Final = 1


class StateFileError(Exception):
    """The ``--state`` file cannot be opened, is corrupt, or was written by an incompatible version."""


class StateWriteError(StateFileError):
    """A change could not be written to the ``--state`` file (read-only file, full disk, I/O error)."""


@dataclass(slots=True)
class Record:
    """One stored resource (mutable: the engine updates it in place, then calls :meth:`Store.touch`)."""

    body: JsonObject
    etag: str
    last_modified: datetime
    seq: int
    internal: JsonObject = field(default_factory=dict)


def new_etag() -> str:
    """An opaque entity tag (the service's are opaque too; recordings sanitise them)."""
    return uuid.uuid4().hex


class Store:
    """All records by kind and id, plus a small ``meta`` map (counters, cursors), with optional SQLite."""

    def __init__(self, path: Path | None = None) -> None:
        self.collections: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
        self.meta: JsonObject = {"seq": 0}
        self._dirty: set[tuple[str, str]] = set()
        self._deleted: set[tuple[str, str]] = set()
        self._meta_dirty: set[str] = set()
        self._listeners: list[Callable[[str, str], None]] = []
        self._db: sqlite3.Connection | None = None
        self._path: Path | None = path
        if path is not None:
            self._open(path)

    # ------------------------------------------------------------------------------ records

    def listen(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(kind, id)`` after each create, touch and delete (not for records loaded)."""
        self._listeners.append(listener)

    def get(self, kind: str, resource_id: str) -> Record | None:
        """The record, or None."""
        return self.collections[kind].get(resource_id)

    def all(self, kind: str) -> Iterator[Record]:
        """Every record of a kind (no particular order)."""
        return iter(list(self.collections[kind].values()))

    def create(self, kind: str, resource_id: str, body: JsonObject, now: datetime) -> Record:
        """Add a new record with a fresh etag and the next sequence number."""
        self.meta["seq"] = int(self.meta["seq"]) + 1
        self._meta_dirty.add("seq")
        record = Record(body=body, etag=new_etag(), last_modified=now, seq=int(self.meta["seq"]))
        self.collections[kind][resource_id] = record
        self._mark(kind, resource_id)
        self._tell(kind, resource_id)
        return record

    def touch(self, kind: str, resource_id: str, now: datetime, *, changed: bool = True) -> None:
        """Mark a record dirty for the next flush, with a new etag and Last-Modified when ``changed``."""
        record = self.collections[kind].get(resource_id)
        if record is None:
            return
        if changed:
            record.etag = new_etag()
            record.last_modified = now
        self._mark(kind, resource_id)
        self._tell(kind, resource_id)

    def delete(self, kind: str, resource_id: str) -> Record | None:
        """Remove a record; returns it, or None if it was not there."""
        record = self.collections[kind].pop(resource_id, None)
        if record is not None:
            self._dirty.discard((kind, resource_id))
            self._deleted.add((kind, resource_id))
            self._tell(kind, resource_id)
        return record

    def set_meta(self, key: str, value: Any) -> None:
        """Set a meta value (persisted at the next flush)."""
        self.meta[key] = value
        self._meta_dirty.add(key)

    def meta_dict(self, key: str) -> dict[str, Any]:
        """A meta value that is a JSON object, to be changed in place; it is marked for the next flush."""
        value = self.meta.setdefault(key, {})
        self._meta_dirty.add(key)
        return value  # type: ignore[no-any-return]

    def _tell(self, kind: str, resource_id: str) -> None:
        for listener in self._listeners:
            listener(kind, resource_id)

    def _mark(self, kind: str, resource_id: str) -> None:
        self._deleted.discard((kind, resource_id))
        self._dirty.add((kind, resource_id))

    # ---------------------------------------------------------------------------- persistence

    @property
    def persistent(self) -> bool:
        """True when a state file is attached."""
        return self._db is not None

    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StateFileError(f"cannot open state file {path}: {exc}") from exc
        try:
            # A page overwritten by another program shows here, before anything is served from it.
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise StateFileError(f"state file {path} is corrupt: {'; '.join(map(str, problems[:3]))}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL,"
                " seq INTEGER NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,"
                " body TEXT NOT NULL, internal TEXT NOT NULL, PRIMARY KEY (kind, id))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            version_row = db.execute("SELECT value FROM meta WHERE key = 'schemaVersion'").fetchone()
            if version_row is not None and _json(version_row[0]) != _SCHEMA_VERSION:
                raise StateFileError(
                    f"state file {path} has schema version {version_row[0]}, "
                    f"this emulator writes {_SCHEMA_VERSION}"
                )
            self._db = db
            self._load(path)
        except (sqlite3.Error, ValueError) as exc:
            db.close()
            self._db = None
            raise StateFileError(f"cannot read state file {path}: {exc}") from exc
        except StateFileError:
            db.close()
            self._db = None
            raise
        self.meta["schemaVersion"] = _SCHEMA_VERSION
        self._meta_dirty.add("schemaVersion")
        try:
            self.flush()
        except StateWriteError:
            self.close_quietly()
            raise

    def _load(self, path: Path) -> None:
        assert self._db is not None
        for key, value in self._db.execute("SELECT key, value FROM meta"):
            try:
                self.meta[key] = _json(value)
            except ValueError as exc:
                raise StateFileError(f"state file {path}: meta value {key!r} is not valid JSON") from exc
        rows = self._db.execute("SELECT kind, id, seq, etag, last_modified, body, internal FROM records")
        count = 0
        for row in rows:
            kind, resource_id = row[0], row[1]
            if kind not in self.collections:
                log.warning("state file has unknown record kind %s; skipped", kind)
                continue
            self.collections[kind][resource_id] = _record(path, row)
            count += 1
        log.info("loaded %d records from the state file", count)

    def flush(self) -> None:
        """Write dirty records (one transaction) and clear the marks."""
        if self._db is None:
            self._dirty.clear()
            self._deleted.clear()
            self._meta_dirty.clear()
            return
        if not (self._dirty or self._deleted or self._meta_dirty):
            return
        db = self._db
        try:
            db.execute("BEGIN")
            for kind, resource_id in self._deleted:
                db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, resource_id))
            for kind, resource_id in self._dirty:
                record = self.collections[kind].get(resource_id)
                if record is None:
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO records (kind, id, seq, etag, last_modified, body, internal)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        kind,
                        resource_id,
                        record.seq,
                        record.etag,
                        record.last_modified.isoformat(),
                        json.dumps(record.body),
                        json.dumps(record.internal),
                    ),
                )
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(self.meta[k])) for k in self._meta_dirty if k in self.meta],
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            # The marks stay: nothing of this change is on disk, and the caller must not acknowledge it.
            raise StateWriteError(f"cannot write state file {self._path}: {exc}") from exc
        self._dirty.clear()
        self._deleted.clear()
        self._meta_dirty.clear()

    def clear(self) -> None:
        """Drop every record (admin reset); the state file is emptied at the next flush."""
        for kind, records in self.collections.items():
            for resource_id in list(records):
                self.delete(kind, resource_id)
        self.meta = {"seq": self.meta.get("seq", 0), "schemaVersion": _SCHEMA_VERSION}
        if self._db is not None:
            self._db.execute("DELETE FROM meta")
        self._meta_dirty = set(self.meta)

    def close(self) -> None:
        """Flush and close the state file (a failing flush is logged: nothing is left to answer)."""
        try:
            self.flush()
        except StateWriteError as exc:
            log.error("%s; the changes since the last successful write are lost", exc)
        self.close_quietly()

    def close_quietly(self) -> None:
        """Close the state file without writing."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def snapshot(self) -> JsonObject:
        """Every record as plain JSON (for ``GET /admin/state``)."""
        return {
            kind: [
                {
                    "id": resource_id,
                    "etag": r.etag,
                    "lastModified": r.last_modified.isoformat(),
                    "seq": r.seq,
                    "body": r.body,
                    "internal": r.internal,
                }
                for resource_id, r in sorted(records.items(), key=lambda item: item[1].seq)
            ]
            for kind, records in self.collections.items()
        } | {"meta": dict(self.meta)}


def _json(text: object) -> Any:
    if not isinstance(text, str):
        raise ValueError("not text")
    return json.loads(text)


def _record(path: Path, row: tuple[Any, ...]) -> Record:
    """One row of the records table as a :class:`Record`, or a :class:`StateFileError` naming the row."""
    kind, resource_id, seq, etag, modified, body, internal = row
    try:
        parsed_body, parsed_internal = _json(body), _json(internal)
        if not isinstance(parsed_body, dict) or not isinstance(parsed_internal, dict):
            raise ValueError("body and internal must be JSON objects")
        if parsed_body.get("id") != resource_id:
            raise ValueError("the body's id is not the record's id")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(etag, str):
            raise ValueError("seq must be an integer and etag text")
        if not isinstance(modified, str):
            raise ValueError("last_modified must be text")
        last_modified = datetime.fromisoformat(modified)
        if last_modified.tzinfo is None:
            raise ValueError("last_modified has no time zone")
    except ValueError as exc:
        raise StateFileError(f"state file {path}: record {kind}/{resource_id} is not valid: {exc}") from exc
    return Record(
        body=parsed_body,
        etag=etag,
        last_modified=last_modified.astimezone(UTC),
        seq=seq,
        internal=parsed_internal,
    )
