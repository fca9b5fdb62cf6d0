"""The fleet document: valid ones become frozen workers; invalid ones fail naming the worker and field."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from offer_handlers.errors import InvalidFleetError
from offer_handlers.fleet import (
    DEFAULT_RECONCILE_BUDGET,
    NO_FLEET,
    BotWorker,
    FlapGuard,
    Fleet,
    WorkerChannel,
    is_held,
    load_fleet_file,
    load_fleet_text,
    parse_fleet,
)
from tests.fixtures import EXAMPLES_DIR


def bot(**changes: Any) -> dict[str, Any]:
    """A valid worker declaration; a value of ``...`` removes the field."""
    worker: dict[str, Any] = {
        "id": "bot-1",
        "queues": ["support-en"],
        "capacity": 100,
        "channels": [{"channelId": "chat", "capacityCostPerJob": 20, "maxNumberOfJobs": 5}],
        "labels": {"kind": "bot", "level": 2, "vip": False, "score": 0.5},
        "tags": {"owner": "bots-team"},
    }
    for key, value in changes.items():
        if value is ...:
            worker.pop(key, None)
        else:
            worker[key] = value
    return worker


def doc(*workers: Any, **top: Any) -> dict[str, Any]:
    return {"version": 1, "workers": list(workers), **top}


# --- valid documents ---------------------------------------------------------------------------------


def test_a_worker_declaration_becomes_a_frozen_bot_worker_with_every_field() -> None:
    fleet = parse_fleet(doc(bot()))

    assert fleet.workers == (
        BotWorker(
            worker_id="bot-1",
            queues=("support-en",),
            capacity=100,
            channels=(WorkerChannel("chat", 20, 5),),
            labels={"kind": "bot", "level": 2, "vip": False, "score": 0.5},
            tags={"owner": "bots-team"},
            enabled=True,
        ),
    )
    assert fleet.declared("bot-1") is fleet.workers[0]
    assert fleet.declared("agent-ana") is None


def test_optional_fields_take_their_defaults() -> None:
    one_chat = [{"channelId": "chat", "capacityCostPerJob": 1}]
    fleet = parse_fleet(doc(bot(labels=..., tags=..., channels=one_chat)))

    (worker,) = fleet.workers
    assert (dict(worker.labels), dict(worker.tags), worker.enabled) == ({}, {}, True)
    assert worker.channels == (WorkerChannel("chat", 1, None),)
    assert fleet.guard == FlapGuard()
    assert fleet.reconcile_budget == DEFAULT_RECONCILE_BUDGET


def test_the_default_guard_backs_off_after_three_expiries_in_fifteen_minutes_from_30_s_to_10_min() -> None:
    assert FlapGuard() == FlapGuard(
        max_expiries=3,
        window=timedelta(minutes=15),
        first_backoff=timedelta(seconds=30),
        max_backoff=timedelta(minutes=10),
    )


def test_guard_and_reconcile_budget_are_read() -> None:
    fleet = parse_fleet(
        doc(
            guard={"maxExpiries": 5, "windowSeconds": 60, "firstBackoffSeconds": 2, "maxBackoffSeconds": 8},
            reconcile={"budgetSeconds": 12.5},
        )
    )

    assert fleet.guard == FlapGuard(5, timedelta(seconds=60), timedelta(seconds=2), timedelta(seconds=8))
    assert fleet.reconcile_budget == timedelta(seconds=12.5)


def test_a_disabled_worker_is_kept_with_enabled_false() -> None:
    (worker,) = parse_fleet(doc(bot(enabled=False))).workers

    assert worker.enabled is False


def test_an_empty_fleet_declares_no_worker() -> None:
    assert parse_fleet(doc()).workers == ()
    assert NO_FLEET.workers == ()


def test_the_example_fleet_loads_with_an_enabled_and_a_disabled_bot() -> None:
    fleet = load_fleet_file(EXAMPLES_DIR / "fleet.json")

    assert {w.enabled for w in fleet.workers} == {True, False}
    assert len(fleet.by_id) == len(fleet.workers) >= 2


def test_a_fleet_is_immutable() -> None:
    fleet = parse_fleet(doc(bot()))

    with pytest.raises(AttributeError):
        fleet.workers[0].capacity = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        fleet.workers[0].labels["kind"] = "human"  # type: ignore[index]


def test_the_text_loader_reads_json() -> None:
    assert load_fleet_text(json.dumps(doc(bot()))) == parse_fleet(doc(bot()))


# --- invalid documents: every error names the worker (when there is one) and the field -----------------

CASES: list[tuple[str, Any, str | None, str | None, str]] = [
    # (id, document, worker, field, message fragment)
    ("not-an-object", [], None, None, "expected a JSON object"),
    ("no-version", {"workers": []}, None, "version", "missing"),
    ("wrong-version", {"version": 2, "workers": []}, None, "version", "unsupported version 2"),
    ("boolean-version", {"version": True, "workers": []}, None, "version", "unsupported version"),
    ("unknown-top-field", doc(bots=[]), None, "bots", "unknown field"),
    ("no-workers", {"version": 1}, None, "workers", "expected an array"),
    ("workers-not-array", {"version": 1, "workers": {}}, None, "workers", "expected an array"),
    ("worker-not-object", doc("bot-1"), "#1", None, "expected a JSON object"),
    ("no-id", doc(bot(id=...)), "#1", "id", "needs an id"),
    ("empty-id", doc(bot(id="")), "#1", "id", "needs an id"),
    ("id-with-slash", doc(bot(id="bots/1")), "bots/1", "id", "request path"),
    ("id-with-space", doc(bot(id="bot 1")), "bot 1", "id", "request path"),
    ("duplicate-id", doc(bot(), bot()), "bot-1", None, "declared twice"),
    ("unknown-worker-field", doc(bot(totalCapacity=5)), "bot-1", "totalCapacity", "unknown field"),
    ("enabled-not-bool", doc(bot(enabled="no")), "bot-1", "enabled", "true or false"),
    ("no-queues", doc(bot(queues=...)), "bot-1", "queues", "non-empty array"),
    ("empty-queues", doc(bot(queues=[])), "bot-1", "queues", "non-empty array"),
    ("queue-not-string", doc(bot(queues=[1])), "bot-1", "queues", "non-empty strings"),
    ("queue-twice", doc(bot(queues=["q", "q"])), "bot-1", "queues", "same id twice"),
    ("no-capacity", doc(bot(capacity=...)), "bot-1", "capacity", "missing"),
    ("capacity-zero", doc(bot(capacity=0)), "bot-1", "capacity", "between 1 and 2147483647"),
    ("capacity-too-big", doc(bot(capacity=2**31)), "bot-1", "capacity", "between 1 and 2147483647"),
    ("capacity-fraction", doc(bot(capacity=1.5)), "bot-1", "capacity", "whole number"),
    ("capacity-bool", doc(bot(capacity=True)), "bot-1", "capacity", "whole number"),
    ("no-channels", doc(bot(channels=...)), "bot-1", "channels", "non-empty array"),
    ("empty-channels", doc(bot(channels=[])), "bot-1", "channels", "never offered a job"),
    ("channel-not-object", doc(bot(channels=["chat"])), "bot-1", "channels[0]", "expected a JSON object"),
    (
        "channel-no-id",
        doc(bot(channels=[{"capacityCostPerJob": 1}])),
        "bot-1",
        "channels[0].channelId",
        "non-empty string",
    ),
    (
        "channel-twice",
        doc(
            bot(
                channels=[
                    {"channelId": "chat", "capacityCostPerJob": 1},
                    {"channelId": "chat", "capacityCostPerJob": 2},
                ]
            )
        ),
        "bot-1",
        "channels[1].channelId",
        "listed twice",
    ),
    (
        "channel-no-cost",
        doc(bot(channels=[{"channelId": "chat"}])),
        "bot-1",
        "channels[0].capacityCostPerJob",
        "missing",
    ),
    (
        "channel-negative-cost",
        doc(bot(channels=[{"channelId": "chat", "capacityCostPerJob": -1}])),
        "bot-1",
        "channels[0].capacityCostPerJob",
        "between 0 and",
    ),
    (
        "channel-cost-above-capacity",
        doc(bot(capacity=10, channels=[{"channelId": "voice", "capacityCostPerJob": 11}])),
        "bot-1",
        "channels[0].capacityCostPerJob",
        "would ever fit",
    ),
    (
        "channel-max-jobs-zero",
        doc(bot(channels=[{"channelId": "chat", "capacityCostPerJob": 1, "maxNumberOfJobs": 0}])),
        "bot-1",
        "channels[0].maxNumberOfJobs",
        "between 1 and",
    ),
    (
        "channel-unknown-field",
        doc(bot(channels=[{"channelId": "chat", "capacityCostPerJob": 1, "cost": 1}])),
        "bot-1",
        "channels[0].cost",
        "unknown field",
    ),
    ("labels-not-object", doc(bot(labels=["kind"])), "bot-1", "labels", "key/value pairs"),
    ("label-null", doc(bot(labels={"kind": None})), "bot-1", "labels.kind", "string, number or boolean"),
    ("label-array", doc(bot(labels={"kind": ["bot"]})), "bot-1", "labels.kind", "string, number or boolean"),
    ("label-nan", doc(bot(labels={"score": float("nan")})), "bot-1", "labels.score", "finite"),
    ("label-empty-key", doc(bot(labels={"": 1})), "bot-1", "labels", "a key is empty"),
    ("label-id-mismatch", doc(bot(labels={"Id": "bot-2"})), "bot-1", "labels.Id", "sets this label"),
    ("tag-object", doc(bot(tags={"owner": {"team": "x"}})), "bot-1", "tags.owner", "number or boolean"),
    ("hold-tag-declared", doc(bot(tags={"fleetHold": True})), "bot-1", "tags.fleetHold", "never declared"),
    ("guard-not-object", doc(guard=3), None, "guard", "expected a JSON object"),
    ("guard-unknown-field", doc(guard={"max": 3}), None, "guard.max", "unknown field"),
    ("guard-zero-expiries", doc(guard={"maxExpiries": 0}), None, "guard.maxExpiries", "between 1 and 100"),
    ("guard-short-window", doc(guard={"windowSeconds": 1}), None, "guard.windowSeconds", "between 10"),
    (
        "guard-backoff-shrinks",
        doc(guard={"firstBackoffSeconds": 60, "maxBackoffSeconds": 30}),
        None,
        "guard.maxBackoffSeconds",
        "at least firstBackoffSeconds",
    ),
    (
        "guard-backoff-not-number",
        doc(guard={"firstBackoffSeconds": "30s"}),
        None,
        "guard.firstBackoffSeconds",
        "expected a number",
    ),
    ("budget-zero", doc(reconcile={"budgetSeconds": 0}), None, "reconcile.budgetSeconds", "between 1 and"),
    ("reconcile-unknown", doc(reconcile={"every": 60}), None, "reconcile.every", "unknown field"),
    ("description-not-text", doc(description=5), None, "description", "expected a string"),
]


# Each message above, word for word: what the person fixing the fleet reads.
FLEET_MESSAGES: dict[str, str] = {
    "not-an-object": "expected a JSON object",
    "no-version": "missing; this app reads version 1",
    "wrong-version": "unsupported version 2; this app reads version 1",
    "boolean-version": "unsupported version True; this app reads version 1",
    "unknown-top-field": "unknown field; expected one of description, guard, reconcile, version, workers",
    "no-workers": 'expected an array of workers (it may be empty: "workers": [])',
    "workers-not-array": 'expected an array of workers (it may be empty: "workers": [])',
    "worker-not-object": "expected a JSON object",
    "no-id": "every worker needs an id (the Job Router worker id)",
    "empty-id": "every worker needs an id (the Job Router worker id)",
    "id-with-slash": (
        "use at most 256 printable characters, without spaces or '/', '?', '#', '%' (it goes into "
        "the request path)"
    ),
    "id-with-space": (
        "use at most 256 printable characters, without spaces or '/', '?', '#', '%' (it goes into "
        "the request path)"
    ),
    "duplicate-id": "declared twice; worker ids must be unique",
    "unknown-worker-field": (
        "unknown field; expected one of capacity, channels, description, enabled, id, labels, queues, tags"
    ),
    "enabled-not-bool": "expected true or false",
    "no-queues": "expected a non-empty array of non-empty strings",
    "empty-queues": "expected a non-empty array of non-empty strings",
    "queue-not-string": "expected a non-empty array of non-empty strings",
    "queue-twice": "lists the same id twice",
    "no-capacity": "missing: the worker's total capacity, e.g. 100",
    "capacity-zero": "must be between 1 and 2147483647",
    "capacity-too-big": "must be between 1 and 2147483647",
    "capacity-fraction": "expected a whole number",
    "capacity-bool": "expected a whole number",
    "no-channels": (
        'expected a non-empty array like [{"channelId": "chat", "capacityCostPerJob": 20}] (a '
        "worker without channels is never offered a job)"
    ),
    "empty-channels": (
        'expected a non-empty array like [{"channelId": "chat", "capacityCostPerJob": 20}] (a '
        "worker without channels is never offered a job)"
    ),
    "channel-not-object": "expected a JSON object",
    "channel-no-id": "expected a non-empty string",
    "channel-twice": "channel 'chat' is listed twice",
    "channel-no-cost": "missing: the capacity one job on this channel uses",
    "channel-negative-cost": "must be between 0 and 2147483647",
    "channel-cost-above-capacity": (
        "11 is more than the worker's capacity (10), so no job on this channel would ever fit"
    ),
    "channel-max-jobs-zero": "must be between 1 and 2147483647",
    "channel-unknown-field": "unknown field; expected one of capacityCostPerJob, channelId, maxNumberOfJobs",
    "labels-not-object": 'expected an object of key/value pairs, e.g. {"language": "en"}',
    "label-null": "expected a string, number or boolean (null removes nothing here)",
    "label-array": "expected a string, number or boolean (null removes nothing here)",
    "label-nan": "expected a finite number",
    "label-empty-key": "a key is empty",
    "label-id-mismatch": "Job Router sets this label to the worker id ('bot-1'); leave it out",
    "tag-object": "expected a string, number or boolean (null removes nothing here)",
    "hold-tag-declared": (
        "this tag is the operator's switch to take the bot over by hand; it is set on the worker, "
        "never declared"
    ),
    "guard-not-object": "expected a JSON object",
    "guard-unknown-field": (
        "unknown field; expected one of firstBackoffSeconds, maxBackoffSeconds, maxExpiries, windowSeconds"
    ),
    "guard-zero-expiries": "must be between 1 and 100",
    "guard-short-window": "must be between 10 and 86400",
    "guard-backoff-shrinks": "must be at least firstBackoffSeconds (60); the delay only grows",
    "guard-backoff-not-number": "expected a number",
    "budget-zero": "must be between 1 and 600",
    "reconcile-unknown": "unknown field; expected one of budgetSeconds",
    "description-not-text": "expected a string",
}


def test_every_invalid_case_has_its_message_word_for_word() -> None:
    assert set(FLEET_MESSAGES) == {case[0] for case in CASES}


@pytest.mark.parametrize(("case_id", "message"), FLEET_MESSAGES.items(), ids=list(FLEET_MESSAGES))
def test_each_invalid_fleet_error_says_exactly_what_is_wrong(case_id: str, message: str) -> None:
    document = next(case[1] for case in CASES if case[0] == case_id)

    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(copy.deepcopy(document))

    assert caught.value.message == message


@pytest.mark.parametrize(
    ("document", "worker", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_an_invalid_document_fails_naming_the_worker_and_the_field(
    document: Any, worker: str | None, field: str | None, fragment: str
) -> None:
    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(copy.deepcopy(document))

    assert (caught.value.worker, caught.value.field) == (worker, field)
    assert fragment in caught.value.message
    if worker is not None:
        assert f"worker {worker!r}" in str(caught.value)


def test_too_many_workers_are_refused() -> None:
    workers = [bot(id=f"bot-{n}") for n in range(1001)]

    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(doc(*workers))

    assert (caught.value.field, caught.value.message) == (
        "workers",
        "at most 1000 workers (reconciliation reads each one every run)",
    )


def test_a_thousand_workers_are_allowed() -> None:
    assert len(parse_fleet(doc(*(bot(id=f"bot-{n}") for n in range(1000)))).workers) == 1000


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ('{"version": 1, "version": 1, "workers": []}', "version", "appears twice"),
        ('{"version": 1, "workers": [{"id": "b", "capacity": NaN}]}', None, "NaN is not a JSON number"),
        ('{"version": 1, "workers": [}', None, "not valid JSON"),
    ],
    ids=["duplicate-key", "nan", "syntax"],
)
def test_text_that_is_not_strict_json_is_refused(text: str, field: str | None, fragment: str) -> None:
    with pytest.raises(InvalidFleetError) as caught:
        load_fleet_text(text)

    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_an_unreadable_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"

    with pytest.raises(InvalidFleetError, match="cannot read"):
        load_fleet_file(missing)


def test_fleet_equality_ignores_the_derived_index() -> None:
    assert parse_fleet(doc(bot())) == Fleet(workers=parse_fleet(doc(bot())).workers)


def test_an_unreadable_fleet_file_names_the_file_and_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"version": 1, "description": "caf\xe9", "workers": []}')

    with pytest.raises(InvalidFleetError) as caught:
        load_fleet_file(path)

    assert str(caught.value).startswith(f"fleet: cannot read {str(path)!r}: UnicodeDecodeError: ")


# --- the limits of every number, at the edge ---------------------------------------------------------

GUARD_EDGES: list[tuple[str, dict[str, Any], FlapGuard]] = [
    (
        "smallest",
        {"maxExpiries": 1, "windowSeconds": 10, "firstBackoffSeconds": 1, "maxBackoffSeconds": 1},
        FlapGuard(1, timedelta(seconds=10), timedelta(seconds=1), timedelta(seconds=1)),
    ),
    (
        "largest",
        {
            "maxExpiries": 100,
            "windowSeconds": 86_400,
            "firstBackoffSeconds": 3600,
            "maxBackoffSeconds": 86_400,
        },
        FlapGuard(100, timedelta(days=1), timedelta(hours=1), timedelta(days=1)),
    ),
    (
        "first-equals-max",
        {"firstBackoffSeconds": 600, "maxBackoffSeconds": 600},
        FlapGuard(3, timedelta(minutes=15), timedelta(minutes=10), timedelta(minutes=10)),
    ),
]


@pytest.mark.parametrize(("guard", "expected"), [c[1:] for c in GUARD_EDGES], ids=[c[0] for c in GUARD_EDGES])
def test_the_guards_limits_are_inclusive(guard: dict[str, Any], expected: FlapGuard) -> None:
    assert parse_fleet(doc(guard=guard)).guard == expected


@pytest.mark.parametrize(
    ("guard", "field", "message"),
    [
        ({"maxExpiries": 101}, "guard.maxExpiries", "must be between 1 and 100"),
        ({"windowSeconds": 9.5}, "guard.windowSeconds", "must be between 10 and 86400"),
        ({"windowSeconds": 86_400.5}, "guard.windowSeconds", "must be between 10 and 86400"),
        ({"firstBackoffSeconds": 0.5}, "guard.firstBackoffSeconds", "must be between 1 and 3600"),
        ({"firstBackoffSeconds": 3600.5}, "guard.firstBackoffSeconds", "must be between 1 and 3600"),
        ({"maxBackoffSeconds": 0.5}, "guard.maxBackoffSeconds", "must be between 1 and 86400"),
        ({"maxBackoffSeconds": 86_400.5}, "guard.maxBackoffSeconds", "must be between 1 and 86400"),
        ({"windowSeconds": "60"}, "guard.windowSeconds", "expected a number"),
        ({"windowSeconds": True}, "guard.windowSeconds", "expected a number"),
        ({"maxExpiries": 2.0}, "guard.maxExpiries", "expected a whole number"),
        (
            {"firstBackoffSeconds": 60, "maxBackoffSeconds": 59.5},
            "guard.maxBackoffSeconds",
            "must be at least firstBackoffSeconds (60); the delay only grows",
        ),
    ],
    ids=[
        "expiries-over",
        "window-under",
        "window-over",
        "first-under",
        "first-over",
        "max-under",
        "max-over",
        "window-string",
        "window-boolean",
        "expiries-float",
        "max-below-first",
    ],
)
def test_a_guard_number_outside_its_limits_is_refused_exactly(
    guard: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(doc(guard=guard))

    assert (caught.value.field, caught.value.message) == (field, message)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(1, timedelta(seconds=1)), (600, timedelta(minutes=10)), (2.5, timedelta(seconds=2.5))],
)
def test_the_reconcile_budget_may_be_one_second_to_ten_minutes(budget: float, expected: timedelta) -> None:
    assert parse_fleet(doc(reconcile={"budgetSeconds": budget})).reconcile_budget == expected


@pytest.mark.parametrize("budget", [0.5, 600.5])
def test_a_reconcile_budget_outside_its_limits_is_refused(budget: float) -> None:
    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(doc(reconcile={"budgetSeconds": budget}))

    assert (caught.value.field, caught.value.message) == (
        "reconcile.budgetSeconds",
        "must be between 1 and 600",
    )


def test_a_reconcile_section_without_a_budget_keeps_the_default() -> None:
    assert parse_fleet(doc(reconcile={})).reconcile_budget == DEFAULT_RECONCILE_BUDGET


@pytest.mark.parametrize(
    "worker_id",
    ["b" * 256, "bot-X1", "bot.1_a~b", "Bot:1", "ünïcode"],
    ids=["at-the-length-limit", "capital-x", "punctuation", "colon", "non-ascii"],
)
def test_a_worker_id_may_be_any_printable_text_without_path_characters(worker_id: str) -> None:
    assert parse_fleet(doc(bot(id=worker_id))).workers[0].worker_id == worker_id


@pytest.mark.parametrize(
    "worker_id",
    ["b" * 257, "bot\x00", "bot\t1", "bot?1", "bot#1", "bot%1", "a/b"],
    ids=["too-long", "control-character", "tab", "question-mark", "hash", "percent", "slash"],
)
def test_a_worker_id_that_cannot_go_into_a_request_path_is_refused(worker_id: str) -> None:
    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(doc(bot(id=worker_id)))

    assert (caught.value.worker, caught.value.field) == (worker_id, "id")


def test_a_worker_may_have_a_description_but_only_as_text() -> None:
    assert parse_fleet(doc(bot(description="the night bot"))).workers[0].worker_id == "bot-1"
    with pytest.raises(InvalidFleetError) as caught:
        parse_fleet(doc(bot(description=7)))

    assert (caught.value.field, caught.value.message) == ("description", "expected a string")


@pytest.mark.parametrize(
    ("capacity", "cost", "most"),
    [(2**31 - 1, 2**31 - 1, 2**31 - 1), (1, 0, 1)],
    ids=["largest", "smallest"],
)
def test_capacities_and_job_counts_may_reach_their_limits(capacity: int, cost: int, most: int) -> None:
    channel = {"channelId": "chat", "capacityCostPerJob": cost, "maxNumberOfJobs": most}

    (worker,) = parse_fleet(doc(bot(capacity=capacity, channels=[channel]))).workers

    assert (worker.capacity, worker.channels) == (capacity, (WorkerChannel("chat", cost, most),))


HELD: list[tuple[str, object, bool]] = [
    ("absent", None, False),
    ("false", False, False),
    ("zero", 0, False),
    ("zero-float", 0.0, False),
    ("empty", "", False),
    ("the-word-false", "false", False),
    ("the-word-false-shouted-and-padded", " FALSE ", False),
    ("true", True, True),
    ("one", 1, True),
    ("a-ticket", "INC-1", True),
    ("the-word-true", "true", True),
    ("the-word-no", "no", True),
]


@pytest.mark.parametrize(("value", "held"), [c[1:] for c in HELD], ids=[c[0] for c in HELD])
def test_a_worker_is_held_by_any_fleet_hold_value_but_false_zero_or_empty(value: object, held: bool) -> None:
    tags = {} if value is None else {"fleetHold": value}

    assert is_held(tags) is held  # type: ignore[arg-type]
