"""Reliability: the fault matrix: every Job Router failure on accept and on decline, through the dev stack.

One stack, one queue and bot worker per case, all cases at once. The emulator injects the fault on that
worker's accept or decline path; the contract says what must follow (README.md, "The outcome contract"):

* retryable (429 + Retry-After, 500, 503, read timeout, dropped connection, malformed body): the invocation
  fails, Event Grid redelivers, and the offer is answered in the end;
* settled (404, 409): acknowledged at once with outcome ``gone``, no redelivery; the offer then expires;
* configuration (401, 403): the invocation fails with a ConfigurationError naming the setting; the offer
  expires unanswered.

Afterwards every offer the emulator issued has exactly one final state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest

from devstack.demo import demo_event as ev
from tests.e2e.support import LiveStack
from tests.reliability.accounting import OfferBook
from tests.reliability.figures import record


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    kind: str  # retryable | settled | configuration
    spec: dict[str, Any]


# SDK retries 2 times per call, so 3 faulted attempts fail one invocation; the redelivery gets through.
FAULTS: Final = [
    Fault("429+Retry-After", "retryable", {"status": 429, "retry_after": 0.1, "times": 3}),
    Fault("500", "retryable", {"status": 500, "times": 3}),
    Fault("503", "retryable", {"status": 503, "times": 3}),
    Fault("read-timeout", "retryable", {"delay_ms": 1500, "times": 3}),
    Fault("dropped-connection", "retryable", {"drop": True, "times": 3}),
    Fault("malformed-body", "retryable", {"status": 200, "body": "{not json", "times": 1}),
    Fault("401", "configuration", {"status": 401}),
    Fault("403", "configuration", {"status": 403}),
    Fault("404", "settled", {"status": 404}),
    Fault("409", "settled", {"status": 409}),
]
ACTIONS: Final = ("accept", "decline")
SHORT_EXPIRY: Final = 3.0  # seconds: offers that nobody answers expire quickly
LONG_EXPIRY: Final = 30.0


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    # One attempt may take 1 s (the read-timeout case delays 1.5 s).
    with pytest.MonkeyPatch.context() as patch:
        import offer_handlers.client

        real = offer_handlers.client.build_responder
        patch.setattr(
            offer_handlers.client,
            "build_responder",
            lambda settings, **kw: real(settings, **{**kw, "logging_enable": True}),
        )
        with LiveStack("eventgrid", host_settings={"JOBROUTER_REQUEST_TIMEOUT_SECONDS": "1"}) as live:
            yield live


@dataclass
class Case:
    fault: Fault
    action: str
    worker: str = ""
    job: str = ""


def start_case(stack: LiveStack, fault: Fault, action: str) -> Case:
    expiry = LONG_EXPIRY if fault.kind == "retryable" else SHORT_EXPIRY
    queue = stack.queue(offer_expires_after_seconds=expiry)
    worker = stack.worker(queue, kind="bot", level=3)
    stack.call(
        lambda: stack.emulator.add_fault(
            method="POST", path=rf"/routing/workers/{worker}/offers/[^/]+:{action}", **fault.spec
        )
    )
    # The contact-centre policy: a bot accepts; a job that requires a human is declined for good.
    job = stack.job(queue, requires_human=action == "decline")
    return Case(fault, action, worker, job)


def book(stack: LiveStack) -> OfferBook:
    return OfferBook.of((e.type, e.offer_id, e.job_id) for e in stack.events())


def settled(stack: LiveStack, case: Case) -> bool:
    offers = book(stack)
    ids = offers.for_job(case.job)
    if not ids or any(offers.state(o) == "open" for o in ids):
        return False
    if case.fault.kind != "retryable":
        return True
    wanted = "accepted" if case.action == "accept" else "declined"
    outcomes = [d.outcome for d in stack.decisions(job_id=case.job)]
    # The function has answered (or found the offer answered already, after a timed-out call got through).
    return any(offers.state(o) == wanted for o in ids) and bool(outcomes) and outcomes[-1] in (wanted, "gone")


def host_attempts(stack: LiveStack, event_id: str) -> int:
    """How many times the emulator tried to deliver one event to the Functions host."""
    records = stack.call(lambda: stack.emulator.publisher.deliveries(event_id))
    return sum(d.attempts for d in records if d.subscription.lower() == "functions-host")


def test_every_fault_on_accept_and_decline_ends_as_the_contract_promises(stack: LiveStack) -> None:
    cases = [start_case(stack, fault, action) for fault in FAULTS for action in ACTIONS]

    stack.wait_for(lambda: all(settled(stack, c) for c in cases), timeout=90, what="every case settled")

    offers = book(stack)
    rows = []
    problems = []
    for case in cases:
        ids = offers.for_job(case.job)
        issued = stack.events(ev.OFFER_ISSUED, job_id=case.job)
        event_ids = {e.id for e in issued}
        outcomes = [d.outcome for d in stack.decisions(job_id=case.job)]
        failed = sum(1 for r in stack.host.records if r.event_id in event_ids and not r.ok)
        attempts = sum(host_attempts(stack, e.id) for e in issued)
        states = Counter(offers.state(o) for o in ids)
        errors = {d.fields.get("error") for d in stack.decisions(job_id=case.job) if d.outcome == "error"}
        statuses = {d.fields.get("status") for d in stack.decisions(job_id=case.job) if d.outcome == "error"}
        rows.append(
            {
                "fault": case.fault.name,
                "action": case.action,
                "kind": case.fault.kind,
                "function_outcomes": outcomes,
                "failed_invocations": failed,
                "deliveries": attempts,
                "offer_states": dict(states),
                "errors": sorted(e for e in errors if e),
            }
        )
        wanted = "accepted" if case.action == "accept" else "declined"
        match case.fault.kind:
            case "retryable":
                ok = (
                    failed >= 1
                    and states[wanted] == 1
                    and "error" in outcomes
                    and outcomes[-1] in (wanted, "gone")
                    and errors == {"RetryableServiceError"}
                )
            case "settled":
                ok = failed == 0 and outcomes == ["gone"] and attempts == 1 and set(states) == {"expired"}
            case _:
                ok = (
                    failed >= 1
                    and set(outcomes) <= {"error", "expired", "left"}  # "left": too late for the accept rule
                    and errors == {"ConfigurationError"}
                    and statuses == {case.fault.name}
                    and set(states) == {"expired"}
                )
        if not ok:
            problems.append(rows[-1])
    unaccounted = offers.unaccounted()
    record("faults", "matrix", rows, command="pytest tests/reliability/test_faults.py")
    record(
        "faults",
        "offers",
        {"issued": len(offers.issued), "by_state": dict(offers.by_state()), "unaccounted": len(unaccounted)},
        command="pytest tests/reliability/test_faults.py",
    )
    assert problems == [], problems
    assert unaccounted == []
    accepted = [c for c in cases if c.action == "accept" and c.fault.kind == "retryable"]
    for case in accepted:
        assert stack.assigned_worker(case.job) == case.worker
