"""Reliability: the open-loop load, every job submitted at once, without and then with the bot fleet.

Through the dev stack as processes (emulator, Functions host stand-in running ``function_app.py``), 20 bots
of the demo policy's kind (room for every job between them) take every job, all submitted at once (32
submissions in flight, nothing waits for the function; the scenario of RELIABILITY.md's first stall), with
offers that live OFFER_SECONDS. One worker process with THREADS threads falls behind: offers expire while it
is saturated, and Job Router deregisters each bot at its first expiry (revoking its other offers).
(Holding the bots until every job is queued and registering them together is no test of the function here:
the emulator's one matching pass for 10,000 offers takes longer than an offer lives on a loaded 2-core
machine, so every offer reaches the function expired.)

- **Fleet off** (no fleet declared; nothing registers a bot again): routing stops with jobs queued and
  every bot deregistered, the stall RELIABILITY.md first reported.
- **Fleet on** (the 20 bots declared in a fleet with the default flapping guard, ``on_worker_lifecycle``
  subscribed, the reconciliation timer on its default schedule): every job ends assigned exactly once,
  and the emulator's state, its event log and the function's decision log reconcile with nothing
  unexplained (``test_load.reconcile``).

Both run in the same test, fleet off first; ``record`` stores the figures for RELIABILITY.md (section
"Open-loop load and the bot fleet").
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from azure.communication.jobrouter.aio import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    DistributionPolicy,
    LongestIdleMode,
    RouterChannel,
    RouterJob,
    RouterQueue,
    RouterWorker,
)
from azure.core.credentials import AzureKeyCredential

from devstack.demo import demo_event as ev
from devstack.demo.demo_event import DemoEvent
from devstack.demo.process_stack import ProcessStack
from devstack.demo.run import event_log_limit
from devstack.demo.stack import OFFER_SUBSCRIPTION, StackInfo, StackOptions
from devstack.demo.webhook import AgentWebhook
from devstack.polling import wait_until_async
from offer_handlers.decision_log import DecisionRecord
from tests.e2e.support import CONTACT_CENTRE_POLICY
from tests.reliability.figures import record
from tests.reliability.secrets_scan import SecretScanner
from tests.reliability.test_load import Admin, reconcile

WORKERS: Final = 20
CONCURRENCY: Final = 32
# As in the closed-loop load test. The worker process gets a small thread pool, so that it answers far
# fewer offers than there are jobs within that time whatever else runs on the machine.
OFFER_SECONDS: Final = 60.0
THREADS: Final = 4
#: Without a fleet: routing counts as stopped once no job has been assigned for longer than an offer lives
#: (so no offer still open can be accepted).
STALL_SECONDS: Final = OFFER_SECONDS + 15.0
LABELS: Final = {"kind": "bot", "level": 3}
# Failures that are redelivered by design (README.md, "Outcome contract for workers").
TRANSIENT: Final = frozenset({"RetryableServiceError", "WorkerChangedError"})
EXTRA_LINES_CHECK: Final = "extra decision lines not explained by duplicates or redeliveries"
INJECTED_503_CHECKS: Final = (
    "failed invocations not caused by an injected 503",
    "503 failures beyond the faults injected",
)
OFFER_EVENTS: Final = (
    ev.OFFER_ISSUED,
    ev.OFFER_ACCEPTED,
    ev.OFFER_DECLINED,
    ev.OFFER_EXPIRED,
    ev.OFFER_REVOKED,
)


@dataclass(slots=True)
class Watch:
    """What the orchestrator's webhook hears: event counts, the first expiry and the last accept."""

    counts: Counter[str] = field(default_factory=Counter)
    start: datetime | None = None
    first_expiry: datetime | None = None
    last_accept: datetime | None = None
    last_accept_seen: float = field(default_factory=time.monotonic)

    def on_event(self, event: DemoEvent) -> None:
        self.counts[event.type] += 1
        if event.type == ev.OFFER_ACCEPTED:
            self.last_accept = max(self.last_accept or event.time, event.time)
            self.last_accept_seen = time.monotonic()
        elif event.type == ev.OFFER_EXPIRED:
            self.first_expiry = min(self.first_expiry or event.time, event.time)


def capacity(jobs: int) -> int:
    """Each bot's capacity: room for every job between them (assigned jobs are never completed here)."""
    return jobs // WORKERS + 10


def fleet_document(jobs: int) -> dict[str, Any]:
    return {
        "version": 1,
        "description": "The load test's bots; the guard and the reconciliation budget are the defaults.",
        "workers": [
            {
                "id": f"bot-{n}",
                "queues": ["q-open"],
                "capacity": capacity(jobs),  # as setup() creates them: nothing to repair
                "channels": [{"channelId": "chat", "capacityCostPerJob": 1}],
                "labels": LABELS,
            }
            for n in range(WORKERS)
        ],
    }


async def setup(client: JobRouterClient, admin: JobRouterAdministrationClient, jobs: int) -> None:
    """The queue and the 20 bots, registered."""
    await admin.upsert_distribution_policy(
        "dp-open", DistributionPolicy(offer_expires_after_seconds=OFFER_SECONDS, mode=LongestIdleMode())
    )
    await admin.upsert_queue("q-open", RouterQueue(distribution_policy_id="dp-open"))
    for n in range(WORKERS):
        await client.upsert_worker(
            f"bot-{n}",
            RouterWorker(
                capacity=capacity(jobs),
                queues=["q-open"],
                labels=dict(LABELS),
                channels=[RouterChannel(channel_id="chat", capacity_cost_per_job=1)],
                available_for_offers=True,
            ),
        )


async def run_open_loop(jobs: int, log_dir: Path, scanner: SecretScanner, *, fleet: bool) -> dict[str, Any]:
    """One open-loop run; the figures of its outcome (stalled, or every job assigned and reconciled)."""
    watch = Watch()
    webhook = AgentWebhook(watch.on_event)
    fleet_file = None
    if fleet:
        fleet_file = log_dir / "fleet.json"
        fleet_file.write_text(json.dumps(fleet_document(jobs)), encoding="utf-8")
    stack = ProcessStack(
        StackOptions(
            policy_file=CONTACT_CENTRE_POLICY,
            fleet_file=fleet_file,
            seed=7,
            retry_scale=0.02,
            log_dir=log_dir,
            host_settings={"PYTHON_THREADPOOL_THREAD_COUNT": str(THREADS)},
            event_log_limit=event_log_limit(jobs),  # the reconciliation reads every event back
        )
    )
    await webhook.start()
    started = time.monotonic()
    try:
        info = await stack.start(agent_webhook=webhook.url)
        result = await drive(stack, info, webhook, watch, jobs, fleet=fleet)
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        return result
    finally:
        await stack.stop()
        await webhook.close()
        for path in sorted(log_dir.glob("*.log")):
            scanner.scan_file(path)


async def drive(
    stack: ProcessStack,
    info: StackInfo,
    webhook: AgentWebhook,
    watch: Watch,
    jobs: int,
    *,
    fleet: bool,
) -> dict[str, Any]:
    credential = AzureKeyCredential(info.access_key)
    admin_sdk = JobRouterAdministrationClient(info.endpoint, credential)
    client = JobRouterClient(info.endpoint, credential)
    async with aiohttp.ClientSession() as session, admin_sdk, client:
        admin = Admin(session, info.endpoint)
        await setup(client, admin_sdk, jobs)
        job_ids = [f"open-{n:05d}" for n in range(jobs)]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def submit(job_id: str) -> None:
            async with gate:
                await client.upsert_job(job_id, RouterJob(channel_id="chat", queue_id="q-open", priority=1))

        watch.start = datetime.now(UTC)
        submit_started = time.monotonic()
        await asyncio.gather(*(submit(j) for j in job_ids))  # open loop: nothing waits for the function
        submit_seconds = round(time.monotonic() - submit_started, 1)
        if fleet:
            result = await recovered(stack, admin, webhook, watch, job_ids)
        else:
            result = await stalled(stack, admin, watch, job_ids)
        return result | {
            "submit_seconds": submit_seconds,
            "seconds_from_first_job_to_last_accept": _seconds(watch.start, watch.last_accept),
            "events_heard": dict(sorted(watch.counts.items())),
        }


async def stalled(stack: ProcessStack, admin: Admin, watch: Watch, job_ids: list[str]) -> dict[str, Any]:
    """Fleet off: wait until routing has stopped (nothing assigned for STALL_SECONDS)."""
    jobs = len(job_ids)

    async def stopped() -> bool:
        failure = stack.failure()
        assert failure is None, failure
        if watch.counts[ev.OFFER_ACCEPTED] >= jobs:
            return True  # the function kept up after all: no stall to report
        return time.monotonic() - watch.last_accept_seen >= STALL_SECONDS

    await wait_until_async(
        stopped, interval=0.25, timeout=OFFER_SECONDS * 6 + 300, what="routing to stop or every job assigned"
    )
    state = await admin.get("/admin/state")
    statuses = Counter(j["body"]["status"] for j in state["jobs"])
    bots = Counter(_bot_state(w["body"]) for w in state["workers"])
    return {
        "fleet": "off",
        "jobs": jobs,
        "jobs_by_status": dict(sorted(statuses.items())),
        "bots_by_state": dict(sorted(bots.items())),
        "offers_expired": watch.counts[ev.OFFER_EXPIRED],
        "bots_deregistered": watch.counts[ev.WORKER_DEREGISTERED],
        "bots_registered_again": watch.counts[ev.WORKER_REGISTERED] - WORKERS,
        "seconds_from_first_expiry_to_last_accept": _seconds(watch.first_expiry, watch.last_accept),
        "function_outcomes": dict(stack.host_snapshot().outcomes()),
    }


async def recovered(
    stack: ProcessStack,
    admin: Admin,
    webhook: AgentWebhook,
    watch: Watch,
    job_ids: list[str],
) -> dict[str, Any]:
    """Fleet on: wait until every job is assigned, then reconcile the three records."""
    jobs = len(job_ids)

    async def all_assigned() -> bool:
        failure = stack.failure()
        assert failure is None, failure
        return watch.counts[ev.OFFER_ACCEPTED] >= jobs

    await wait_until_async(
        all_assigned, interval=0.25, timeout=OFFER_SECONDS * 20 + 300, what="every job's offer accepted"
    )

    async def drained() -> bool:
        stats = (await admin.get("/admin/publisher"))["stats"]
        return bool(stats["pending"] == 0)

    await wait_until_async(drained, interval=0.25, timeout=120, what="every delivery finished")
    state = await admin.get("/admin/state")
    events = [e for kind in OFFER_EVENTS for e in await admin.get(f"/admin/events?type={kind}")]
    publisher = await admin.get("/admin/publisher")
    reconciled = reconcile(
        job_ids, state=state, events=events, stack=stack, publisher=publisher, webhook=webhook, fault_hits=0
    )
    snapshot = stack.host_snapshot()
    workers = [line for line in snapshot.fleet_actions if not line.is_run]
    outcomes = Counter(line.outcome for line in workers)
    fleet_errors = Counter(str(line.fields.get("error")) for line in workers if line.outcome == "error")
    unexplained = dict(reconciled["unexplained"])
    # An accept that timed out while Job Router was saturated may still have taken effect: the
    # invocation failed (transient), and the redelivery found the offer gone (already accepted) or came
    # after the offer's expiry (left, no call).
    late_accepts = accepts_that_timed_out(events, snapshot.decisions)
    unexplained["accepted offers without one function accept"] -= late_accepts
    # No fault is injected here: the closed-loop test's 503 accounting becomes "only transient failures"
    # (Job Router too slow to answer within the call budget while saturated: Event Grid redelivers).
    for key in INJECTED_503_CHECKS:
        unexplained.pop(key)
    # A delivery attempt the saturated host answers after the publisher's timeout counts as failed and is
    # redelivered, although its invocation ran to the end: each such attempt can add one decision line
    # (the redelivery finds the offer settled or expired: left or gone, never a second accept). So the
    # extra lines are bounded by every failed attempt to the offer function, not only the failed
    # invocations the closed-loop check counts.
    failed_attempts = publisher["stats"]["failuresBySubscription"].get(OFFER_SUBSCRIPTION.upper(), 0)
    extra = EXTRA_LINES_CHECK
    unexplained[extra] = max(0, unexplained[extra] + snapshot.invocations_failed - failed_attempts)
    unexplained["failed offer invocations other than transient (RetryableServiceError)"] = sum(
        n for key, n in reconciled["function_errors"].items() if not key.startswith("RetryableServiceError ")
    )
    unexplained["failed fleet events other than transient or changed meanwhile"] = sum(
        n for error, n in fleet_errors.items() if error not in TRANSIENT
    )
    return reconciled | {
        "accepts_that_timed_out_but_took_effect": late_accepts,
        "failed_deliveries_to_the_offer_function": failed_attempts,
        "unexplained": unexplained,
        "unexplained_total": sum(unexplained.values()),
        "fleet_errors": dict(sorted(fleet_errors.items())),
        "fleet": "on",
        "offers_expired": watch.counts[ev.OFFER_EXPIRED],
        "bots_deregistered": watch.counts[ev.WORKER_DEREGISTERED],
        "bots_registered_again": watch.counts[ev.WORKER_REGISTERED] - WORKERS,
        "fleet_outcomes": dict(sorted(outcomes.items())),
        "re_registrations_by_the_function": outcomes["registered"] + outcomes["created"],
        "back_offs": outcomes["backed-off"],
        "reconciliation_runs": sum(1 for line in snapshot.fleet_actions if line.is_run),
        "fleet_invocations": {"ok": snapshot.fleet_ok, "failed": snapshot.fleet_failed},
        "seconds_from_first_expiry_to_last_accept": _seconds(watch.first_expiry, watch.last_accept),
    }


def accepts_that_timed_out(events: list[Mapping[str, Any]], lines: Sequence[DecisionRecord]) -> int:
    """Accepted offers whose accept call timed out (a transient error, no status) and whose redelivery
    found them gone, or arrived after the offer's expiry and left them (no call past expiry)."""
    accepted = {e["data"].get("offerId") for e in events if str(e["eventType"]).endswith(ev.OFFER_ACCEPTED)}
    outcomes: dict[str, list[tuple[str | None, str | None]]] = {}
    for line in lines:
        if line.offer_id is not None and line.offer_id in accepted:
            outcomes.setdefault(line.offer_id, []).append((line.outcome, line.error))
    return sum(
        1
        for seen in outcomes.values()
        if ("accepted", None) not in seen
        and ("error", "RetryableServiceError") in seen
        and any(outcome in ("gone", "left") for outcome, _ in seen)
    )


def _bot_state(body: Mapping[str, Any]) -> str:
    """Deregistered (its state), registered but full, or registered with room (it could take a job)."""
    if not body.get("availableForOffers"):
        return str(body.get("state"))
    return "registered, full" if float(body.get("loadRatio", 0)) >= 1 else "registered, with room"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 1)


def check_stall(result: Mapping[str, Any]) -> None:
    assert result["offers_expired"] > 0, "the load never saturated the function: no offer expired"
    assert result["jobs_by_status"].get("queued", 0) > 0, json.dumps(result, indent=1)
    assert result["bots_by_state"].get("registered, with room", 0) == 0, json.dumps(result, indent=1)
    assert result["bots_registered_again"] == 0


def check_recovery(result: Mapping[str, Any], jobs: int) -> None:
    assert result["unexplained"] == dict.fromkeys(result["unexplained"], 0), json.dumps(result, indent=1)
    assert result["jobs_assigned_exactly_once"] == jobs
    assert result["offers_expired"] > 0, "the load never saturated the function: no offer expired"
    assert result["re_registrations_by_the_function"] > 0


def open_loop(jobs: int, tmp_path: Path, scanner: SecretScanner) -> dict[str, Any]:
    off_dir, on_dir = tmp_path / "fleet-off", tmp_path / "fleet-on"
    off_dir.mkdir()
    on_dir.mkdir()
    off = asyncio.run(run_open_loop(jobs, off_dir, scanner, fleet=False))
    on = asyncio.run(run_open_loop(jobs, on_dir, scanner, fleet=True))
    return {
        "offer_seconds": OFFER_SECONDS,
        "workers": WORKERS,
        "threads": THREADS,
        "fleet_off": off,
        "fleet_on": on,
    }


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_10000_jobs_at_once_stall_without_the_fleet_and_are_all_assigned_with_it(
    tmp_path: Path, scanner: SecretScanner
) -> None:
    result = open_loop(10_000, tmp_path, scanner)

    record(
        "open_loop",
        "full",
        result,
        command="pytest tests/reliability/test_open_loop_load.py -m slow -k 10000",
    )
    check_stall(result["fleet_off"])
    check_recovery(result["fleet_on"], 10_000)
