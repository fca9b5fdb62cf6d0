"""The reconciliation diff: declared vs. actual, as the merge-patch to apply (or nothing)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from offer_handlers.fleet import BotWorker, WorkerChannel
from offer_handlers.worker_diff import (
    WorkerPatch,
    WorkerState,
    creation_patch,
    deregistration_patch,
    drift,
    registration_patch,
)

DECLARED = BotWorker(
    worker_id="bot-1",
    queues=("support-en", "billing"),
    capacity=100,
    channels=(WorkerChannel("chat", 20, 5), WorkerChannel("voice", 100)),
    labels=MappingProxyType({"kind": "bot", "level": 2, "vip": True}),
    tags=MappingProxyType({"owner": "bots-team"}),
)


def in_sync(**changes: Any) -> WorkerState:
    """The worker as the service returns it for DECLARED (with its Id label), changed by ``changes``."""
    state = WorkerState(
        worker_id="bot-1",
        etag="e1",
        available_for_offers=True,
        state="active",
        queues=("billing", "support-en"),  # the service's order need not be the declaration's
        capacity=100,
        channels=(WorkerChannel("voice", 100), WorkerChannel("chat", 20, 5)),
        labels=MappingProxyType({"Id": "bot-1", "kind": "bot", "level": 2, "vip": True}),
        tags=MappingProxyType({"owner": "bots-team"}),
    )
    return replace(state, **changes)


DRIFT_CASES: list[tuple[str, WorkerState, WorkerPatch]] = [
    ("in-sync", in_sync(), WorkerPatch()),
    ("queue-removed", in_sync(queues=("support-en",)), WorkerPatch(queues=DECLARED.queues)),
    ("queue-added", in_sync(queues=("support-en", "billing", "sales")), WorkerPatch(queues=DECLARED.queues)),
    ("capacity", in_sync(capacity=50), WorkerPatch(capacity=100)),
    ("capacity-missing", in_sync(capacity=None), WorkerPatch(capacity=100)),
    (
        "channel-cost",
        in_sync(channels=(WorkerChannel("voice", 100), WorkerChannel("chat", 10, 5))),
        WorkerPatch(channels=DECLARED.channels),
    ),
    (
        "channel-max-jobs",
        in_sync(channels=(WorkerChannel("voice", 100), WorkerChannel("chat", 20))),
        WorkerPatch(channels=DECLARED.channels),
    ),
    (
        "channel-missing",
        in_sync(channels=(WorkerChannel("chat", 20, 5),)),
        WorkerPatch(channels=DECLARED.channels),
    ),
    (
        "label-changed",
        in_sync(labels={"Id": "bot-1", "kind": "bot", "level": 3, "vip": True}),
        WorkerPatch(labels={"level": 2}),
    ),
    (
        "label-bool-vs-number",
        in_sync(labels={"Id": "bot-1", "kind": "bot", "level": 2, "vip": 1}),
        WorkerPatch(labels={"vip": True}),
    ),
    (
        "label-string-vs-number",
        in_sync(labels={"Id": "bot-1", "kind": "bot", "level": "2", "vip": True}),
        WorkerPatch(labels={"level": 2}),
    ),
    (
        "label-int-equals-float",
        in_sync(labels={"Id": "bot-1", "kind": "bot", "level": 2.0, "vip": True}),
        WorkerPatch(),
    ),
    (
        "label-missing-and-extra",
        in_sync(labels={"Id": "bot-1", "kind": "bot", "level": 2, "team": "x"}),
        WorkerPatch(labels={"vip": True, "team": None}),
    ),
    ("service-id-label-ignored", in_sync(labels={"kind": "bot", "level": 2, "vip": True}), WorkerPatch()),
    ("tag-extra", in_sync(tags={"owner": "bots-team", "note": "x"}), WorkerPatch(tags={"note": None})),
    ("tag-changed", in_sync(tags={"owner": "people"}), WorkerPatch(tags={"owner": "bots-team"})),
    ("hold-tag-ignored", in_sync(tags={"owner": "bots-team", "fleetHold": True}), WorkerPatch()),
    ("availability-ignored", in_sync(available_for_offers=False), WorkerPatch()),
]


@pytest.mark.parametrize(
    ("actual", "expected"), [c[1:] for c in DRIFT_CASES], ids=[c[0] for c in DRIFT_CASES]
)
def test_drift_is_the_patch_of_what_differs(actual: WorkerState, expected: WorkerPatch) -> None:
    assert drift(DECLARED, actual) == expected


def test_a_declared_id_label_is_compared_like_any_other() -> None:
    declared = replace(DECLARED, labels=MappingProxyType({**DECLARED.labels, "Id": "bot-1"}))

    assert drift(declared, in_sync(labels={"kind": "bot", "level": 2, "vip": True})) == WorkerPatch(
        labels={"Id": "bot-1"}
    )


def test_registering_a_deregistered_worker_also_repairs_its_drift_in_the_same_write() -> None:
    patch = registration_patch(DECLARED, in_sync(available_for_offers=False, capacity=1))

    assert patch == WorkerPatch(available_for_offers=True, capacity=100)
    assert patch.changes == ("available", "capacity")


def test_creating_a_missing_worker_sends_the_whole_declaration() -> None:
    patch = creation_patch(DECLARED)

    assert patch == WorkerPatch(
        available_for_offers=True,
        queues=DECLARED.queues,
        capacity=100,
        channels=DECLARED.channels,
        labels=dict(DECLARED.labels),
        tags=dict(DECLARED.tags),
    )
    assert patch.changes == ("available", "queues", "capacity", "channels", "labels", "tags")


def test_deregistration_only_turns_offers_off() -> None:
    assert deregistration_patch() == WorkerPatch(available_for_offers=False)
    assert deregistration_patch().changes == ("available",)


def test_an_empty_patch_changes_nothing() -> None:
    assert WorkerPatch().is_empty
    assert WorkerPatch().changes == ()
    assert not WorkerPatch(tags={"x": None}).is_empty


def test_registering_again_repairs_every_kind_of_drift_in_the_same_write() -> None:
    actual = in_sync(
        available_for_offers=False,
        queues=("sales",),
        channels=(WorkerChannel("chat", 1),),
        labels=MappingProxyType({"Id": "bot-1", "kind": "human"}),
        tags=MappingProxyType({"owner": "someone", "extra": 1}),
    )

    patch = registration_patch(DECLARED, actual)

    assert patch == WorkerPatch(
        available_for_offers=True,
        queues=DECLARED.queues,
        channels=DECLARED.channels,
        labels={"kind": "bot", "level": 2, "vip": True},
        tags={"owner": "bots-team", "extra": None},
    )


def test_registering_a_worker_that_is_available_already_leaves_availability_alone() -> None:
    assert registration_patch(DECLARED, in_sync(capacity=7)) == WorkerPatch(capacity=100)
