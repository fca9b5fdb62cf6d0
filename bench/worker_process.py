"""Benchmark 4 (handler overhead) and the memory figure, run in a fresh worker-like process.

``python -m bench.worker_process overhead N`` / ``memory N`` prints one JSON line; ``bench/handler.py`` runs
it. The function is loaded and invoked through the worker library (``devstack.functions_worker.WorkerApp``:
index, bind the event as the worker does, run the sync function on the worker's thread pool); the Job Router
emulator runs in its own interpreter (``python -m devstack.jobrouter``), reached over loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    DistributionPolicy,
    LongestIdleMode,
    RouterChannel,
    RouterJob,
    RouterQueue,
    RouterWorker,
)
from azure.core.credentials import AzureKeyCredential

from bench.common import ROOT
from bench.emulator import start_emulator

ACCEPT_ALL = '{"version": 1, "rules": [], "default": {"action": "accept"}}'
FUNCTION = "on_offer_issued"
WORKER = "bench-worker"


def _setup_router(endpoint: str, key: str) -> None:
    credential = AzureKeyCredential(key)
    with (
        JobRouterAdministrationClient(endpoint, credential, retry_total=0) as admin,
        JobRouterClient(endpoint, credential, retry_total=0) as client,
    ):
        admin.upsert_distribution_policy(
            "dp", DistributionPolicy(offer_expires_after_seconds=600, mode=LongestIdleMode())
        )
        admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
        client.upsert_worker(
            WORKER,
            RouterWorker(
                queues=["q"],
                capacity=1_000_000,
                channels=[RouterChannel(channel_id="voice", capacity_cost_per_job=1)],
                available_for_offers=True,
            ),
        )


def _issue_offers(endpoint: str, key: str, count: int) -> list[dict[str, Any]]:
    """Create ``count`` jobs; return their offer-issued events (Event Grid schema) from the event log."""
    credential = AzureKeyCredential(key)
    with JobRouterClient(endpoint, credential, retry_total=0) as client:
        for n in range(count):
            client.upsert_job(f"job-{n}", RouterJob(channel_id="voice", queue_id="q"))

    async def fetch() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                async with session.get(f"{endpoint}/admin/events") as response:
                    events: list[dict[str, Any]] = await response.json()
                issued = [e for e in events if e["eventType"].endswith("RouterWorkerOfferIssued")]
                if len(issued) >= count:
                    return issued
                await asyncio.sleep(0.05)
        raise RuntimeError(f"only {len(issued)} of {count} offers were issued")

    return asyncio.run(fetch())


def _load_app(endpoint: str, key: str) -> tuple[Any, Any]:
    os.environ["JOBROUTER_CONNECTION_STRING"] = f"endpoint={endpoint}/;accesskey={key}"
    os.environ["OFFER_POLICY"] = ACCEPT_ALL
    from devstack.functions_worker import WorkerApp, _registry_dict

    app = WorkerApp.load(ROOT)
    # The module-level OfferHandler of the loaded function_app (the worker keeps the module via the function).
    library_info = _registry_dict()[app._registry_keys[FUNCTION]]
    handler = library_info.func.__globals__["handler"]
    return app, handler


def _log_decisions_to_devnull() -> None:
    """Decision lines are formatted and written, as in Azure (where the worker ships them to the host)."""
    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115  (lives as long as the process)
    sink.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(sink)
    root.setLevel(logging.INFO)
    logging.getLogger("azure").setLevel(logging.WARNING)


def overhead(count: int) -> dict[str, Any]:
    """Time three sides, rotating offer by offer (A B C A B C ...), each on a fresh offer of one worker.

    - ``invoke``: the function through the worker library (``WorkerApp.invoke``);
    - ``direct``: the same process-wide ``OfferHandler.handle`` called on this thread (no worker library);
    - ``bare``: ``accept_job_offer`` with the handler's own SDK client.
    """
    from offer_handlers.events import Envelope

    sides = ("invoke", "direct", "bare")
    warmup = 20
    proc, endpoint, key = start_emulator()
    try:
        _setup_router(endpoint, key)
        events = _issue_offers(endpoint, key, len(sides) * (count + warmup))
        _log_decisions_to_devnull()
        app, handler = _load_app(endpoint, key)
        times: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        failures = 0

        async def measure() -> None:
            nonlocal failures
            client: Any = None
            for index, event in enumerate(events):
                side = sides[index % len(sides)]
                data = event["data"]
                started, cpu_started = time.perf_counter(), time.process_time()
                if side == "invoke":
                    result = await app.invoke(FUNCTION, event)
                    failures += 0 if result.ok else 1
                elif side == "direct":
                    envelope = Envelope(
                        "eventgrid", event["id"], event["eventType"], event["subject"], event["data"]
                    )
                    handler.handle(envelope)
                else:
                    client.accept_job_offer(data["workerId"], data["offerId"])
                elapsed = (time.perf_counter() - started) * 1000
                if index >= len(sides) * warmup:
                    times[side].append(elapsed)
                    cpu[side].append((time.process_time() - cpu_started) * 1000)
                if client is None:
                    # The very SDK client the handler built (same pipeline, same connection pool).
                    client = handler.responder()._client

        asyncio.run(measure())
        settled = len(handler.settled)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    return {
        "handler_ms": times["invoke"],
        "direct_ms": times["direct"],
        "bare_ms": times["bare"],
        "cpu_ms": {side: sum(values) / max(1, len(values)) for side, values in cpu.items()},
        "failures": failures,
        "accepted_by_handler": settled,
    }


def _rss_mib() -> tuple[float, float]:
    """(peak, current) resident set size in MiB: ``VmHWM`` and ``VmRSS`` of /proc/self/status."""
    values = {"VmHWM:": 0.0, "VmRSS:": 0.0}
    for line in Path("/proc/self/status").read_text().splitlines():
        name = line.split(":", 1)[0] + ":"
        if name in values:
            values[name] = int(line.split()[1]) / 1024
    return values["VmHWM:"], values["VmRSS:"]


def _reset_peak() -> bool:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs`` 5): start-up peaks must not hide growth."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory(count: int, concurrency: int = 8) -> dict[str, Any]:
    """RSS over ``count`` invocations of distinct offers, filling the settled-offer memory.

    The emulator answers 404 (unknown offer), so each one is a full SDK call that settles the offer id
    (Outcome.GONE). Peak and current RSS after the first invocation, after half of them and after all (the
    peak is reset once the app is loaded, before the first invocation).
    """
    proc, endpoint, key = start_emulator()
    try:
        _setup_router(endpoint, key)
        _log_decisions_to_devnull()
        app, handler = _load_app(endpoint, key)
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

        def event() -> dict[str, Any]:
            offer_id = str(uuid.uuid4())
            return {
                "id": str(uuid.uuid4()),
                "topic": "/bench",
                "subject": f"worker/{WORKER}/job/x",
                "eventType": "Microsoft.Communication.RouterWorkerOfferIssued",
                "eventTime": datetime.now(UTC).isoformat(),
                "dataVersion": "1.0",
                "metadataVersion": "1",
                "data": {
                    "workerId": WORKER,
                    "jobId": "x",
                    "offerId": offer_id,
                    "queueId": "q",
                    "channelId": "voice",
                    "expiresOn": expires,
                    "jobLabels": {"n": 1},
                    "workerLabels": {"kind": "bot"},
                },
            }

        async def run() -> dict[str, Any]:
            reset = _reset_peak()
            first = await app.invoke(FUNCTION, event())
            assert first.ok, first.error
            points = {1: _rss_mib()}
            done, failures = 1, 0
            started = time.perf_counter()
            for target in (count // 2, count):
                while done < target:
                    batch = min(concurrency, target - done)
                    results = await asyncio.gather(*(app.invoke(FUNCTION, event()) for _ in range(batch)))
                    failures += sum(0 if r.ok else 1 for r in results)
                    done += batch
                points[done] = _rss_mib()
            elapsed = time.perf_counter() - started
            return {
                "points": [[n, peak, rss] for n, (peak, rss) in points.items()],
                "peak_reset": reset,
                "n": done,
                "failures": failures,
                "settled": len(handler.settled),
                "seconds": elapsed,
            }

        return asyncio.run(run())
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


if __name__ == "__main__":
    what, n = sys.argv[1], int(sys.argv[2])
    out = overhead(n) if what == "overhead" else memory(n)
    print(json.dumps(out), flush=True)
