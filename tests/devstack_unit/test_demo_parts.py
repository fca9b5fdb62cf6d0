"""The orchestrator's own parts: host-log parsing, the summary and its verdict, the agent app, its webhook."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import ResourceNotFoundError

from devstack.demo import demo_event as ev
from devstack.demo.agent import AgentApp, AgentStats
from devstack.demo.demo_event import DemoEvent, parse_envelope
from devstack.demo.hostlog import (
    DECISION_LOGGER,
    FLEET_ACTION_LOGGER,
    HOST_LOGGER,
    DecisionLogHandler,
    HostSnapshot,
    HostTally,
)
from devstack.demo.scenario import AgentAppSpec, Range, WrapUpSpec
from devstack.demo.summary import PlannedJob, Summary, latency_of, summarize
from devstack.demo.webhook import AgentWebhook
from offer_handlers.decision_log import parse_fields

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

# --- host log -------------------------------------------------------------------------------------


def test_decision_lines_and_invocations_are_read_from_the_host_log() -> None:
    tally = HostTally()
    for line in (
        "2030-01-01 12:00:00,000 INFO offer_handlers.decisions: decision=decline reason=vip-needs-senior "
        "retry_at=2030-01-01T12:00:02+00:00 event_id=e1 offer_id=o1 job_id=j1 worker_id=w1 outcome=declined "
        'elapsed_ms=3.5 schema=eventgrid error="two words"',
        "2030-01-01 12:00:00,001 INFO devstack.functions_host.host: Executed 'on_offer_issued' "
        "(Succeeded, event=e1, 4.0 ms)",
        "2030-01-01 12:00:00,002 INFO devstack.functions_host.host: Executed 'on_offer_issued' "
        "(Failed, event=e2, 1.0 ms): RetryableServiceError(...)",
        "Request method: 'POST'",
    ):
        tally.feed_line(line)

    snapshot = tally.snapshot()
    assert (snapshot.invocations_ok, snapshot.invocations_failed) == (1, 1)
    (decision,) = snapshot.decisions
    assert (decision.outcome, decision.reason, decision.offer_id, decision.elapsed_ms) == (
        "declined",
        "vip-needs-senior",
        "o1",
        3.5,
    )
    assert decision.retry_at == "2030-01-01T12:00:02+00:00"
    assert decision.fields["error"] == "two words"


def test_a_dash_means_a_missing_value_in_a_decision_line() -> None:
    tally = HostTally()
    tally.add_decision_text("decision=leave reason=humans retry_at=- offer_id=o1 outcome=left")

    (line,) = tally.snapshot().decisions
    assert (line.retry_at, line.job_id, line.outcome) == (None, None, "left")


def test_quoted_values_may_hold_spaces_quotes_and_equals_signs() -> None:
    assert parse_fields('a=1 b="x = \\"y\\"" c=-') == {"a": "1", "b": 'x = "y"', "c": None}


def test_fleet_lines_and_fleet_invocations_are_read_apart_from_the_offer_functions() -> None:
    tally = HostTally()
    for line in (
        "2030-01-01 12:00:00,000 INFO offer_handlers.fleet_actions: action=register reason=deregistered "
        "worker_id=bot-1 event_id=e1 trigger=deregistered outcome=registered changes=availableForOffers",
        "2030-01-01 12:00:00,001 INFO devstack.functions_host.host: Executed 'on_worker_lifecycle' "
        "(Succeeded, event=e1, 4.0 ms)",
        "2030-01-01 12:00:00,002 INFO offer_handlers.fleet_actions: action=reconcile reason=timer "
        "worker_id=- event_id=reconcile-1 trigger=reconcile outcome=done workers=3",
        "2030-01-01 12:00:00,003 INFO devstack.functions_host.host: Executed 'reconcile_fleet' "
        "(Failed, event=-, 1.0 ms): RetryableServiceError(...)",
        "2030-01-01 12:00:00,004 INFO devstack.functions_host.host: Executed 'on_offer_issued' "
        "(Succeeded, event=e2, 4.0 ms)",
    ):
        tally.feed_line(line)

    snapshot = tally.snapshot()
    assert (snapshot.invocations_ok, snapshot.invocations_failed) == (1, 0)
    assert (snapshot.fleet_ok, snapshot.fleet_failed) == (1, 1)
    assert snapshot.decisions == ()
    worker, run = snapshot.fleet_actions
    assert (worker.action, worker.outcome, worker.worker_id, worker.trigger) == (
        "register",
        "registered",
        "bot-1",
        "deregistered",
    )
    assert not worker.is_run
    assert run.is_run
    assert run.worker_id is None


def test_an_in_process_host_is_tallied_by_the_logger_each_record_comes_from() -> None:
    tally = HostTally()
    handler = DecisionLogHandler(tally)

    def record(name: str, message: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)

    handler.emit(record(DECISION_LOGGER, _decision("accepted", "o1")))
    handler.emit(record(FLEET_ACTION_LOGGER, "action=leave reason=undeclared worker_id=ana outcome=left"))
    handler.emit(record(HOST_LOGGER, "Executed 'on_worker_lifecycle' (Succeeded, event=e1, 1.0 ms)"))

    snapshot = tally.snapshot()
    assert [d.outcome for d in snapshot.decisions] == ["accepted"]
    assert [f.reason for f in snapshot.fleet_actions] == ["undeclared"]
    assert (snapshot.invocations, snapshot.fleet_ok) == (0, 1)


# --- summary --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([7.0], (1, 7.0, 7.0, 7.0, 7.0)),
        ([float(v) for v in range(1, 101)], (100, 50.5, 95.05, 99.01, 100.0)),
    ],
    ids=["empty", "one-value", "one-to-hundred"],
)
def test_latency_percentiles_are_inclusive_quantiles(
    values: list[float], expected: tuple[float, ...] | None
) -> None:
    stats = latency_of(values)

    if expected is None:
        assert stats is None
    else:
        assert stats is not None
        assert (stats.count, stats.p50, stats.p95, stats.p99, stats.max) == pytest.approx(expected)


def _event(kind: str, at: float, **data: Any) -> DemoEvent:
    return DemoEvent(id=f"{kind}-{at}", type=kind, subject="", time=T0 + timedelta(seconds=at), data=data)


def _decision(
    outcome: str, offer_id: str, *, retry_at: str = "-", worker: str = "bot-1", job: str = "j1"
) -> str:
    return (
        f"decision=x reason=r retry_at={retry_at} offer_id={offer_id} job_id={job} worker_id={worker} "
        f"outcome={outcome}"
    )


def test_the_summary_splits_answers_between_the_function_and_the_agent_app() -> None:
    tally = HostTally()
    tally.add_decision_text(_decision("accepted", "o1"))
    tally.add_decision_text(_decision("left", "o2", worker="ana", job="j2"))
    for _ in range(2):
        tally.add_invocation(ok=True)
    events = [
        _event(ev.OFFER_ISSUED, 0.0, offerId="o1", jobId="j1", workerId="bot-1"),
        _event(ev.OFFER_ACCEPTED, 0.010, offerId="o1", jobId="j1", workerId="bot-1"),
        _event(ev.OFFER_ISSUED, 1.0, offerId="o2", jobId="j2", workerId="ana"),
        _event(ev.OFFER_ACCEPTED, 2.5, offerId="o2", jobId="j2", workerId="ana"),
    ]

    summary = summarize(
        planned=[
            PlannedJob("j1", "standard", frozenset({"assigned"})),
            PlannedJob("j2", "standard", frozenset({"assigned"})),
        ],
        submitted=2,
        final_statuses={"j1": "assigned", "j2": "assigned"},
        events=events,
        host=tally.snapshot(),
        agent=AgentStats(accepted=1),
        roles={"bot-1": "bot", "ana": "human"},
        wraps_up=False,
        elapsed_seconds=3.0,
    )

    latency = dict(summary.latency)
    assert latency["by the function"] is not None
    assert latency["by the function"].p50 == pytest.approx(10.0)
    assert latency["in the agent app"] is not None
    assert latency["in the agent app"].p50 == pytest.approx(1500.0)
    offers = dict(summary.offers)
    assert (
        offers["accepted by the function"],
        offers["accepted in the agent app"],
        offers["left by the function"],
    ) == (1, 1, 1)
    assert summary.ok
    assert summary.reason == "all 2 jobs ended in an expected state (2 assigned)"


def test_the_verdict_fails_naming_every_job_not_in_an_expected_state() -> None:
    planned = [PlannedJob(f"j{i}", "vip", frozenset({"closed"})) for i in range(3)]

    summary = summarize(
        planned=planned,
        submitted=3,
        final_statuses={"j0": "closed", "j1": "queued"},
        events=[],
        host=HostSnapshot(0, 0, ()),
        agent=AgentStats(),
        roles={},
        wraps_up=True,
        elapsed_seconds=1.0,
    )

    assert not summary.ok
    assert [(u.job_id, u.status) for u in summary.unexpected] == [("j1", "queued"), ("j2", None)]
    assert (
        "2 of 3 jobs did not end in an expected state: j1 queued (expected closed), j2 missing"
        in summary.reason
    )


def test_a_decline_for_good_followed_by_a_new_offer_to_the_same_worker_fails_its_path() -> None:
    tally = HostTally()
    tally.add_decision_text(_decision("declined", "o1"))
    events = [
        _event(ev.OFFER_ISSUED, 0.0, offerId="o1", jobId="j1", workerId="bot-1"),
        _event(ev.OFFER_DECLINED, 0.1, offerId="o1", jobId="j1", workerId="bot-1"),
        _event(ev.OFFER_ISSUED, 0.2, offerId="o2", jobId="j1", workerId="bot-1"),
    ]

    summary = summarize(
        planned=[],
        submitted=0,
        final_statuses={},
        events=events,
        host=tally.snapshot(),
        agent=AgentStats(),
        roles={"bot-1": "bot"},
        wraps_up=False,
        elapsed_seconds=1.0,
    )

    (path,) = [p for p in summary.paths if p.name.startswith("declined for good")]
    assert not path.ok
    assert path.note.startswith("1 re-offers")


def _fleet(outcome: str, worker: str, *, reason: str = "r", trigger: str = "deregistered") -> str:
    return f"action=x reason={reason} worker_id={worker} event_id=e trigger={trigger} outcome={outcome}"


def _fleet_summary(tally: HostTally, events: list[DemoEvent], declared: frozenset[str]) -> Summary:
    return summarize(
        planned=[],
        submitted=0,
        final_statuses={},
        events=events,
        host=tally.snapshot(),
        agent=AgentStats(),
        roles={"bot-1": "bot", "ana": "human"},
        wraps_up=False,
        elapsed_seconds=1.0,
        declared=declared,
    )


def test_the_summary_counts_what_the_function_did_for_the_fleet() -> None:
    tally = HostTally()
    tally.add_fleet_text(_fleet("registered", "bot-1"))
    tally.add_fleet_text(_fleet("backed-off", "bot-1", trigger="offer-expired"))
    tally.add_fleet_text(_fleet("repaired", "bot-1", trigger="reconcile"))
    tally.add_fleet_text(_fleet("left", "ana", reason="undeclared"))
    tally.add_fleet_text("action=reconcile reason=timer worker_id=- trigger=reconcile outcome=done")
    events = [_event(ev.OFFER_EXPIRED, 0.0, offerId="o1", jobId="j1", workerId="bot-1")]

    summary = _fleet_summary(tally, events, frozenset({"bot-1"}))

    fleet = dict(summary.fleet)
    assert (fleet["bots registered again"], fleet["backed off (flapping)"]) == (1, 1)
    assert (fleet["drift repaired (reconciliation)"], fleet["left alone: undeclared"]) == (1, 1)
    assert fleet["reconciliation runs"] == 1
    paths = {p.name: p for p in summary.paths}
    again = paths["bot's offer expired, registered again by the function"]
    assert (again.count, again.ok) == (1, True)
    assert again.note == "1 offers to declared bots expired; 1 back-offs (flapping guard)"
    assert paths["only declared bots written by the function"].ok


def test_a_write_to_an_undeclared_worker_fails_its_path() -> None:
    tally = HostTally()
    tally.add_fleet_text(_fleet("registered", "ana"))

    summary = _fleet_summary(tally, [], frozenset({"bot-1"}))

    paths = {p.name: p for p in summary.paths}
    touched = paths["only declared bots written by the function"]
    assert (touched.ok, touched.note) == (False, "ana")


def test_without_a_fleet_the_summary_has_no_fleet_rows_or_paths() -> None:
    tally = HostTally()
    tally.add_fleet_text(_fleet("registered", "bot-1"))

    summary = _fleet_summary(tally, [], frozenset())

    assert summary.fleet == ()
    assert not [p for p in summary.paths if "function" in p.name and "registered" in p.name]


# --- agent app ------------------------------------------------------------------------------------


class FakeRouter:
    """``RouterActions`` that records calls; ``accept_error`` is raised by every accept."""

    def __init__(self, accept_error: Exception | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.accept_error = accept_error

    async def accept(self, worker_id: str, offer_id: str) -> None:
        self.calls.append(("accept", worker_id, offer_id))
        if self.accept_error is not None:
            raise self.accept_error

    async def register(self, worker_id: str) -> None:
        self.calls.append(("register", worker_id))

    async def complete_and_close(self, job_id: str, assignment_id: str) -> None:
        self.calls.append(("close", job_id, assignment_id))


def _agent(router: FakeRouter, *, share: float = 1.0, wrap_up: bool = False) -> AgentApp:
    spec = AgentAppSpec(accept_share=share, answer_delay=Range(0.05, 0.05), re_register_after_seconds=0.01)
    return AgentApp(
        router,
        humans={"ana": spec},
        re_register={"ana": 0.01, "bot-1": 0.01},
        wrap_up=WrapUpSpec(Range(0.01, 0.01)) if wrap_up else None,
        seed=1,
    )


def _offer(kind: str, offer_id: str = "o1", worker: str = "ana", job: str = "j1", **extra: Any) -> DemoEvent:
    return _event(kind, 0.0, offerId=offer_id, jobId=job, workerId=worker, **extra)


def _drive(agent: AgentApp, *steps: DemoEvent | float) -> None:
    async def run() -> None:
        for step in steps:
            if isinstance(step, float):
                await asyncio.sleep(step)
            else:
                agent.on_event(step)
        await asyncio.sleep(0.15)
        await agent.close()

    asyncio.run(run())


def test_the_agent_app_accepts_a_human_offer_after_its_delay() -> None:
    router = FakeRouter()
    agent = _agent(router)

    _drive(agent, _offer(ev.OFFER_ISSUED))

    assert router.calls == [("accept", "ana", "o1")]
    assert agent.stats.accepted == 1


def test_the_agent_app_never_answers_a_bots_offer() -> None:
    router = FakeRouter()

    _drive(_agent(router), _offer(ev.OFFER_ISSUED, worker="bot-1"))

    assert router.calls == []


def test_an_offer_declined_before_the_agent_answers_is_withdrawn_from_the_app() -> None:
    router = FakeRouter()
    agent = _agent(router)

    _drive(agent, _offer(ev.OFFER_ISSUED), 0.01, _offer(ev.OFFER_DECLINED))

    assert router.calls == []
    assert agent.stats.withdrawn == 1


def test_an_offer_gone_when_the_agent_accepts_counts_as_late() -> None:
    router = FakeRouter(accept_error=ResourceNotFoundError("gone"))
    agent = _agent(router)

    _drive(agent, _offer(ev.OFFER_ISSUED))

    assert (agent.stats.accepted, agent.stats.late, agent.stats.errors) == (0, 1, 0)


def test_with_no_accept_share_the_agent_lets_every_offer_expire() -> None:
    router = FakeRouter()
    agent = _agent(router, share=0.0)

    _drive(agent, _offer(ev.OFFER_ISSUED), _offer(ev.OFFER_ISSUED, offer_id="o2"))

    assert router.calls == []
    assert agent.stats.let_expire == 2


def test_a_deregistered_worker_is_registered_again_once() -> None:
    router = FakeRouter()
    agent = _agent(router)
    deregistered = _event(ev.WORKER_DEREGISTERED, 0.0, workerId="bot-1")

    _drive(agent, deregistered, deregistered)

    assert router.calls == [("register", "bot-1")]
    assert agent.stats.re_registered == 1


def test_an_accepted_job_is_completed_and_closed_once_with_a_wrap_up() -> None:
    router = FakeRouter()
    agent = _agent(router, wrap_up=True)
    accepted = _offer(ev.OFFER_ACCEPTED, worker="bot-1", assignmentId="a1")

    _drive(agent, accepted, accepted)

    assert router.calls == [("close", "j1", "a1")]
    assert agent.stats.wrapped_up == 1


def test_the_same_seed_makes_the_same_accept_or_expire_choices() -> None:
    def choices(seed: int) -> list[tuple[str, ...]]:
        router = FakeRouter()
        spec = AgentAppSpec(accept_share=0.5, answer_delay=Range(0.01, 0.01), re_register_after_seconds=0)
        agent = AgentApp(router, humans={"ana": spec}, re_register={}, wrap_up=None, seed=seed)
        _drive(agent, *(_offer(ev.OFFER_ISSUED, offer_id=f"o{i}", job=f"j{i}") for i in range(12)))
        return router.calls

    assert choices(3) == choices(3)
    assert 0 < len(choices(3)) < 12


# --- the agent webhook ----------------------------------------------------------------------------


def webhook_run(fn: Any) -> tuple[Any, list[DemoEvent]]:
    """Run ``await fn(webhook, session)`` against a started :class:`AgentWebhook`: (result, events)."""
    received: list[DemoEvent] = []

    async def main() -> Any:
        webhook = AgentWebhook(received.append)
        await webhook.start()
        try:
            async with aiohttp.ClientSession() as session:
                return await fn(webhook, session)
        finally:
            await webhook.close()

    return asyncio.run(main()), received


_EG_EVENT = {
    "id": "e1",
    "topic": "/t",
    "subject": "worker/w/job/j",
    "eventType": "Microsoft.Communication.RouterWorkerOfferIssued",
    "eventTime": "2030-01-01T12:00:00.1234567Z",
    "dataVersion": "1.0",
    "metadataVersion": "1",
    "data": {"offerId": "o1", "jobId": "j", "workerId": "w"},
}
_CE_EVENT = {
    "specversion": "1.0",
    "id": "e2",
    "source": "/t",
    "subject": "worker/w/job/j",
    "type": "Microsoft.Communication.RouterWorkerOfferIssued",
    "time": "2030-01-01T12:00:00Z",
    "data": {"offerId": "o2", "jobId": "j", "workerId": "w"},
}


@pytest.mark.parametrize(
    "body",
    [[{**_EG_EVENT, "data": {"validationCode": "c1"}}], {**_CE_EVENT, "data": {"validationCode": "c1"}}],
    ids=["eventgrid", "cloudevents"],
)
def test_the_agent_webhook_answers_the_validation_handshake(body: Any) -> None:
    async def handshake(webhook: AgentWebhook, session: aiohttp.ClientSession) -> Any:
        headers = {"aeg-event-type": "SubscriptionValidation"}
        async with session.post(webhook.url, data=json.dumps(body), headers=headers) as response:
            return response.status, await response.json()

    (status, answer), received = webhook_run(handshake)

    assert (status, answer, received) == (200, {"validationResponse": "c1"}, [])


def test_the_agent_webhook_hands_over_each_event_once_in_either_schema() -> None:
    async def deliver(webhook: AgentWebhook, session: aiohttp.ClientSession) -> list[int]:
        statuses = []
        for body in ([_EG_EVENT], _CE_EVENT, [_EG_EVENT]):
            headers = {"aeg-event-type": "Notification"}
            async with session.post(webhook.url, data=json.dumps(body), headers=headers) as response:
                statuses.append(response.status)
        return statuses

    statuses, received = webhook_run(deliver)

    assert statuses == [200, 200, 200]
    assert [(e.id, e.type, e.offer_id) for e in received] == [
        ("e1", ev.OFFER_ISSUED, "o1"),
        ("e2", ev.OFFER_ISSUED, "o2"),
    ]
    assert received[0].time == datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        ([], "an event must be a JSON object"),
        ({**_EG_EVENT, "id": ""}, "has no id"),
        ({**_EG_EVENT, "eventTime": "yesterday"}, "is not ISO 8601"),
        ({**_EG_EVENT, "eventTime": "2030-01-01T12:00:00"}, "has no time zone"),
        ({**_CE_EVENT, "data": [1]}, "data must be a JSON object"),
    ],
    ids=["not-an-object", "no-id", "bad-time", "naive-time", "data-not-object"],
)
def test_a_malformed_envelope_is_refused_with_the_reason(envelope: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_envelope(envelope)
