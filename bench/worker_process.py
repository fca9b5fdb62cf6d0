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
import resource
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
    proc, endpoint, key = start_emulator()
    try:
        _setup_router(endpoint, key)
        warmup = 20
        events = _issue_offers(endpoint, key, 2 * count + 2 * warmup)
        _log_decisions_to_devnull()
        app, handler = _load_app(endpoint, key)
        client = None

        async def measure() -> tuple[list[float], list[float], int]:
            nonlocal client
            handler_ms: list[float] = []
            bare_ms: list[float] = []
            failures = 0
            for index, event in enumerate(events):
                data = event["data"]
                if index % 2 == 0:  # the function, through the worker library
                    started = time.perf_counter()
                    result = await app.invoke(FUNCTION, event)
                    elapsed = (time.perf_counter() - started) * 1000
                    failures += 0 if result.ok else 1
                    if not result.ok and failures < 3:
                        print("invoke failed:", result.error, proc.poll(), file=sys.stderr)
                    (handler_ms if index >= 2 * warmup else []).append(elapsed)
                    if client is None:
                        # The very SDK client the handler built (same pipeline, same connection pool).
                        client = handler.responder()._client
                else:  # a bare accept_job_offer with the same client, on the same kind of offer
                    assert client is not None
                    started = time.perf_counter()
                    client.accept_job_offer(data["workerId"], data["offerId"])
                    elapsed = (time.perf_counter() - started) * 1000
                    (bare_ms if index >= 2 * warmup else []).append(elapsed)
            return handler_ms, bare_ms, failures

        handler_ms, bare_ms, failures = asyncio.run(measure())
        outcomes = {"accepted_by_handler": len(handler.settled)}
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    return {"handler_ms": handler_ms, "bare_ms": bare_ms, "failures": failures, **outcomes}


def _rss_mib() -> tuple[float, float]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    return peak, current


def memory(count: int, concurrency: int = 8) -> dict[str, Any]:
    """``count`` invocations of distinct offers; the emulator answers 404 (unknown offer) so each one is a
    full SDK call that settles the offer id (Outcome.GONE), filling the settled-offer memory."""
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
                "data": {"workerId": WORKER, "jobId": "x", "offerId": offer_id, "queueId": "q",
                         "channelId": "voice", "expiresOn": expires, "jobLabels": {"n": 1},
                         "workerLabels": {"kind": "bot"}},
            }  # fmt: skip

        async def run() -> dict[str, Any]:
            first = await app.invoke(FUNCTION, event())
            assert first.ok, first.error
            peak1, rss1 = _rss_mib()
            done, failures = 1, 0
            started = time.perf_counter()
            while done < count:
                batch = min(concurrency, count - done)
                results = await asyncio.gather(*(app.invoke(FUNCTION, event()) for _ in range(batch)))
                failures += sum(0 if r.ok else 1 for r in results)
                done += batch
            elapsed = time.perf_counter() - started
            peak_n, rss_n = _rss_mib()
            return {"peak_1": peak1, "rss_1": rss1, "peak_n": peak_n, "rss_n": rss_n, "n": done,
                    "failures": failures, "settled": len(handler.settled), "seconds": elapsed}  # fmt: skip

        return asyncio.run(run())
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


if __name__ == "__main__":
    what, n = sys.argv[1], int(sys.argv[2])
    out = overhead(n) if what == "overhead" else memory(n)
    print(json.dumps(out), flush=True)
