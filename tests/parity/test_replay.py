"""Every live recording replays against a fresh emulator with no difference beyond the documented ones.

One case per recording. A case fails when a difference appears that tests/parity/known_differences.json does
not list (a regression, or a new finding to fix or document), and when a listed occurrence no longer differs
(the emulator was fixed: delete it from the list, so the list cannot rot). docs/parity.md, generated from the
same replay, must be current.
"""

from __future__ import annotations

import json

import pytest

from devstack.parity.known import KnownDifference, check
from devstack.parity.recording import Recording
from devstack.parity.replay import RecordingResult, ReplaySettings, replay
from devstack.parity.report import markdown_report
from tests.parity.conftest import NO_RECORDINGS, REPO_ROOT, available_recordings

_RECORDINGS = available_recordings()
_CASES = (
    [pytest.param(r, id=r.name) for r in _RECORDINGS]
    if _RECORDINGS
    else [pytest.param(None, id="no-recordings", marks=pytest.mark.skip(reason=NO_RECORDINGS))]
)
#: Results of the cases above, reused by the docs check (each recording is replayed once per session).
_RESULTS: dict[str, RecordingResult] = {}


def _replayed(recording: Recording) -> RecordingResult:
    if recording.name not in _RESULTS:
        _RESULTS[recording.name] = replay(recording)
    return _RESULTS[recording.name]


@pytest.mark.parametrize("recording", _CASES)
def test_recording_replays_like_the_live_service(
    recording: Recording, known: tuple[KnownDifference, ...]
) -> None:
    outcome = check([_replayed(recording)], known)

    problems = [
        f"unexpected: #{index} {operation}: {difference.describe()}"
        for _, index, operation, difference in outcome.unexpected
    ] + [
        f"stale allow-list entry {entry.id!r}: #{index} no longer differs (remove it)"
        for entry, _, index in outcome.stale
    ]
    assert not problems, f"{recording.name}:\n" + "\n".join(problems)


def test_the_replay_covers_all_forty_recordings() -> None:
    if not _RECORDINGS:
        pytest.skip(NO_RECORDINGS)

    assert len(_RECORDINGS) == 40
    assert sum(len(r.exchanges) for r in _RECORDINGS) == 442


def test_the_parity_page_is_generated_from_the_current_replay(known: tuple[KnownDifference, ...]) -> None:
    if not _RECORDINGS:
        pytest.skip(NO_RECORDINGS)
    results = [_replayed(r) for r in _RECORDINGS]

    expected = markdown_report(results, check(results, known), known, ReplaySettings())

    current = (REPO_ROOT / "docs" / "parity.md").read_text(encoding="utf-8")
    assert current == expected, "docs/parity.md is out of date: run `python -m devstack.parity` (make parity)"


def test_requests_storing_expression_and_function_rules_answer_as_recorded() -> None:
    if not _RECORDINGS:
        pytest.skip(NO_RECORDINGS)
    with_rules = [
        (recording.name, result.exchange.index, [d.describe() for d in result.differences])
        for recording in _RECORDINGS
        for result in _replayed(recording).results
        if _uses_expression_or_function_rules(result.exchange.request_body)
    ]

    assert with_rules, "the recordings hold PowerFx expression and Azure Function rules"
    assert [r for r in with_rules if r[2]] == []


def _uses_expression_or_function_rules(body: object) -> bool:
    text = json.dumps(body)
    return '"kind": "expression"' in text or '"kind": "function"' in text
