"""Spec for the engine's matching index and the change-driven matching pass.

The pass looks only at what changed since the previous one. That must issue exactly the offers a pass over
every queued job and every available worker issues (same jobs, same workers, same order): random sequences
of operations run on two routers side by side, one with the engine's pass and one with a full scan, and
their events must agree after every step; the index must always equal one rebuilt from the store.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.jobrouter.eligibility import candidate
from devstack.jobrouter.engine import Router
from devstack.jobrouter.engine.dispatch import dispatch
from devstack.jobrouter.engine.engine_context import EngineContext
from devstack.jobrouter.engine.matching_index import MatchingIndex
from devstack.jobrouter.engine.offer_expiry import arm_offer_expiry
from devstack.jobrouter.engine.offer_lifecycle import issue_offer
from devstack.jobrouter.errors import RouterApiError
from devstack.jobrouter.event_types import RouterEvent
from devstack.jobrouter.matching import order_candidates
from devstack.jobrouter.store import Record, Store

T0 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
QUEUES = ("q1", "q2")
CHANNELS = ("voice", "chat")
POLICIES: dict[str, dict[str, Any]] = {
    "idle": {"kind": "longestIdle", "maxConcurrentOffers": 1},
    "robin": {"kind": "roundRobin", "maxConcurrentOffers": 2},
    "best": {"kind": "bestWorker", "maxConcurrentOffers": 1},
}


class ManualClock:
    """A clock the test moves by hand (timers armed against it only fire when their delay is 0)."""

    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current


def full_scan_dispatch(ctx: EngineContext) -> None:
    """The reference: every queued job in matching order against every available worker."""
    now = ctx.now()
    jobs = [j for j in ctx.store.all("jobs") if j.body.get("status") == "queued"]
    jobs.sort(key=lambda j: (-int(j.body.get("priority", 1)), str(j.body.get("enqueuedAt", "")), j.seq))
    workers = [w for w in ctx.store.all("workers") if w.body.get("availableForOffers")]
    for job in jobs:
        queue = ctx.store.get("queues", str(job.body.get("queueId")))
        policy = (
            ctx.store.get("distributionPolicies", str(queue.body.get("distributionPolicyId")))
            if queue
            else None
        )
        if queue is None or policy is None or "mode" not in policy.body:
            continue
        mode = policy.body["mode"]
        wanted = int(mode["maxConcurrentOffers"]) - len(job.internal.get("offers", {}))
        if wanted <= 0:
            continue
        found = [
            c for w in workers if (c := candidate(job, w, mode, now, _channel_count(ctx, w, job))) is not None
        ]
        ordered = order_candidates(
            str(mode["kind"]),
            found,
            last_offered=ctx.store.meta.get("roundRobin", {}).get(str(queue.body["id"])),
            descending=bool(mode.get("scoringRuleOptions", {}).get("descendingOrder", True)),
        )
        for chosen in ordered[:wanted]:
            worker = ctx.store.get("workers", chosen.worker_id)
            assert worker is not None
            arm_offer_expiry(ctx, worker, issue_offer(ctx, job, worker, policy, now))
            ctx.store.meta_dict("roundRobin")[str(queue.body["id"])] = chosen.worker_id
    ctx.store.flush()


def _channel_count(ctx: EngineContext, worker: Record, job: Record) -> Callable[[], int]:
    def count() -> int:
        items = [*worker.body.get("offers", []), *worker.body.get("assignedJobs", [])]
        others = [ctx.store.get("jobs", str(i.get("jobId"))) for i in items]
        return sum(
            1 for o in others if o is not None and o.body.get("channelId") == job.body.get("channelId")
        )

    return count


class Twin:
    """One router and the events it published."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: ManualClock, *, full_scan: bool) -> None:
        self.events: list[RouterEvent] = []
        self.router = Router(
            Store(),
            clock=clock,
            publish=self.events.append,
            rng=random.Random(5),
            default_offer_expiry_seconds=3600.0,
        )
        if full_scan:
            self.router.context.run_dispatch = functools.partial(full_scan_dispatch, self.router.context)
        self.router.attach(loop)

    def offer_id(self, worker_id: str, job_id: str) -> str:
        worker = self.router.store.get("workers", worker_id)
        assert worker is not None
        return next(str(o["offerId"]) for o in worker.body["offers"] if o["jobId"] == job_id)

    def assignment_id(self, job_id: str) -> str:
        job = self.router.store.get("jobs", job_id)
        assert job is not None
        return str(next(iter(job.body["assignments"])))


def _normalized(event: RouterEvent) -> tuple[str, str, dict[str, Any]]:
    data = {k: ("*" if k in ("offerId", "assignmentId") else v) for k, v in event.data.items()}
    subject = event.subject
    if "assignmentId" in event.data:
        subject = subject.replace(str(event.data["assignmentId"]), "*")
    return event.event_type, subject, data


def _open_offers(twin: Twin) -> list[tuple[str, str]]:
    return sorted(
        (str(w.body["id"]), str(o["jobId"]))
        for w in twin.router.store.all("workers")
        for o in w.body["offers"]
    )


def _jobs_in(twin: Twin, *statuses: str) -> list[str]:
    return sorted(str(j.body["id"]) for j in twin.router.store.all("jobs") if j.body["status"] in statuses)


def _random_worker(rng: random.Random) -> dict[str, Any]:
    channels = []
    for channel_id in rng.sample(CHANNELS, rng.randint(1, 2)):
        channel: dict[str, Any] = {"channelId": channel_id, "capacityCostPerJob": rng.choice([0, 1, 1, 2])}
        if rng.random() < 0.5:
            channel["maxNumberOfJobs"] = rng.choice([1, 2])
        channels.append(channel)
    return {
        "queues": rng.sample(QUEUES, rng.randint(1, 2)),
        "capacity": rng.choice([0, 1, 2, 2, 3]),
        "channels": channels,
        "labels": {"skill": rng.randint(1, 5), "lang": rng.choice(["en", "fr"])},
        "availableForOffers": rng.random() < 0.75,
    }


def _random_job(rng: random.Random) -> dict[str, Any]:
    job: dict[str, Any] = {
        "queueId": rng.choice(QUEUES),
        "channelId": rng.choice(CHANNELS),
        "priority": rng.choice([1, 1, 2, 3]),
        "labels": {"lang": rng.choice(["en", "fr"])},
    }
    if rng.random() < 0.4:
        job["requestedWorkerSelectors"] = [
            {"key": "skill", "labelOperator": "greaterThanOrEqual", "value": rng.randint(1, 5)}
        ]
    return job


Operation = Callable[[Twin], Any]


def _upsert_worker(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    worker_id, body = f"w{rng.randint(0, 5)}", _random_worker(rng)
    return lambda t: t.router.upsert("workers", worker_id, body)


def _create_job(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    job_id, body = f"j{step}", _random_job(rng)
    return lambda t: t.router.upsert("jobs", job_id, body)


def _accept(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    offers = _open_offers(engine)
    if not offers:
        return None
    worker_id, job_id = rng.choice(offers)
    return lambda t: t.router.accept_offer(worker_id, t.offer_id(worker_id, job_id))


def _decline(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    offers = _open_offers(engine)
    if not offers:
        return None
    worker_id, job_id = rng.choice(offers)
    retry = clock.current + timedelta(seconds=rng.choice([1, 5])) if rng.random() < 0.5 else None
    return lambda t: t.router.decline_offer(worker_id, t.offer_id(worker_id, job_id), retry)


def _end_assignment(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    assigned = _jobs_in(engine, "assigned")
    if not assigned:
        return None
    job_id = rng.choice(assigned)
    if rng.random() < 0.6:
        return lambda t: t.router.close_job(job_id, t.assignment_id(job_id), None, None, None)
    suspend = rng.random() < 0.3
    return lambda t: t.router.unassign_job(job_id, t.assignment_id(job_id), suspend)


def _cancel(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    active = _jobs_in(engine, "queued", "assigned", "created", "waitingForActivation")
    if not active:
        return None
    job_id = rng.choice(active)
    return lambda t: t.router.cancel_job(job_id, None, None)


def _patch_job(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    active = _jobs_in(engine, "queued", "assigned", "created", "waitingForActivation")
    if not active:
        return None
    job_id = rng.choice(active)
    patch: dict[str, Any] = rng.choice(
        [
            {"priority": rng.randint(1, 3)},
            {"queueId": rng.choice(QUEUES)},
            {"channelId": rng.choice(CHANNELS)},
        ]
    )
    return lambda t: t.router.upsert("jobs", job_id, patch)


def _change_policy(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    policy_id, mode = rng.choice(list(POLICIES.items()))
    patch = {"mode": mode | {"maxConcurrentOffers": rng.randint(1, 3)}}
    return lambda t: t.router.upsert("distributionPolicies", policy_id, patch)


def _change_queue(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    queue_id, policy_id = rng.choice(QUEUES), rng.choice(list(POLICIES))
    return lambda t: t.router.upsert("queues", queue_id, {"distributionPolicyId": policy_id})


def _delete_worker(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    worker_id = f"w{rng.randint(0, 5)}"
    return lambda t: t.router.delete("workers", worker_id)


def _let_time_pass(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    clock.current += timedelta(seconds=rng.choice([1, 3, 6]))
    return None


#: (weight, operation builder): a builder returns None when its operation does not apply right now.
OPERATIONS = (
    (22, _upsert_worker),
    (23, _create_job),
    (10, _accept),
    (8, _decline),
    (8, _end_assignment),
    (5, _cancel),
    (8, _patch_job),
    (5, _change_policy),
    (5, _change_queue),
    (3, _delete_worker),
    (7, _let_time_pass),
)


def _next_operation(rng: random.Random, engine: Twin, clock: ManualClock, step: int) -> Operation | None:
    """One random operation (reading the engine's twin, which the reference must match)."""
    (build,) = rng.choices([b for _, b in OPERATIONS], weights=[w for w, _ in OPERATIONS])
    return build(rng, engine, clock, step)


def _run(twin: Twin, operation: Callable[[Twin], Any]) -> str:
    try:
        operation(twin)
    except RouterApiError as exc:
        return type(exc).__name__
    return "ok"


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    for _ in range(8):
        loop.run_until_complete(asyncio.sleep(0))


@pytest.mark.parametrize("seed", range(32))
def test_the_change_driven_pass_issues_the_offers_of_a_full_scan(
    seed: int, loop: asyncio.AbstractEventLoop
) -> None:
    rng, clock = random.Random(seed), ManualClock()
    engine, reference = Twin(loop, clock, full_scan=False), Twin(loop, clock, full_scan=True)
    for twin in (engine, reference):
        for policy_id, mode in POLICIES.items():
            twin.router.upsert(
                "distributionPolicies", policy_id, {"offerExpiresAfterSeconds": 3600, "mode": mode}
            )
        twin.router.upsert("queues", "q1", {"distributionPolicyId": "idle"})
        twin.router.upsert("queues", "q2", {"distributionPolicyId": "robin"})
    for step in range(120):
        operation = _next_operation(rng, engine, clock, step)
        if operation is not None:
            assert _run(engine, operation) == _run(reference, operation), f"step {step}"
        _drain(loop)
        assert [_normalized(e) for e in engine.events] == [_normalized(e) for e in reference.events], (
            f"seed {seed}, step {step}"
        )
        assert engine.router.context.index.layout() == MatchingIndex(engine.router.store).layout()
    for twin in (engine, reference):
        twin.router.close()


def _queue_with_jobs(router: Router, count: int) -> None:
    router.upsert("distributionPolicies", "dp", {"offerExpiresAfterSeconds": 60, "mode": POLICIES["idle"]})
    router.upsert("queues", "q", {"distributionPolicyId": "dp"})
    for n in range(count):
        router.upsert("jobs", f"j{n}", {"queueId": "q", "channelId": "voice", "priority": 1 + n % 3})


def _counting_passes(router: Router) -> list[int]:
    looked_at: list[int] = []
    context = router.context

    def counted() -> None:
        looked_at.append(dispatch(context))

    context.run_dispatch = counted
    return looked_at


def test_a_worker_becoming_available_looks_only_at_the_jobs_it_can_take(
    loop: asyncio.AbstractEventLoop,
) -> None:
    router = Router(Store(), clock=ManualClock(), publish=lambda _: None)
    router.attach(loop)
    _queue_with_jobs(router, 500)
    _drain(loop)
    looked_at = _counting_passes(router)
    worker = {"queues": ["q"], "capacity": 2, "channels": [{"channelId": "voice", "capacityCostPerJob": 1}]}
    router.upsert("workers", "w", worker | {"availableForOffers": True})
    _drain(loop)
    offered = [o["jobId"] for o in router.get("workers", "w").body["offers"]]
    assert (looked_at, offered) == ([2], ["j2", "j5"])  # the two oldest priority-3 jobs, and only them
    router.close()


def test_a_job_queued_while_no_worker_has_room_looks_at_that_job_only(
    loop: asyncio.AbstractEventLoop,
) -> None:
    router = Router(Store(), clock=ManualClock(), publish=lambda _: None)
    router.attach(loop)
    _queue_with_jobs(router, 500)
    _drain(loop)
    looked_at = _counting_passes(router)
    router.upsert("jobs", "late", {"queueId": "q", "channelId": "voice"})
    _drain(loop)
    assert looked_at == [1]
    router.close()


def test_queue_position_and_length_come_from_the_index(loop: asyncio.AbstractEventLoop) -> None:
    router = Router(Store(), clock=ManualClock(), publish=lambda _: None)
    router.attach(loop)
    _queue_with_jobs(router, 9)
    _drain(loop)
    positions = {f"j{n}": router.queue_position(f"j{n}")["position"] for n in range(9)}
    assert positions == {"j2": 1, "j5": 2, "j8": 3, "j1": 4, "j4": 5, "j7": 6, "j0": 7, "j3": 8, "j6": 9}
    assert router.queue_statistics("q")["length"] == 9
    router.close()
