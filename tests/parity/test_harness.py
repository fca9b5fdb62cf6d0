"""The replay harness itself: it finds injected differences, seeds pre-existing objects, skips only foreign
pages, shifts run-relative times, and its command line reports and exits as documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from devstack.parity.__main__ import main
from devstack.parity.recording import Exchange, Recording
from devstack.parity.replay import ReplaySettings, foreign_only_tokens, replay, shift_times
from tests.parity.conftest import recording_text

GET_QUEUE = "test_job_queue.test_get_queue"  # no timing-dependent request: short polls suffice
SHORT_POLLS = ReplaySettings(poll_timeout=0.2)
GET_WORKER = "test_worker.test_get_worker"
LIST_POLICIES = "test_classification_policy.test_list_classification_policies"


def with_recorded(recording: Recording, index: int, **changes: Any) -> Recording:
    """The recording with exchange ``index`` (1-based) changed."""
    exchanges = list(recording.exchanges)
    exchanges[index - 1] = dataclasses.replace(exchanges[index - 1], **changes)
    return dataclasses.replace(recording, exchanges=tuple(exchanges))


def differences(recording: Recording, settings: ReplaySettings = SHORT_POLLS) -> list[tuple[int, str, str]]:
    result = replay(recording, settings)
    return [(e.index, d.where, d.kind) for e, d in result.differences()]


# --- the harness can fail -----------------------------------------------------------------------------


def test_an_unmodified_recording_replays_without_differences(recordings: dict[str, Recording]) -> None:
    assert differences(recordings[GET_QUEUE]) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["labels"].update({"extra": 1}), (3, "body.labels.extra", "missing key")),
        (
            lambda b: b.update(labels=dict(reversed(list(b["labels"].items())))),
            (3, "body.labels", "key order"),
        ),
        (lambda b: b.update(name=7), (3, "body.name", "type")),
        (lambda b: b.update(id="other"), (3, "body.id", "value")),
    ],
    ids=["extra-label", "label-order", "name-type", "id-value"],
)
def test_a_change_injected_into_a_recorded_response_is_reported_at_that_request(
    recordings: dict[str, Recording], mutate: Any, expected: tuple[int, str, str]
) -> None:
    recording = recordings[GET_QUEUE]
    body = dict(recording.exchanges[2].response_body)  # #3 GET /routing/queues/{id}
    body["labels"] = dict(body["labels"])
    mutate(body)

    assert differences(with_recorded(recording, 3, response_body=body)) == [expected]


def test_an_injected_status_is_reported(recordings: dict[str, Recording]) -> None:
    recording = with_recorded(recordings[GET_QUEUE], 5, status=200)

    assert differences(recording) == [(5, "status", "status")]


def test_an_injected_header_is_reported(recordings: dict[str, Recording]) -> None:
    recording = recordings[GET_QUEUE]
    headers = {**recording.exchanges[4].response_headers, "ETag": "Sanitized"}

    assert differences(with_recorded(recording, 5, response_headers=headers)) == [
        (5, "headers.ETag", "missing header")
    ]


# --- pre-existing objects and foreign pages -----------------------------------------------------------


def test_objects_that_pre_existed_live_are_seeded_so_their_recorded_200_is_compared(
    recordings: dict[str, Recording],
) -> None:
    result = replay(recordings[GET_WORKER])

    assert [r.exchange.index for r in result.results if r.seeded] == [1, 2]
    assert result.results[0].matched


def test_without_seeding_a_201_is_accepted_for_the_recorded_200_and_noted(
    recordings: dict[str, Recording],
) -> None:
    result = replay(recordings[GET_WORKER], ReplaySettings(seed_preexisting=False))

    assert not any(r.seeded for r in result.results)
    assert [r.exchange.index for r in result.results if r.notes] == [1, 2]
    assert result.matched == result.compared


def test_only_pages_holding_nothing_but_foreign_objects_are_not_sent(
    recordings: dict[str, Recording],
) -> None:
    recording = recordings[LIST_POLICIES]

    result = replay(recording, SHORT_POLLS)

    assert [r.exchange.index for r in result.results if r.skipped] == [7, 12, 17]
    assert len(foreign_only_tokens(recording)) == 1


def test_a_next_page_the_test_never_followed_is_not_taken_for_foreign() -> None:
    def page(index: int, target: str, ids: list[str], next_link: str | None) -> Exchange:
        body: dict[str, Any] = {"value": [{"id": i} for i in ids]}
        if next_link:
            body["nextLink"] = next_link
        return Exchange(index, "GET", target, {}, None, 200, {}, body, None)

    workers = "/routing/workers?api-version=2023-11-01"
    own = Exchange(1, "PATCH", "/routing/workers/mine?api-version=2023-11-01", {}, {}, 201, {}, {}, None)
    recording = Recording(
        "synthetic",
        Path("synthetic.json"),
        (
            own,
            page(2, workers, ["mine"], "/routing/workers?continuationToken=t1"),
            page(3, "/routing/workers?continuationToken=t1", ["x"], "/routing/workers?continuationToken=t2"),
            page(4, workers, ["mine"], "/routing/workers?continuationToken=t3"),
        ),
    )

    assert foreign_only_tokens(recording) == frozenset({"t1"})


# --- time shift ---------------------------------------------------------------------------------------


def test_times_in_request_bodies_are_converted_recursively_and_nothing_else() -> None:
    body = {"a": ["2023-11-14T01:04:10.384209Z", {"b": "2023-11-14T01:04:10Z"}], "c": "not a time", "d": 10.0}

    converted = shift_times(body, lambda text: f"<{text}>")

    assert converted == {
        "a": ["<2023-11-14T01:04:10.384209Z>", {"b": "<2023-11-14T01:04:10Z>"}],
        "c": "not a time",
        "d": 10.0,
    }


def test_a_job_scheduled_ahead_in_the_recording_is_scheduled_as_far_ahead_in_the_replay(
    recordings: dict[str, Recording],
) -> None:
    # Unshifted, scheduleAt (2023) would lie in the past: the job would go straight to waitingForActivation
    # and its echo would not be the instant the replay sent.
    result = replay(recordings["test_router_job.test_create_scheduled_job"])

    job_requests = result.results[2:]
    assert [r.exchange.operation for r in job_requests[:3]] == ["PATCH /routing/jobs/{id}"] + [
        "GET /routing/jobs/{id}"
    ] * 2
    assert all(r.matched for r in job_requests), [d.describe() for r in job_requests for d in r.differences]


# --- command line -------------------------------------------------------------------------------------


def test_the_command_line_prints_the_table_and_total_and_exits_0(
    recordings: dict[str, Recording], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--only", GET_QUEUE, "--no-docs"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"{GET_QUEUE}  " in out
    assert "5/5" in out
    assert "TOTAL: 5 of 5 compared requests match (100.0%)" in out


def test_the_command_line_exits_1_on_an_unexpected_difference(
    recordings: dict[str, Recording], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "recordings"
    copy.mkdir()
    source = recordings[GET_QUEUE].file
    text = recording_text(recordings[GET_QUEUE])
    head, _, tail = text.rpartition('"key5": 10.1')  # the last one is in the GET's response
    text = head + '"key5": 10.2' + tail
    (copy / source.name).write_text(text, encoding="utf-8")

    code = main(["--recordings", str(copy), "--no-docs", "--poll-timeout", "0.2"])

    assert code == 1
    assert "UNEXPECTED differences" in capsys.readouterr().out


def test_the_command_line_exits_2_when_there_are_no_recordings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--recordings", str(tmp_path / "absent"), "--no-docs"])

    assert code == 2
    assert "no recordings at" in capsys.readouterr().err
