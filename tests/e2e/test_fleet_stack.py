"""The bot fleet over the whole dev stack: a declared bot is kept registered, anything else is left alone.

The emulator delivers ``RouterWorkerOfferExpired`` and ``RouterWorkerDeregistered`` to the host stand-in's
``on_worker_lifecycle`` (the deployed subscription's filter), which runs ``function_app.py`` through the
worker library with the fleet in ``FLEET_FILE``. Bots labelled ``simulate: missesOffers`` stand in for a bot
too slow to answer: examples/contact-centre-policy.json leaves their offers, so every one of them expires
and Job Router deregisters the bot. Nobody else registers a worker again here (no agent app for them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.communication.jobrouter.models import RouterChannel, RouterWorker

from devstack.demo import demo_event as ev
from devstack.demo.demo_event import DemoEvent
from devstack.demo.hostlog import FleetLine
from devstack.jobrouter.eventgrid import Schema
from tests.e2e.support import LiveStack

QUEUE = "fleet-q"
#: The demo policy leaves this bot's offers: each one expires.
MISSES_OFFERS: Mapping[str, Any] = {"kind": "bot", "level": 1, "simulate": "missesOffers"}
#: A guard that never backs off within a test.
PATIENT = {"maxExpiries": 100, "windowSeconds": 600}
OFFER_SECONDS = 1.0
ONCE_A_YEAR = "0 0 0 1 1 *"
EVERY_SECOND = "* * * * * *"

type StartFleetStack = Callable[..., LiveStack]


def bot(worker_id: str, **fields: Any) -> dict[str, Any]:
    """A fleet entry on QUEUE that misses its offers."""
    return {
        "id": worker_id,
        "queues": [QUEUE],
        "capacity": 1,
        "channels": [{"channelId": "chat", "capacityCostPerJob": 1}],
        "labels": dict(MISSES_OFFERS),
        **fields,
    }


@pytest.fixture
def fleet_stack(tmp_path: Path) -> Iterator[StartFleetStack]:
    """Starts a stack whose function app keeps the given fleet (``FLEET_FILE``), with QUEUE created.

    Its reconciliation timer runs on ``reconcile_schedule``: by default once a year, so that only events
    repair the bots (the app's default, every minute, could fire in the middle of a test).
    """
    started: list[LiveStack] = []

    def start(
        fleet: dict[str, Any],
        schema: Schema = "eventgrid",
        *,
        reconcile_schedule: str = ONCE_A_YEAR,
        worker_idle_seconds: float | None = None,
    ) -> LiveStack:
        path = tmp_path / "fleet.json"
        path.write_text(json.dumps(fleet), encoding="utf-8")
        schedule = {"FLEET_RECONCILE_SCHEDULE": reconcile_schedule}
        live = LiveStack(
            schema, fleet_file=path, host_settings=schedule, worker_idle_seconds=worker_idle_seconds
        )
        live.__enter__()
        started.append(live)
        live.queue(offer_expires_after_seconds=OFFER_SECONDS, queue_id=QUEUE)
        return live

    yield start
    for live in started:
        live.__exit__(None, None, None)


def register(stack: LiveStack, worker_id: str, *, labels: Mapping[str, Any] = MISSES_OFFERS) -> None:
    """Create the worker, registered, as bot() declares it (as whoever deployed the bots did)."""
    stack.client.upsert_worker(
        worker_id,
        RouterWorker(
            capacity=1,
            queues=[QUEUE],
            labels=dict(labels),
            channels=[RouterChannel(channel_id="chat", capacity_cost_per_job=1)],
            available_for_offers=True,
        ),
    )


def registrations_after(stack: LiveStack, worker_id: str, when: datetime) -> list[DemoEvent]:
    return [e for e in stack.events(ev.WORKER_REGISTERED, worker_id=worker_id) if e.time > when]


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_a_declared_bot_whose_offer_expires_is_active_again_within_seconds(
    fleet_stack: StartFleetStack, schema: Schema
) -> None:
    stack = fleet_stack({"version": 1, "guard": PATIENT, "workers": [bot("bot-a")]}, schema)
    register(stack, "bot-a")
    job = stack.job(QUEUE)

    (deregistered, *_) = stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id="bot-a", timeout=10)
    (registered, *_) = stack.wait_for(
        lambda: registrations_after(stack, "bot-a", deregistered.time), timeout=5, what="bot-a registered"
    )
    stack.client.cancel_job(job)

    assert registered.time - deregistered.time < timedelta(seconds=3)
    worker = stack.client.get_worker("bot-a")
    assert worker.available_for_offers is True
    assert (worker.queues, worker.capacity) == ([QUEUE], 1)
    lines = [line for line in stack.fleet_actions(worker_id="bot-a") if line.outcome == "registered"]
    assert lines, stack.fleet_actions(worker_id="bot-a")
    first = lines[0]
    assert (first.action, first.reason, first.fields["schema"]) == ("register", "deregistered", schema)


def test_an_undeclared_worker_is_never_touched(fleet_stack: StartFleetStack) -> None:
    stack = fleet_stack({"version": 1, "guard": PATIENT, "workers": [bot("bot-a")]})
    register(stack, "bot-x")  # misses its offers like bot-a, but the fleet does not list it
    stack.job(QUEUE)

    (deregistered, *_) = stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id="bot-x", timeout=10)
    lines = stack.wait_for(
        lambda: found if len(found := stack.fleet_actions(worker_id="bot-x")) >= 2 else None,
        what="both lifecycle events of bot-x handled",
    )
    time.sleep(1.0)  # time enough for a registration, if there were to be one

    assert {(line.action, line.reason, line.outcome) for line in lines} == {("leave", "undeclared", "left")}
    assert registrations_after(stack, "bot-x", deregistered.time) == []
    assert stack.client.get_worker("bot-x").available_for_offers is False


def test_a_disabled_bot_is_left_deregistered(fleet_stack: StartFleetStack) -> None:
    stack = fleet_stack({"version": 1, "guard": PATIENT, "workers": [bot("bot-off", enabled=False)]})
    register(stack, "bot-off")  # still registered from before it was disabled
    job = stack.job(QUEUE)

    (deregistered, *_) = stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id="bot-off", timeout=10)
    lines = stack.wait_for(
        lambda: found if len(found := stack.fleet_actions(worker_id="bot-off")) >= 2 else None,
        what="both lifecycle events of bot-off handled",
    )
    time.sleep(1.0)
    stack.client.cancel_job(job)

    assert {(line.action, line.reason) for line in lines} == {("leave", "disabled")}
    assert registrations_after(stack, "bot-off", deregistered.time) == []
    assert stack.client.get_worker("bot-off").available_for_offers is False


def test_a_bot_that_keeps_expiring_is_backed_off_instead_of_registered_again(
    fleet_stack: StartFleetStack,
) -> None:
    guard = {"maxExpiries": 2, "windowSeconds": 60, "firstBackoffSeconds": 60, "maxBackoffSeconds": 600}
    stack = fleet_stack({"version": 1, "guard": guard, "workers": [bot("bot-a")]})
    register(stack, "bot-a")
    job = stack.job(QUEUE)

    def back_offs() -> list[FleetLine]:
        return [line for line in stack.fleet_actions(worker_id="bot-a") if line.outcome == "backed-off"]

    stack.wait_for(back_offs, timeout=15, what="a back-off")
    time.sleep(1.5)  # no registration follows, although the job is still waiting
    stack.client.cancel_job(job)

    expired = stack.events(ev.OFFER_EXPIRED, worker_id="bot-a")
    deregistered = stack.events(ev.WORKER_DEREGISTERED, worker_id="bot-a")
    assert registrations_after(stack, "bot-a", deregistered[-1].time) == []
    assert stack.client.get_worker("bot-a").available_for_offers is False
    # Backed off at the second expiry; or at the third when the second expiry's two events raced (Event
    # Grid keeps no order: its Deregistered event was repaired before its OfferExpired event was counted).
    assert len(expired) in (2, 3)
    assert len(registrations_after(stack, "bot-a", expired[0].time)) == len(expired) - 1
    line = max(back_offs(), key=lambda found: int(str(found.fields["expiries"])))
    assert (line.action, line.reason, line.fields["expiries"]) == ("back-off", "flapping", str(len(expired)))
    delay = 60 * 2 ** (len(expired) - 2)  # doubling with each expiry past the second
    until = datetime.fromisoformat(str(line.fields["until"]))
    assert timedelta(seconds=delay - 5) < until - expired[-1].time < timedelta(seconds=delay + 5)


def test_a_bot_whose_queues_were_changed_by_hand_is_repaired_by_the_timer(
    fleet_stack: StartFleetStack,
) -> None:
    stack = fleet_stack(
        {"version": 1, "workers": [bot("bot-a", labels={"kind": "bot", "level": 1})]},
        reconcile_schedule=EVERY_SECOND,
    )
    register(stack, "bot-a", labels={"kind": "bot", "level": 1})
    stack.wait_for(
        lambda: [line for line in stack.fleet_actions(worker_id="bot-a") if line.reason == "in-sync"],
        what="a run that finds bot-a as declared",
    )

    stack.client.upsert_worker("bot-a", RouterWorker(queues=["somewhere-else"]))  # by hand
    changed = time.monotonic()
    repaired = stack.wait_for(
        lambda: [line for line in stack.fleet_actions(worker_id="bot-a") if line.outcome == "repaired"],
        timeout=5,
        what="the drift repaired",
    )

    assert time.monotonic() - changed < 3  # the next run, a second later
    (line,) = repaired
    assert (line.action, line.reason, line.trigger, line.fields["changes"]) == (
        "register",
        "drifted",
        "reconcile",
        "queues",
    )
    worker = stack.client.get_worker("bot-a")
    assert (worker.queues, worker.available_for_offers) == ([QUEUE], True)
    # Served again: a job on its queue is accepted by the function (the demo policy's bots-accept).
    job = stack.job(QUEUE)
    stack.wait_for(lambda: stack.assigned_worker(job), what="the job assigned to bot-a")


def test_the_timer_deregisters_a_disabled_bot_once_and_then_leaves_it_alone(
    fleet_stack: StartFleetStack,
) -> None:
    stack = fleet_stack(
        {"version": 1, "workers": [bot("bot-off", enabled=False)]}, reconcile_schedule=EVERY_SECOND
    )
    register(stack, "bot-off")  # still registered from before it was disabled

    (deregistered, *_) = stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id="bot-off", timeout=5)
    stack.wait_for(
        lambda: len([line for line in stack.fleet_actions() if line.is_run]) >= 4,
        timeout=8,
        what="more runs after the deregistration",
    )

    lines = stack.fleet_actions(worker_id="bot-off")
    assert [line.outcome for line in lines if line.outcome != "left"] == ["deregistered"]
    assert {line.reason for line in lines} == {"disabled"}
    assert registrations_after(stack, "bot-off", deregistered.time) == []
    assert stack.client.get_worker("bot-off").available_for_offers is False


def test_a_bot_deregistered_for_being_idle_is_registered_again_and_a_person_is_not(
    fleet_stack: StartFleetStack,
) -> None:
    """Job Router deregisters a worker idle for 7 days; the emulator is told to do it after 1 s here."""
    idle = {"kind": "bot", "level": 1}
    stack = fleet_stack({"version": 1, "workers": [bot("bot-a", labels=idle)]}, worker_idle_seconds=1.0)
    register(stack, "bot-a", labels=idle)
    register(stack, "agent-x", labels={"kind": "human", "level": 1})  # nobody's fleet

    (bot_out, *_) = stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id="bot-a", timeout=5)
    (person_out, *_) = stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id="agent-x", timeout=5)
    (back, *_) = stack.wait_for(
        lambda: registrations_after(stack, "bot-a", bot_out.time), timeout=5, what="bot-a registered"
    )

    assert back.time - bot_out.time < timedelta(seconds=3)
    assert registrations_after(stack, "agent-x", person_out.time) == []
    assert stack.client.get_worker("agent-x").available_for_offers is False
