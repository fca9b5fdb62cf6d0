"""The offer flows end to end, with each Event Grid schema.

The real SDK creates workers and jobs in the emulator; the emulator delivers ``RouterWorkerOfferIssued`` to
the Functions host stand-in, which runs ``function_app.py`` through the worker library with
examples/contact-centre-policy.json; the function answers through the SDK over HTTP; the simulated agent app
answers what the function leaves. Labels follow examples/scenario.json: ``kind`` bot/human, ``level``
(VIP jobs need 3+), ``requiresHuman``.
"""

from __future__ import annotations

from datetime import datetime

from devstack.demo import demo_event as ev
from tests.e2e.support import LiveStack, human


def test_a_bots_offer_is_accepted_and_the_job_assigned_before_the_offer_expires(stack: LiveStack) -> None:
    queue = stack.queue(offer_expires_after_seconds=5)
    bot = stack.worker(queue, kind="bot", level=1)
    job = stack.job(queue)

    (accepted,) = stack.wait_for_events(ev.OFFER_ACCEPTED, job_id=job)
    (issued,) = stack.events(ev.OFFER_ISSUED, job_id=job)

    assert accepted.worker_id == bot
    assert accepted.offer_id == issued.offer_id
    assert accepted.time < datetime.fromisoformat(str(issued.data["expiresOn"]))
    assert stack.assigned_worker(job) == bot
    (decision,) = stack.wait_for(lambda: stack.decisions(job_id=job), what="the function's decision line")
    assert (decision.decision, decision.reason, decision.outcome) == ("accept", "bots-accept", "accepted")
    assert decision.fields["schema"] == stack.options.schema  # the function saw the subscription's schema


def test_a_decline_with_retry_is_offered_again_after_the_retry_time(stack: LiveStack) -> None:
    queue = stack.queue()
    junior_bot = stack.worker(queue, kind="bot", level=1)
    job = stack.job(queue, vip=True)

    first, second = stack.wait_for_events(ev.OFFER_ISSUED, 2, job_id=job, timeout=10)
    stack.client.cancel_job(job)  # stop the decline-retry cycle

    decline = next(d for d in stack.decisions(job_id=job) if d.offer_id == first.offer_id)
    assert (decline.reason, decline.outcome) == ("vip-needs-senior", "declined")
    assert decline.retry_at is not None
    (declined,) = [e for e in stack.events(ev.OFFER_DECLINED, job_id=job) if e.offer_id == first.offer_id]
    assert second.worker_id == junior_bot
    assert second.time >= datetime.fromisoformat(decline.retry_at) > declined.time


def test_a_decline_for_good_is_never_offered_to_that_worker_again(stack: LiveStack) -> None:
    queue = stack.queue()
    bot = stack.worker(queue, kind="bot", level=3, capacity=3)
    job = stack.job(queue, requires_human=True)
    (declined,) = stack.wait_for_events(ev.OFFER_DECLINED, job_id=job)
    (decision,) = stack.wait_for(lambda: stack.decisions(job_id=job), what="the function's decision line")
    assert (decision.reason, decision.outcome, decision.retry_at) == ("requires-human", "declined", None)

    # The bot keeps free capacity and stays registered; a person who joins later gets the job.
    person = stack.worker(queue, kind="human", level=3, answers=human(accept_share=1.0))
    stack.wait_for(lambda: stack.assigned_worker(job), what="the job assigned")

    assert stack.assigned_worker(job) == person
    assert [e.worker_id for e in stack.events(ev.OFFER_ISSUED, job_id=job)] == [bot, person]
    assert declined.worker_id == bot


def test_a_left_offer_is_accepted_in_the_agent_app(stack: LiveStack) -> None:
    queue = stack.queue()
    person = stack.worker(queue, kind="human", level=2, answers=human(accept_share=1.0, delay=0.2))
    job = stack.job(queue)

    (accepted,) = stack.wait_for_events(ev.OFFER_ACCEPTED, job_id=job)

    (decision,) = stack.wait_for(lambda: stack.decisions(job_id=job), what="the function's decision line")
    assert (decision.decision, decision.reason, decision.outcome) == (
        "leave",
        "humans-answer-in-their-app",
        "left",
    )
    assert accepted.worker_id == person
    assert stack.assigned_worker(job) == person
    assert stack.agent is not None
    assert stack.agent.stats.accepted == 1


def test_a_left_offer_that_nobody_answers_expires_and_the_worker_is_deregistered(stack: LiveStack) -> None:
    queue = stack.queue(offer_expires_after_seconds=1)
    person = stack.worker(queue, kind="human", level=2, answers=human(accept_share=0.0))
    job = stack.job(queue)

    (expired,) = stack.wait_for_events(ev.OFFER_EXPIRED, job_id=job, timeout=5)
    stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id=person, timeout=5)

    assert expired.worker_id == person
    worker = stack.client.get_worker(person)
    assert (worker.state, worker.available_for_offers, worker.offers) == ("inactive", False, [])
    assert stack.job_status(job) == "queued"
    assert [d.outcome for d in stack.decisions(job_id=job)] == ["left"]


def test_a_worker_deregistered_on_expiry_is_registered_again_and_offered_the_job_again(
    stack: LiveStack,
) -> None:
    queue = stack.queue(offer_expires_after_seconds=1)
    person = stack.worker(
        queue, kind="human", level=2, answers=human(accept_share=0.0), re_register_after=0.1
    )
    job = stack.job(queue)

    stack.wait_for_events(ev.WORKER_DEREGISTERED, worker_id=person, timeout=5)
    registered = stack.wait_for_events(ev.WORKER_REGISTERED, 2, worker_id=person, timeout=5)
    offers = stack.wait_for_events(ev.OFFER_ISSUED, 2, job_id=job, timeout=5)
    stack.client.cancel_job(job)

    assert registered[1].time > stack.events(ev.WORKER_DEREGISTERED, worker_id=person)[0].time
    assert [o.worker_id for o in offers[:2]] == [person, person]
    assert offers[1].time > registered[1].time
