"""Matching through the real SDK: distribution-mode order, capacity across channels, selectors, bypass."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    BestWorkerMode,
    DistributionMode,
    LongestIdleMode,
    RoundRobinMode,
    RouterWorkerSelector,
)

from devstack.jobrouter import EmulatorThread
from devstack.polling import wait_until
from tests.emulator.helpers import (
    add_job,
    add_worker,
    event_types,
    offers,
    setup_queue,
    wait_offer,
    wait_status,
)


def offered_to(client: JobRouterClient, job_id: str, workers: list[str]) -> str:
    """The worker holding the (single) offer for ``job_id``."""

    def holder() -> str | None:
        for worker_id in workers:
            if any(o.job_id == job_id for o in offers(client, worker_id)):
                return worker_id
        return None

    return wait_until(holder, what=f"an offer for {job_id}")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (LongestIdleMode(), ["c", "a", "b"]),
        (RoundRobinMode(), ["a", "b", "c", "a"]),
    ],
    ids=["longestIdle-idle-longest-first", "roundRobin-by-id-after-the-last"],
)
def test_distribution_mode_order(
    admin: JobRouterAdministrationClient, client: JobRouterClient, mode: DistributionMode, expected: list[str]
) -> None:
    setup_queue(admin, mode=mode)
    for worker_id in ("c", "a", "b"):  # registration order differs from id order
        add_worker(client, worker_id, capacity=10)
        time.sleep(0.01)
    order = []
    for n in range(len(expected)):
        add_job(client, f"j{n}")
        order.append(offered_to(client, f"j{n}", ["a", "b", "c"]))
    assert order == expected


def test_best_worker_offers_the_highest_default_score_first(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, mode=BestWorkerMode())
    add_worker(client, "a", labels={"lang": "fr"})
    add_worker(client, "b", labels={"lang": "en", "skill": "billing"})
    add_worker(client, "c", labels={"lang": "en"})
    order = []
    for n in range(3):  # capacity 1 each: every job takes the best worker still free
        add_job(client, f"j{n}", labels={"lang": "en", "skill": "billing"})
        order.append(offered_to(client, f"j{n}", ["a", "b", "c"]))
    assert order == ["b", "c", "a"]


def test_capacity_is_shared_across_channels(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w", capacity=100, channels=[("voice", 100), ("chat", 20)])
    add_job(client, "chat1", channel_id="chat")
    client.accept_job_offer("w", wait_offer(client, "w", "chat1").offer_id)

    add_job(client, "voice1", channel_id="voice")
    for n in range(2, 7):
        add_job(client, f"chat{n}", channel_id="chat")
    for n in range(2, 6):
        wait_offer(client, "w", f"chat{n}")
    time.sleep(0.2)

    held = sorted(o.job_id for o in offers(client, "w"))
    assert held == ["chat2", "chat3", "chat4", "chat5"]  # 20 assigned + 4 x 20 offered = 100
    assert client.get_worker("w").load_ratio == 1
    assert client.get_job("voice1").status == "queued"


def test_max_number_of_jobs_limits_a_channel(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w", capacity=10, channels=[("chat", 1, 2)])
    for n in range(3):
        add_job(client, f"chat{n}", channel_id="chat")
    wait_offer(client, "w", "chat0")
    wait_offer(client, "w", "chat1")
    time.sleep(0.2)
    assert len(offers(client, "w")) == 2


@pytest.mark.parametrize(
    ("operator", "value", "label", "matches"),
    [
        ("equal", 5, 5, True),
        ("equal", 6, 5, False),
        ("equal", "5", 5, False),
        ("equal", True, True, True),
        ("equal", 1, True, False),
        ("notEqual", 6, 5, True),
        ("notEqual", 5, 5, False),
        ("greaterThan", 4, 5, True),
        ("greaterThan", 5, 5, False),
        ("greaterThanOrEqual", 5, 5, True),
        ("lessThan", 6, 5, True),
        ("lessThan", 5.5, 6, False),
        ("lessThanOrEqual", 5, 5, True),
        ("lessThanOrEqual", 4, 5, False),
        ("greaterThan", 4, "9", False),
    ],
    ids=repr,
)
def test_requested_worker_selector_operators(
    admin: JobRouterAdministrationClient,
    client: JobRouterClient,
    *,
    operator: str,
    value: Any,
    label: Any,
    matches: bool,
) -> None:
    setup_queue(admin)
    add_worker(client, "w", labels={"level": label})
    add_job(
        client,
        "j",
        requested_worker_selectors=[RouterWorkerSelector(key="level", label_operator=operator, value=value)],
    )
    if matches:
        wait_offer(client, "w", "j")
    else:
        wait_status(client, "j", "queued")
        time.sleep(0.15)
        assert offers(client, "w") == []


def test_a_selector_that_expires_stops_constraining_the_match(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(
        client,
        "j",
        requested_worker_selectors=[
            RouterWorkerSelector(key="vip", label_operator="equal", value=True, expires_after_seconds=1.0)
        ],
    )
    wait_status(client, "j", "queued")
    assert offers(client, "w") == []

    wait_offer(client, "w", "j", timeout=5)

    selector = (client.get_job("j").requested_worker_selectors or [])[0]
    assert selector.status == "expired"
    assert selector.expires_at is not None
    assert "RouterJobWorkerSelectorsExpired" in event_types(emu, subject_contains="job/j")


def test_bypass_selectors_matches_workers_that_fail_the_selectors(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, mode=LongestIdleMode(bypass_selectors=True))
    add_worker(client, "w", labels={"lang": "fr"})
    add_job(
        client,
        "j",
        requested_worker_selectors=[RouterWorkerSelector(key="lang", label_operator="equal", value="en")],
    )
    wait_offer(client, "w", "j")


def test_a_worker_must_listen_on_the_queue_and_the_channel(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    setup_queue(admin, queue_id="other", policy_id="dp2")
    add_worker(client, "wrong-queue", queues=["other"])
    add_worker(client, "wrong-channel", channels=[("chat", 1)])
    add_worker(client, "inactive", available=False)
    add_job(client, "j")
    wait_status(client, "j", "queued")
    time.sleep(0.15)
    assert [offers(client, w) for w in ("wrong-queue", "wrong-channel", "inactive")] == [[], [], []]


def test_higher_priority_jobs_are_offered_first(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_job(client, "low", priority=1)
    add_job(client, "high", priority=10)
    wait_status(client, "low", "queued")
    wait_status(client, "high", "queued")
    add_worker(client, "w")
    assert wait_offer(client, "w").job_id == "high"
