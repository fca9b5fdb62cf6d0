"""The allow-list: well-formed, pointing at real requests, and checked in both directions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.parity.compare import Difference
from devstack.parity.known import KnownDifference, KnownDifferencesError, check, load_known
from devstack.parity.recording import Exchange, Recording
from devstack.parity.replay import ExchangeResult, RecordingResult

ENTRY: dict[str, Any] = {
    "id": "labels-order",
    "summary": "s",
    "where": ["body.labels", "body.value[*].labels"],
    "occurrences": {"rec.one": [2]},
    "recorded": "r",
    "emulator": "e",
    "reason": "why",
    "fix": "how",
}


def write(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "known.json"
    path.write_text(json.dumps({"differences": entries}), encoding="utf-8")
    return path


def result_with(differences: dict[int, list[Difference]], *, requests: int = 3) -> RecordingResult:
    exchanges = tuple(
        Exchange(i, "PATCH", f"/routing/queues/q{i}", {}, {}, 200, {}, {}, None)
        for i in range(1, requests + 1)
    )
    results = tuple(ExchangeResult(e, tuple(differences.get(e.index, ()))) for e in exchanges)
    return RecordingResult(Recording("rec.one", Path("rec.json"), exchanges), results, 0.0)


LABELS = Difference("body.labels", "key order", "a,Id", "Id,a")


@pytest.fixture
def entry(tmp_path: Path) -> KnownDifference:
    """``ENTRY`` parsed from a file."""
    (parsed,) = load_known(write(tmp_path, [ENTRY]))
    return parsed


# --- the real file ------------------------------------------------------------------------------------


def test_the_allow_list_parses_and_every_entry_explains_itself(known: tuple[KnownDifference, ...]) -> None:
    for entry in known:
        assert all(len(text) > 20 for text in (entry.recorded, entry.emulator, entry.reason, entry.fix)), (
            entry.id
        )


def test_every_listed_occurrence_is_a_request_of_an_existing_recording(
    known: tuple[KnownDifference, ...], recordings: dict[str, Recording]
) -> None:
    for entry in known:
        for name, indexes in entry.occurrences.items():
            assert name in recordings, f"{entry.id}: no recording named {name!r}"
            count = len(recordings[name].exchanges)
            assert all(1 <= i <= count for i in indexes), f"{entry.id}: {name} has {count} requests"


# --- the two-way check --------------------------------------------------------------------------------


def test_a_listed_difference_is_known(entry: KnownDifference) -> None:
    outcome = check([result_with({2: [LABELS]})], [entry])

    assert outcome.ok
    assert [(e.id, i) for e, _, i, _ in outcome.known] == [("labels-order", 2)]


@pytest.mark.parametrize(
    ("index", "difference"),
    [(3, LABELS), (2, Difference("body.name", "value", "a", "b"))],
    ids=["other-request", "other-field"],
)
def test_a_difference_the_list_does_not_cover_is_unexpected(
    entry: KnownDifference, index: int, difference: Difference
) -> None:
    outcome = check([result_with({2: [LABELS], index: [difference]})], [entry])

    assert [(i, d) for _, i, _, d in outcome.unexpected] == [(index, difference)]
    assert not outcome.ok


def test_a_listed_occurrence_that_no_longer_differs_is_stale(entry: KnownDifference) -> None:
    outcome = check([result_with({})], [entry])

    assert [(e.id, name, i) for e, name, i in outcome.stale] == [("labels-order", "rec.one", 2)]
    assert not outcome.ok


def test_where_patterns_match_whole_paths_with_star_as_a_wildcard(entry: KnownDifference) -> None:
    assert entry.covers("rec.one", 2, Difference("body.value[w_1].labels", "key order", "", ""))
    assert not entry.covers("rec.one", 2, Difference("body.labels.Id", "missing key", "", ""))


# --- malformed files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": ""}, "'id' must be a non-empty string"),
        ({"reason": " "}, "'reason' must be a non-empty string"),
        ({"where": []}, "'where' must be a non-empty list"),
        ({"occurrences": {"rec.one": [0]}}, "request numbers (1-based)"),
        ({"occurrences": {}}, "'occurrences' must map"),
        ({"because": "typo"}, "unknown field(s) because"),
    ],
    ids=["empty-id", "blank-reason", "no-where", "zero-index", "no-occurrences", "unknown-field"],
)
def test_a_malformed_entry_is_rejected_with_a_message_naming_it(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(KnownDifferencesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_known(write(tmp_path, [{**ENTRY, **change}]))


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(KnownDifferencesError, match="duplicate id"):
        load_known(write(tmp_path, [ENTRY, ENTRY]))
