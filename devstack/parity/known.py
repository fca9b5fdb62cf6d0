"""The allow-list of known, documented differences (``tests/parity/known_differences.json``).

Each entry names a cause once and lists where it shows::

    {
      "id": "powerfx-rules-rejected",
      "summary": "PowerFx expression and Azure Function rules are rejected with 400",
      "where": ["status", "body*.prioritizationRule*"],   # patterns; '*' matches anything
      "occurrences": {"test_classification_policy.test_get_classification_policy": [5, 6, 7, 8]},
      "recorded": "...", "emulator": "...", "reason": "...", "fix": "..."
    }

A difference is *known* when its recording and request number are in ``occurrences`` and its ``where``
matches one of the patterns. The check is two-way so the list cannot rot: a difference no entry covers is
*unexpected*, and a listed request where the entry no longer covers any difference is *stale*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.parity.compare import Difference
from devstack.parity.replay import RecordingResult

__all__ = ["Check", "KnownDifference", "KnownDifferencesError", "check", "load_known"]

_TEXT_FIELDS = ("summary", "recorded", "emulator", "reason", "fix")


class KnownDifferencesError(ValueError):
    """The allow-list file is malformed (the message names the entry and field)."""


@dataclass(frozen=True, slots=True)
class KnownDifference:
    """One documented cause of differences."""

    id: str
    summary: str
    where: tuple[str, ...]
    occurrences: Mapping[str, tuple[int, ...]]
    recorded: str
    emulator: str
    reason: str
    fix: str

    def covers(self, recording: str, index: int, difference: Difference) -> bool:
        """Whether this entry explains ``difference`` at request ``index`` of ``recording``."""
        if index not in self.occurrences.get(recording, ()):
            return False
        return any(_pattern(p).fullmatch(difference.where) for p in self.where)


@dataclass(frozen=True, slots=True)
class Check:
    """The replay results held against the allow-list."""

    known: tuple[tuple[KnownDifference, str, int, Difference], ...]
    unexpected: tuple[tuple[str, int, str, Difference], ...]  #: recording, index, operation, difference
    stale: tuple[tuple[KnownDifference, str, int], ...]

    @property
    def ok(self) -> bool:
        """No unexpected difference and no stale entry."""
        return not self.unexpected and not self.stale


def load_known(path: Path) -> tuple[KnownDifference, ...]:
    """Parse and validate the allow-list."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KnownDifferencesError(f"{path}: cannot read JSON ({exc})") from None
    entries = raw.get("differences") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise KnownDifferencesError(f"{path}: expected an object with a 'differences' list")
    known = tuple(_entry(path, i, e) for i, e in enumerate(entries))
    ids = [k.id for k in known]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise KnownDifferencesError(f"{path}: duplicate id(s): {', '.join(duplicates)}")
    return known


def check(results: Iterable[RecordingResult], known: Sequence[KnownDifference]) -> Check:
    """Split every difference into known and unexpected, and find stale allow-list entries."""
    found: list[tuple[KnownDifference, str, int, Difference]] = []
    unexpected: list[tuple[str, int, str, Difference]] = []
    stale: list[tuple[KnownDifference, str, int]] = []
    for result in results:
        name = result.recording.name
        covered: set[tuple[str, int]] = set()
        for exchange, difference in result.differences():
            entry = next((k for k in known if k.covers(name, exchange.index, difference)), None)
            if entry is None:
                unexpected.append((name, exchange.index, exchange.operation, difference))
            else:
                found.append((entry, name, exchange.index, difference))
                covered.add((entry.id, exchange.index))
        stale.extend(
            (entry, name, index)
            for entry in known
            for index in entry.occurrences.get(name, ())
            if (entry.id, index) not in covered
        )
    return Check(tuple(found), tuple(unexpected), tuple(stale))


def _entry(path: Path, position: int, raw: Any) -> KnownDifference:
    label = f"{path.name}: entry {position + 1}"
    if not isinstance(raw, dict):
        raise KnownDifferencesError(f"{label} is not an object")
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not entry_id:
        raise KnownDifferencesError(f"{label}: 'id' must be a non-empty string")
    label = f"{path.name}: entry {entry_id!r}"
    texts: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise KnownDifferencesError(f"{label}: '{name}' must be a non-empty string")
        texts[name] = value
    where = raw.get("where")
    if not isinstance(where, list) or not where or not all(isinstance(w, str) and w for w in where):
        raise KnownDifferencesError(f"{label}: 'where' must be a non-empty list of patterns")
    occurrences = raw.get("occurrences")
    if not isinstance(occurrences, dict) or not occurrences:
        raise KnownDifferencesError(f"{label}: 'occurrences' must map recording names to request numbers")
    parsed: dict[str, tuple[int, ...]] = {}
    for recording, indexes in occurrences.items():
        if (
            not isinstance(indexes, list)
            or not indexes
            or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in indexes)
        ):
            raise KnownDifferencesError(
                f"{label}: occurrences[{recording!r}] must be a non-empty list of request numbers (1-based)"
            )
        parsed[recording] = tuple(indexes)
    unknown = sorted(set(raw) - {"id", "where", "occurrences", *_TEXT_FIELDS})
    if unknown:
        raise KnownDifferencesError(f"{label}: unknown field(s) {', '.join(unknown)}")
    return KnownDifference(id=entry_id, where=tuple(where), occurrences=parsed, **texts)


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")))
