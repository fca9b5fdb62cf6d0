"""The emulator's state: resource records in memory, optionally written through to SQLite (``sqlite3``).

Every resource is a :class:`Record` holding its wire body (what GET returns, minus ``etag``), its etag,
``Last-Modified``, a creation sequence number (lists are newest first) and an ``internal`` JSON object for
engine-only bookkeeping (declines, triggered exception rules, ...). Pending offers live in the worker body
(``offers``), so everything needed to resume timers after a restart is in the records themselves.

Writes are batched: the engine marks records dirty while it handles one request or timer, then calls
:meth:`Store.flush`, which writes them in one transaction. Without a state file, flush only clears marks.
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

__all__ = ["KINDS", "Record", "StateFileError", "Store"]

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
    """The ``--state`` file cannot be opened or was written by an incompatible version."""


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
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL,"
                " seq INTEGER NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,"
                " body TEXT NOT NULL, internal TEXT NOT NULL, PRIMARY KEY (kind, id))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            version_row = db.execute("SELECT value FROM meta WHERE key = 'schemaVersion'").fetchone()
        except sqlite3.Error as exc:
            raise StateFileError(f"cannot open state file {path}: {exc}") from exc
        if version_row is not None and json.loads(version_row[0]) != _SCHEMA_VERSION:
            db.close()
            raise StateFileError(
                f"state file {path} has schema version {version_row[0]}, "
                f"this emulator writes {_SCHEMA_VERSION}"
            )
        self._db = db
        self._load()
        self.meta["schemaVersion"] = _SCHEMA_VERSION
        self._meta_dirty.add("schemaVersion")
        self.flush()

    def _load(self) -> None:
        assert self._db is not None
        for key, value in self._db.execute("SELECT key, value FROM meta"):
            self.meta[key] = json.loads(value)
        rows = self._db.execute("SELECT kind, id, seq, etag, last_modified, body, internal FROM records")
        count = 0
        for kind, resource_id, seq, etag, last_modified, body, internal in rows:
            if kind not in self.collections:
                log.warning("state file has unknown record kind %s; skipped", kind)
                continue
            self.collections[kind][resource_id] = Record(
                body=json.loads(body),
                etag=etag,
                last_modified=datetime.fromisoformat(last_modified).astimezone(UTC),
                seq=seq,
                internal=json.loads(internal),
            )
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
        except sqlite3.Error:
            log.exception("writing the state file failed; the in-memory state is still current")
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            return
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
        """Flush and close the state file."""
        self.flush()
        if self._db is not None:
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
