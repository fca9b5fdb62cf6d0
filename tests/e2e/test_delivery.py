"""At-least-once delivery end to end: duplicates, a failing Job Router call and Event Grid's redelivery."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from devstack.demo import demo_event as ev
from devstack.functions_host import InvocationRecord
from devstack.jobrouter.eventgrid import DeliveryOutcome, DeliveryRecord
from tests.e2e.support import LiveStack


def test_duplicate_deliveries_give_one_assignment_per_job_and_no_function_failures(
    eg_stack: LiveStack,
) -> None:
    stack = eg_stack
    stack.call(lambda: stack.emulator.set_publisher({"duplicateFraction": 1.0}))
    queue = stack.queue()
    bot = stack.worker(queue, kind="bot", level=3, capacity=4)
    jobs = [stack.job(queue) for _ in range(4)]

    stack.wait_for(lambda: all(stack.assigned_worker(job) for job in jobs), what="every job assigned")
    issued = [e for job in jobs for e in stack.events(ev.OFFER_ISSUED, job_id=job)]
    # Both copies of every offer event reached the function before we look at what it did.
    stack.wait_for(lambda: stack.host.invocations_ok >= 2 * len(issued), what="both copies invoked")

    for job in jobs:
        assert len(stack.client.get_job(job).assignments or {}) == 1
        assert len(stack.events(ev.OFFER_ACCEPTED, job_id=job)) == 1
    assert stack.client.get_worker(bot).load_ratio == 1
    assert stack.host.invocations_failed == 0
    invocations = Counter(r.event_id for r in stack.host.records)
    assert {invocations[e.id] for e in issued} == {2}
    outcomes = Counter(d.outcome for d in stack.decisions())
    assert outcomes["accepted"] == len(jobs)
    assert outcomes["duplicate"] + outcomes["gone"] == len(jobs)


def test_a_503_on_accept_fails_the_invocation_and_the_redelivery_assigns_the_job(
    eg_stack: LiveStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="devstack.jobrouter.eventgrid")
    stack = eg_stack
    queue = stack.queue(offer_expires_after_seconds=20)
    bot = stack.worker(queue, kind="bot", level=1)
    stack.call(
        lambda: stack.emulator.add_fault(
            method="POST", path=rf"/routing/workers/{bot}/offers/[^/]+:accept", status=503
        )
    )
    job = stack.job(queue)

    stack.wait_for(lambda: stack.host.invocations_failed, what="a failed invocation")
    stack.call(stack.emulator.clear_faults)
    stack.wait_for(lambda: stack.assigned_worker(job), what="the job assigned")

    (issued,) = stack.events(ev.OFFER_ISSUED, job_id=job)

    def invocations() -> list[InvocationRecord] | None:
        found = [r for r in stack.host.records if r.event_id == issued.id]
        return found if found[-1].ok else None

    records = stack.wait_for(invocations, what="the redelivered invocation recorded")
    assert not records[0].ok
    assert "503" in (records[0].error or "")
    assert records[-1].ok

    def settled_delivery() -> DeliveryRecord | None:
        # The host records an invocation before its answer reaches the publisher: wait for the attempt to end.
        (found,) = [
            d
            for d in stack.call(lambda: stack.emulator.publisher.deliveries(issued.id))
            if d.subscription.lower() == "functions-host"
        ]
        return found if found.outcome != DeliveryOutcome.PENDING else None

    delivery = stack.wait_for(settled_delivery, what="the host's delivery of the offer to settle")
    assert delivery.attempts == len(records) >= 2  # the host's 500 made the emulator deliver it again
    assert any(
        issued.id in r.getMessage() and "attempt 1 failed (InternalServerError 500)" in r.getMessage()
        for r in caplog.records
        if r.name == "devstack.jobrouter.eventgrid"
    )
    assert delivery.outcome == DeliveryOutcome.DELIVERED
    lines = stack.decisions(job_id=job)
    assert (lines[0].outcome, lines[0].fields.get("status")) == ("error", "503")
    assert lines[-1].outcome == "accepted"
    assert stack.assigned_worker(job) == bot
