"""Reliability: delivery disorder through the dev stack: duplicates (2-3 copies of every offer event),
issued events arriving after the offer was revoked or expired, delivery past expiry, and a Functions host
restart mid-run. Exactly one effective accept per offer, no failed invocation caused by a duplicate, no
SDK call for an offer already past its expiry.

SDK calls are counted at the emulator: a 1 ms delay rule on the accept/decline path counts its hits.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Final

import pytest

from devstack.demo import demo_event as ev
from devstack.functions_host import FunctionsHost
from devstack.jobrouter.faults import FaultRule
from tests.e2e.support import CONTACT_CENTRE_POLICY, LiveStack
from tests.reliability.accounting import OfferBook
from tests.reliability.figures import record

OFFER_CALLS: Final = r"/routing/workers/[^/]+/offers/[^/]+:(accept|decline)$"
COMMAND: Final = "pytest tests/reliability/test_disorder.py"


@pytest.fixture
def stack() -> Iterator[LiveStack]:
    with LiveStack("eventgrid") as live:
        yield live


def count_calls(stack: LiveStack) -> FaultRule:
    """A do-nothing-but-count rule on every accept/decline call."""
    return stack.call(lambda: stack.emulator.add_fault(method="POST", path=OFFER_CALLS, delay_ms=1))


def calls(stack: LiveStack, rule: FaultRule) -> int:
    rules = stack.call(stack.emulator.faults.rules)
    return next(r.hits for r in rules if r.id == rule.id)


def post_to_host(stack: LiveStack, event: dict[str, object]) -> int:
    """One more copy of an event, straight to the host's webhook (as Event Grid would redeliver it)."""
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        stack.host.webhook_url("on_offer_issued"),
        data=json.dumps([event]).encode(),
        headers={"aeg-event-type": "Notification", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback http only
        return int(response.status)


def issued_events(stack: LiveStack) -> list[dict[str, object]]:
    return [
        e.to_eventgrid()
        for e in stack.call(lambda: stack.emulator.events)
        if e.event_type.endswith(ev.OFFER_ISSUED)
    ]


def test_every_offer_event_delivered_two_or_three_times_is_accepted_once(stack: LiveStack) -> None:
    stack.call(lambda: stack.emulator.set_publisher({"duplicateFraction": 1.0}))  # 2 copies each
    counter = count_calls(stack)
    queue = stack.queue()
    bot = stack.worker(queue, kind="bot", level=3, capacity=12)
    jobs = [stack.job(queue) for _ in range(12)]
    stack.wait_for(lambda: all(stack.assigned_worker(j) for j in jobs), what="every job assigned")
    stack.wait_for(lambda: stack.host.invocations_ok >= 2 * len(jobs), what="both copies invoked")

    third = issued_events(stack)[::2]  # and a third copy of every other offer event
    statuses = [post_to_host(stack, event) for event in third]

    copies = Counter(r.event_id for r in stack.host.records)
    outcomes = Counter(d.outcome for d in stack.decisions())
    accepted_events = Counter(e.job_id for e in stack.events(ev.OFFER_ACCEPTED))
    record(
        "disorder",
        "duplicates",
        {
            "jobs": len(jobs),
            "copies_per_offer_event": dict(Counter(copies.values())),
            "function_outcomes": dict(outcomes),
            "sdk_calls": calls(stack, counter),
            "failed_invocations": stack.host.invocations_failed,
            "accepts_per_job": dict(Counter(accepted_events[j] for j in jobs)),
        },
        command=COMMAND + " -k two_or_three",
    )
    assert statuses == [202] * len(third)
    assert set(copies.values()) == {2, 3}
    assert stack.host.invocations_failed == 0
    assert outcomes["accepted"] == len(jobs)
    assert outcomes["duplicate"] + outcomes["gone"] == sum(copies.values()) - len(jobs)
    assert all(accepted_events[j] == 1 for j in jobs)
    assert all(len(stack.client.get_job(j).assignments or {}) == 1 for j in jobs)
    assert stack.client.get_worker(bot).load_ratio == 1
    assert calls(stack, counter) == len(jobs)  # duplicates in this process never reach the SDK


def test_an_offer_event_delivered_after_the_offer_expired_makes_no_call(stack: LiveStack) -> None:
    counter = count_calls(stack)
    stack.call(lambda: stack.emulator.set_publisher({"reorderWindow": 2.5}))  # held past the 1 s expiry
    queue = stack.queue(offer_expires_after_seconds=1)
    stack.worker(queue, kind="bot", level=3)
    job = stack.job(queue)

    stack.wait_for(lambda: stack.decisions(job_id=job), timeout=15, what="the late delivery handled")

    (expired,) = stack.wait_for_events(ev.OFFER_EXPIRED, job_id=job)
    (issued,) = stack.events(ev.OFFER_ISSUED, job_id=job)
    (line,) = stack.decisions(job_id=job)
    record(
        "disorder",
        "past_expiry",
        {
            "function_outcome": line.outcome,
            "sdk_calls": calls(stack, counter),
            "failed_invocations": stack.host.invocations_failed,
        },
        command=COMMAND + " -k after_the_offer_expired",
    )
    # Past expiry the policy's accept rule (minSecondsLeft) no longer matches: "left"; without a rule
    # in the way the handler's own check says "expired". Either way: no call.
    assert line.outcome in ("expired", "left")
    assert calls(stack, counter) == 0
    assert stack.host.invocations_failed == 0
    assert expired.offer_id == issued.offer_id


def test_an_offer_event_delivered_after_the_offer_was_revoked_is_acknowledged_as_gone(
    stack: LiveStack,
) -> None:
    stack.call(lambda: stack.emulator.set_publisher({"reorderWindow": 1.5}))
    queue = stack.queue(offer_expires_after_seconds=30)
    stack.worker(queue, kind="bot", level=3)
    job = stack.job(queue)
    stack.wait_for(lambda: issued_events(stack), what="the offer issued (its delivery is held)")
    stack.client.cancel_job(job)

    stack.wait_for(lambda: stack.decisions(job_id=job), timeout=15, what="the late delivery handled")
    stack.wait_for_events(ev.OFFER_REVOKED, job_id=job)

    (line,) = stack.decisions(job_id=job)
    revoked = stack.events(ev.OFFER_REVOKED, job_id=job)
    issued = stack.events(ev.OFFER_ISSUED, job_id=job)
    record(
        "disorder",
        "after_revoke",
        {
            "function_outcome": line.outcome,
            "status": line.fields.get("status"),
            "failed_invocations": stack.host.invocations_failed,
            "revoked_before_issued_delivered": len(revoked),
        },
        command=COMMAND + " -k was_revoked",
    )
    assert len(revoked) == 1
    assert len(issued) == 1
    assert line.outcome == "gone"
    assert stack.host.invocations_failed == 0
    assert stack.job_status(job) == "cancelled"
    assert stack.assigned_worker(job) is None


def stop_host(stack: LiveStack) -> tuple[FunctionsHost, int]:
    """Stop the Functions host (deliveries now fail and are retried); returns it and its port."""
    old = stack.host
    port = int(old.url.rsplit(":", 1)[1])
    stack.run(old.stop())
    return old, port


def start_host(stack: LiveStack, old: FunctionsHost, port: int) -> None:
    """A fresh Functions host (a new worker process's memory: nothing settled) on the old port."""
    settings = {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "JOBROUTER_CONNECTION_STRING": f"endpoint={stack.endpoint}/;accesskey={stack.emulator.access_key}",
        "OFFER_POLICY_FILE": str(CONTACT_CENTRE_POLICY),
    }

    async def start() -> None:
        new = FunctionsHost(old.app_dir, settings, "127.0.0.1", port)
        await new.start()
        stack.stack.host = new

    stack.run(start())


# Known dev-stack defect, not the product's: in about 1 run in 10, stopping the host stand-in while Event
# Grid deliveries are in flight leaves one server-side socket that neither aiohttp's shutdown nor
# devstack.web.close_runner (connections, late accepts, asyncio's close_clients) closes; it surfaces as a
# ResourceWarning when collected. Every assertion below still holds in those runs. Tracked in the closing
# note of this stop; remove this mark once the leak is found.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_host_restart_mid_run_loses_no_offer_and_accepts_each_once(stack: LiveStack) -> None:
    stack.call(lambda: stack.emulator.set_publisher({"duplicateFraction": 0.5}))
    counter = count_calls(stack)
    queue = stack.queue()
    bot = stack.worker(queue, kind="bot", level=3, capacity=30)
    jobs = [stack.job(queue) for _ in range(10)]
    failed_before = stack.host.invocations_failed
    old, port = stop_host(stack)
    jobs += [stack.job(queue) for _ in range(10)]  # delivered to a host that is down: retried
    stack.wait_for(
        lambda: stack.call(lambda: stack.emulator.publisher.stats().failures), what="a failed delivery"
    )
    start_host(stack, old, port)
    jobs += [stack.job(queue) for _ in range(10)]

    stack.wait_for(lambda: all(stack.assigned_worker(j) for j in jobs), timeout=30, what="every job assigned")
    stack.call(lambda: stack.emulator.set_publisher({"duplicateFraction": 0.0}))
    stack.run(stack.emulator.publisher.drain(10))

    offers = OfferBook.of((e.type, e.offer_id, e.job_id) for e in stack.events())
    accepted = Counter(e.job_id for e in stack.events(ev.OFFER_ACCEPTED))
    outcomes = Counter(d.outcome for d in stack.decisions())
    record(
        "disorder",
        "host_restart",
        {
            "jobs": len(jobs),
            "function_outcomes": dict(outcomes),
            "offers": dict(offers.by_state()),
            "unaccounted": len(offers.unaccounted()),
            "sdk_calls": calls(stack, counter),
            "failed_invocations": failed_before + stack.host.invocations_failed,
            "deliveries_failed_while_down": stack.call(lambda: stack.emulator.publisher.stats().failures),
        },
        command=COMMAND + " -k host_restart",
    )
    assert offers.unaccounted() == []
    assert all(accepted[j] == 1 for j in jobs)
    assert all(len(stack.client.get_job(j).assignments or {}) == 1 for j in jobs)
    assert stack.client.get_worker(bot).load_ratio == 1
    assert failed_before + stack.host.invocations_failed == 0
    assert outcomes["accepted"] == len(jobs)
