"""Reliability: the emulator under faults: stopped mid-run and started again with the same ``--state``
file, as a process (``python -m devstack.jobrouter --state FILE``), with the function answering offers
through an in-process Functions host. No job, worker or pending offer is lost, and the offer-expiry
timers pending at the restart fire afterwards."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any, Final

import aiohttp
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

from devstack.demo.process_stack import ChildProcess
from devstack.demo.stack import APP_DIR, free_port
from devstack.functions_host import FunctionsHost
from devstack.jobrouter.config import DEV_ACCESS_KEY
from devstack.polling import wait_until_async
from tests.e2e.support import CONTACT_CENTRE_POLICY
from tests.reliability.figures import record

READY: Final = re.compile(r"^Job Router emulator listening on (?P<endpoint>\S+)")
HUMAN_EXPIRY: Final = 4.0


def emulator(state: Path, port: int, webhook: str, log: Path) -> ChildProcess:
    argv = [
        sys.executable,
        "-m",
        "devstack.jobrouter",
        "--port",
        str(port),
        "--state",
        str(state),
        "--webhook",
        f"{webhook}#types=RouterWorkerOfferIssued&name=functions-host",
        "--retry-scale",
        "0.02",
    ]
    return ChildProcess("Job Router emulator", argv, env={"PATH": "/usr/bin:/bin"}, log_path=log, cwd=APP_DIR)


def durable(state: dict[str, Any]) -> dict[str, Any]:
    """What must survive: every job (status, assignments, pending offers) and worker (offers, load)."""
    return {
        "jobs": {
            j["id"]: (
                j["body"]["status"],
                sorted(j["body"].get("assignments") or {}),
                sorted(j["internal"].get("offers") or {}),
            )
            for j in state["jobs"]
        },
        "workers": {
            w["id"]: (
                w["body"].get("state"),
                sorted(o["offerId"] for o in w["body"].get("offers") or []),
                sorted(a["jobId"] for a in w["body"].get("assignedJobs") or []),
            )
            for w in state["workers"]
        },
    }


async def restart_mid_run(tmp_path: Path) -> dict[str, Any]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    settings = {
        "JOBROUTER_CONNECTION_STRING": f"endpoint={endpoint}/;accesskey={DEV_ACCESS_KEY}",
        "OFFER_POLICY_FILE": str(CONTACT_CENTRE_POLICY),
    }
    host = FunctionsHost(APP_DIR, settings, "127.0.0.1", 0)
    await host.start()
    state_file = tmp_path / "router.sqlite"
    first = emulator(state_file, port, host.webhook_url("on_offer_issued"), tmp_path / "emulator-1.log")
    second = emulator(state_file, port, host.webhook_url("on_offer_issued"), tmp_path / "emulator-2.log")
    credential = AzureKeyCredential(DEV_ACCESS_KEY)
    try:
        await first.start()
        await first.wait_for_line(READY, 60)
        async with (
            aiohttp.ClientSession() as http,
            JobRouterAdministrationClient(endpoint, credential) as admin,
            JobRouterClient(endpoint, credential) as client,
        ):

            async def state() -> dict[str, Any]:
                async with http.get(f"{endpoint}/admin/state") as response:
                    return dict(await response.json())

            await admin.upsert_distribution_policy(
                "dp-bot", DistributionPolicy(offer_expires_after_seconds=60, mode=LongestIdleMode())
            )
            await admin.upsert_distribution_policy(
                "dp-human",
                DistributionPolicy(offer_expires_after_seconds=HUMAN_EXPIRY, mode=LongestIdleMode()),
            )
            await admin.upsert_queue("q-bot", RouterQueue(distribution_policy_id="dp-bot"))
            await admin.upsert_queue("q-human", RouterQueue(distribution_policy_id="dp-human"))
            chat = [RouterChannel(channel_id="chat", capacity_cost_per_job=1)]
            await client.upsert_worker(
                "bot-1",
                RouterWorker(
                    capacity=5,
                    queues=["q-bot"],
                    channels=chat,
                    labels={"kind": "bot", "level": 3},
                    available_for_offers=True,
                ),
            )
            for n in range(3):  # humans: the policy leaves their offers alone, so they stay pending
                await client.upsert_worker(
                    f"human-{n}",
                    RouterWorker(
                        capacity=1,
                        queues=["q-human"],
                        channels=chat,
                        labels={"kind": "human", "level": 3},
                        available_for_offers=True,
                    ),
                )
            for n in range(5):
                await client.upsert_job(
                    f"bot-job-{n}", RouterJob(channel_id="chat", queue_id="q-bot", priority=1)
                )
            for n in range(5):
                await client.upsert_job(
                    f"human-job-{n}", RouterJob(channel_id="chat", queue_id="q-human", priority=1)
                )

            async def mid_run() -> dict[str, Any] | None:
                snapshot = await state()
                jobs = {j["id"]: j for j in snapshot["jobs"]}
                assigned = sum(jobs[f"bot-job-{n}"]["body"]["status"] == "assigned" for n in range(5))
                pending = sum(len(j["internal"].get("offers") or {}) for j in jobs.values())
                return snapshot if assigned == 5 and pending == 3 else None

            before = await wait_until_async(
                mid_run, timeout=20, interval=0.1, what="bot jobs assigned and three human offers pending"
            )
            pending_offers = {o for j in before["jobs"] for o in (j["internal"].get("offers") or {})}
            timers_before = len(before.get("timers", []))
            await first.stop()
            await second.start()
            await second.wait_for_line(READY, 60)
            after = await state()

            async def expired() -> list[Any] | None:
                async with http.get(f"{endpoint}/admin/events?type=RouterWorkerOfferExpired") as response:
                    events = await response.json()
                seen = {e["data"]["offerId"] for e in events}
                return events if pending_offers <= seen else None

            expired_events = await wait_until_async(
                expired, timeout=HUMAN_EXPIRY + 10, interval=0.1, what="the pending offers expiring"
            )
            return {
                "before": durable(before),
                "after": durable(after),
                "jobs": len(before["jobs"]),
                "workers": len(before["workers"]),
                "pending_offers": len(pending_offers),
                "timers_before": timers_before,
                "timers_after": len(after.get("timers", [])),
                "offers_expired_after_restart": len(
                    {e["data"]["offerId"] for e in expired_events} & pending_offers
                ),
            }
    finally:
        await first.stop()
        await second.stop()
        await host.stop()


def test_an_emulator_restart_with_its_state_file_loses_nothing_and_timers_resume(tmp_path: Path) -> None:
    result = asyncio.run(restart_mid_run(tmp_path))

    summary = {k: v for k, v in result.items() if k not in ("before", "after")}
    summary["lost_or_changed"] = sum(
        result["before"][kind].get(key) != result["after"][kind].get(key)
        for kind in ("jobs", "workers")
        for key in result["before"][kind]
    )
    record("restart", "emulator", summary, command="pytest tests/reliability/test_emulator_restart.py")
    assert result["after"] == result["before"]
    assert result["pending_offers"] == 3
    assert result["timers_after"] >= result["pending_offers"]
    assert result["offers_expired_after_restart"] == result["pending_offers"]
