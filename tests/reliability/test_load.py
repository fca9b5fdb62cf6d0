"""Reliability: load with reconciliation through the dev stack (emulator and Functions host as processes).

Jobs are submitted with 10% duplicate deliveries (the publisher's knob), 5% of them reordered (the reorder
window is opened for one submission batch in twenty) and 1% of accept calls answered 503 (a fault rule with
probability 0.01). Afterwards three records are reconciled: the emulator's jobs and offers
(``/admin/state``), its event log (``/admin/events``) and the function's decision log (the host's log).
Every difference must be explained; the test fails on any that is not.

The quick run submits 300 jobs; ``-m slow`` submits 10,000.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
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
from devstack.demo.stack import StackInfo, StackOptions
from devstack.demo.webhook import AgentWebhook
from devstack.polling import wait_until_async
from tests.e2e.support import CONTACT_CENTRE_POLICY
from tests.reliability.accounting import OfferBook
from tests.reliability.figures import record
from tests.reliability.secrets_scan import SecretScanner

WORKERS: Final = 20
BATCH: Final = 100
CONCURRENCY: Final = 32
DUPLICATES: Final = 0.10
REORDER_EVERY: Final = 20  # one batch in twenty: 5% of the jobs
REORDER_WINDOW: Final = 0.25
MAX_UNANSWERED: Final = 400  # jobs submitted but not yet accepted before the next batch goes in
FAULT_503: Final = 0.01


def peak_rss_kib(pid: int | None) -> int | None:
    """A process's peak resident set size (VmHWM), in KiB."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Admin:
    """The emulator's admin API over HTTP (it runs in another process)."""

    def __init__(self, session: aiohttp.ClientSession, endpoint: str) -> None:
        self._session = session
        self._endpoint = endpoint

    async def get(self, path: str) -> Any:
        async with self._session.get(f"{self._endpoint}{path}") as response:
            response.raise_for_status()
            return await response.json()

    async def send(self, method: str, path: str, body: Mapping[str, Any]) -> Any:
        async with self._session.request(method, f"{self._endpoint}{path}", json=body) as response:
            response.raise_for_status()
            return await response.json()


async def run_load(jobs: int, log_dir: Path, scanner: SecretScanner) -> dict[str, Any]:
    received: Counter[str] = Counter()
    webhook = AgentWebhook(lambda event: received.update([event.type]))
    await webhook.start()
    stack = ProcessStack(
        StackOptions(
            policy_file=CONTACT_CENTRE_POLICY,
            seed=6,
            retry_scale=0.02,
            log_dir=log_dir,
            log_level="DEBUG",
            event_log_limit=event_log_limit(jobs),  # the reconciliation reads every event back
        )
    )
    started = time.monotonic()
    try:
        info = await stack.start(agent_webhook=webhook.url)
        result = await drive(stack, info, webhook, received, jobs)
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        return result
    finally:
        await stack.stop()
        await webhook.close()
        for path in sorted(log_dir.glob("*.log")):
            scanner.scan_file(path)


async def drive(
    stack: ProcessStack, info: StackInfo, webhook: AgentWebhook, received: Counter[str], jobs: int
) -> dict[str, Any]:
    credential = AzureKeyCredential(info.access_key)
    async with (
        aiohttp.ClientSession() as session,
        JobRouterAdministrationClient(info.endpoint, credential) as admin_sdk,
        JobRouterClient(info.endpoint, credential) as client,
    ):
        admin = Admin(session, info.endpoint)
        await admin.send("PUT", "/admin/publisher", {"duplicateFraction": DUPLICATES})
        fault = await admin.send(
            "POST",
            "/admin/faults",
            {
                "method": "POST",
                "path": r"/routing/workers/[^/]+/offers/[^/]+:accept$",
                "status": 503,
                "probability": FAULT_503,
            },
        )
        await admin_sdk.upsert_distribution_policy(
            "dp-load", DistributionPolicy(offer_expires_after_seconds=60, mode=LongestIdleMode())
        )
        await admin_sdk.upsert_queue("q-load", RouterQueue(distribution_policy_id="dp-load"))
        capacity = jobs // WORKERS + 10
        for n in range(WORKERS):
            await client.upsert_worker(
                f"bot-{n}",
                RouterWorker(
                    capacity=capacity,
                    queues=["q-load"],
                    labels={"kind": "bot", "level": 3},
                    channels=[RouterChannel(channel_id="chat", capacity_cost_per_job=1)],
                    available_for_offers=True,
                ),
            )
        job_ids = [f"load-{n:05d}" for n in range(jobs)]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def submit(job_id: str) -> None:
            async with gate:
                await client.upsert_job(job_id, RouterJob(channel_id="chat", queue_id="q-load", priority=1))

        async def caught_up() -> bool:
            return index - received[ev.OFFER_ACCEPTED] <= MAX_UNANSWERED

        submit_started = time.monotonic()
        for index in range(0, jobs, BATCH):
            # Closed-loop load: offers live 60 s, and Job Router deregisters a worker whose offer expires,
            # so more work than the function can answer in time would stall every bot (see RELIABILITY.md).
            await wait_until_async(
                caught_up, timeout=60, interval=0.25, what=f"the function catching up at job {index}"
            )
            reorder = (index // BATCH) % REORDER_EVERY == REORDER_EVERY // 2
            if reorder:
                await admin.send("PUT", "/admin/publisher", {"reorderWindow": REORDER_WINDOW})
            await asyncio.gather(*(submit(j) for j in job_ids[index : index + BATCH]))
            if reorder:
                await asyncio.sleep(REORDER_WINDOW)
                await admin.send("PUT", "/admin/publisher", {"reorderWindow": 0})
        submit_seconds = time.monotonic() - submit_started

        async def all_assigned() -> bool:
            failure = stack.failure()
            assert failure is None, failure
            return received[ev.OFFER_ACCEPTED] >= jobs

        try:
            await wait_until_async(all_assigned, timeout=60, interval=0.25, what="every job's offer accepted")
        except AssertionError as err:
            state = await admin.get("/admin/state")
            statuses = Counter(j["body"]["status"] for j in state["jobs"])
            workers = Counter(
                (w["body"].get("state"), w["body"].get("availableForOffers")) for w in state["workers"]
            )
            raise AssertionError(
                f"{err}: jobs {dict(statuses)}, workers (state, available) {dict(workers)}, "
                f"events {dict(received)}"
            ) from None
        await admin.send("PUT", "/admin/publisher", {"duplicateFraction": 0})

        async def drained() -> bool:
            stats = (await admin.get("/admin/publisher"))["stats"]
            return bool(stats["pending"] == 0)

        await wait_until_async(drained, timeout=60, interval=0.25, what="every delivery finished")
        settle = stack.host_snapshot().invocations
        await asyncio.sleep(0.5)
        assert stack.host_snapshot().invocations == settle  # nothing more arrives
        memory = {child.name: peak_rss_kib(child.pid) for child in stack.children}
        memory["pytest process (whole session so far)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        state = await admin.get("/admin/state")
        events = [
            e
            for kind in (
                ev.OFFER_ISSUED,
                *(k for k in (ev.OFFER_ACCEPTED, ev.OFFER_DECLINED, ev.OFFER_EXPIRED, ev.OFFER_REVOKED)),
            )
            for e in await admin.get(f"/admin/events?type={kind}")
        ]
        publisher = await admin.get("/admin/publisher")
        faults = await admin.get("/admin/faults")
        hits = next((f["hits"] for f in faults if f["id"] == fault["id"]), 0)
        return reconcile(
            job_ids,
            state=state,
            events=events,
            stack=stack,
            publisher=publisher,
            webhook=webhook,
            fault_hits=hits,
        ) | {
            "peak_rss_kib": memory,
            "submit_seconds": round(submit_seconds, 1),
        }


def reconcile(
    job_ids: list[str],
    *,
    state: Mapping[str, Any],
    events: list[Mapping[str, Any]],
    stack: ProcessStack,
    publisher: Mapping[str, Any],
    webhook: AgentWebhook,
    fault_hits: int,
) -> dict[str, Any]:
    """The three records side by side; every difference either explained or counted as unexplained."""
    snapshot = stack.host_snapshot()
    lines = snapshot.decisions
    short = {
        e["id"]: DemoEvent(
            e["id"],
            str(e["eventType"]).rsplit(".", 1)[-1],
            e["subject"],
            datetime.fromisoformat(e["eventTime"]),
            e["data"],
        )
        for e in events
    }
    book = OfferBook.of((e.type, e.offer_id, e.job_id) for e in short.values())
    jobs_state = {j["id"]: j["body"] for j in state["jobs"]}
    accepted_by_job = Counter(book.issued[o] for o in book.issued if book.state(o) == "accepted")
    lines_by_offer: dict[str, list[str]] = {}
    for line in lines:
        lines_by_offer.setdefault(line.offer_id or "-", []).append(line.outcome or "-")
    function_accepts = {o for o, outs in lines_by_offer.items() if "accepted" in outs}
    emulator_accepts = {o for o in book.issued if book.state(o) == "accepted"}

    assigned_once = [
        j
        for j in job_ids
        if jobs_state.get(j, {}).get("status") == "assigned"
        and len(jobs_state[j].get("assignments") or {}) == 1
        and accepted_by_job[j] == 1
    ]
    stats = publisher["stats"]
    host_duplicates = stats["duplicates"] - webhook.duplicates
    extra_lines = len(lines) - len(book.issued)
    errors = Counter(
        (line.fields.get("error"), line.fields.get("status")) for line in lines if line.outcome == "error"
    )
    unexplained = {
        "jobs not assigned exactly once": len(job_ids) - len(assigned_once),
        "offers without exactly one final state": len(book.unaccounted()),
        "accepted offers without one function accept": len(
            [o for o in emulator_accepts if lines_by_offer.get(o, []).count("accepted") != 1]
        ),
        "function accepts the emulator did not record": len(function_accepts - emulator_accepts),
        "decision lines for offers never issued": len(set(lines_by_offer) - set(book.issued)),
        "issued offers the function never saw": len(set(book.issued) - set(lines_by_offer)),
        "invocations without exactly one decision line": snapshot.invocations - len(lines),
        "extra decision lines not explained by duplicates or redeliveries": extra_lines
        - (host_duplicates + snapshot.invocations_failed),
        "failed invocations not caused by an injected 503": sum(
            n for (err, status), n in errors.items() if (err, status) != ("RetryableServiceError", "503")
        ),
        "503 failures beyond the faults injected": max(0, sum(errors.values()) - fault_hits),
    }
    first_seen: dict[str, datetime] = {}
    order: list[datetime] = []
    for line in lines:
        event_id = line.fields.get("event_id") or ""
        if event_id in short and event_id not in first_seen:
            first_seen[event_id] = short[event_id].time
            order.append(short[event_id].time)
    late = 0
    newest = datetime.min.replace(tzinfo=order[0].tzinfo) if order else None
    for stamp in order:
        assert newest is not None
        if stamp < newest:
            late += 1
        newest = max(newest, stamp)
    return {
        "jobs": len(job_ids),
        "jobs_assigned_exactly_once": len(assigned_once),
        "offers_issued": len(book.issued),
        "offers_by_final_state": dict(book.by_state()),
        "function_outcomes": dict(snapshot.outcomes()),
        "function_errors": {f"{e} {s}": n for (e, s), n in errors.items()},
        "invocations": {"ok": snapshot.invocations_ok, "failed": snapshot.invocations_failed},
        "deliveries": stats,
        "duplicate_deliveries_to_the_function": host_duplicates,
        "duplicate_share": round(host_duplicates / max(1, len(book.issued)), 4),
        "offer_events_delivered_out_of_order": late,
        "reordered_share": round(late / max(1, len(order)), 4),
        "injected_503s": fault_hits,
        "unexplained": unexplained,
        "unexplained_total": sum(abs(v) for v in unexplained.values()),
    }


def check(result: Mapping[str, Any], jobs: int) -> None:
    assert result["unexplained"] == dict.fromkeys(result["unexplained"], 0), json.dumps(result, indent=1)
    assert result["jobs_assigned_exactly_once"] == jobs
    assert result["duplicate_deliveries_to_the_function"] > 0  # the knobs really were on
    assert result["injected_503s"] > 0


def test_300_jobs_reconcile_with_nothing_unexplained(tmp_path: Path, scanner: SecretScanner) -> None:
    result = asyncio.run(run_load(300, tmp_path, scanner))

    record("load", "quick", result, command="pytest tests/reliability/test_load.py -k 300")
    check(result, 300)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_10000_jobs_reconcile_with_nothing_unexplained(tmp_path: Path, scanner: SecretScanner) -> None:
    result = asyncio.run(run_load(10_000, tmp_path, scanner))

    record("load", "full", result, command="pytest tests/reliability/test_load.py -m slow -k 10000")
    check(result, 10_000)
