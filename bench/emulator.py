"""Benchmark the Job Router emulator through the real SDK, over loopback HTTP.

Starts ``python -m devstack.jobrouter --port 0`` in a fresh interpreter (so the client and the server do not
share a GIL), then measures with the sync ``JobRouterClient``:

1. accept round trip: upsert a job, wait for its offer, then time ``accept_job_offer`` (p50/p99/max), and
   the time from the job upsert until the offer is visible on the worker;
2. sustained throughput: ``--threads`` client threads calling ``get_worker`` for ``--duration`` seconds.

Prints a markdown table. Usage::

    .venv/bin/python bench/emulator.py [--iterations 500] [--threads 4] [--duration 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def start_emulator() -> tuple[subprocess.Popen[str], str, str]:
    """Start ``python -m devstack.jobrouter`` on a free port; its process, endpoint and key."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.jobrouter", "--port", "0", "--log-level", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+) .*accesskey=(\S+)$", line.strip())
    if match is None:
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, match[1], match[2]


def accept_round_trips(client: Any, iterations: int) -> tuple[list[float], list[float]]:
    """Per job: milliseconds from upsert to offer, and of the accept call itself."""
    accept_ms: list[float] = []
    offer_ms: list[float] = []
    for n in range(iterations):
        job_id = f"bench-{n}"
        started = time.perf_counter()
        client.upsert_job(job_id, RouterJob(channel_id="voice", queue_id="q"))
        while True:
            offers = [o for o in client.get_worker("w").offers or [] if o.job_id == job_id]
            if offers:
                break
        offered = time.perf_counter()
        before = time.perf_counter()
        result = client.accept_job_offer("w", offers[0].offer_id)
        accept_ms.append((time.perf_counter() - before) * 1000)
        offer_ms.append((offered - started) * 1000)
        client.complete_job(job_id, result.assignment_id)
        client.close_job(job_id, result.assignment_id)
    return accept_ms, offer_ms


def server_cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of a process (Linux /proc only; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(endpoint: str, key: str, threads: int, duration: float) -> tuple[float, int]:
    """``get_worker`` calls per second from ``threads`` clients for ``duration`` seconds."""
    counts = [0] * threads
    stop = time.monotonic() + duration

    def run(index: int) -> None:
        with JobRouterClient(endpoint, AzureKeyCredential(key), retry_total=0) as client:
            while time.monotonic() < stop:
                client.get_worker("w")
                counts[index] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started), sum(counts)


def main() -> None:
    """Measure the accept round trip and the request throughput; print them as a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=500, help="accept round trips to measure")
    parser.add_argument("--threads", type=int, default=4, help="client threads for the throughput run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the throughput run")
    args = parser.parse_args()

    proc, endpoint, key = start_emulator()
    try:
        credential = AzureKeyCredential(key)
        with (
            JobRouterAdministrationClient(endpoint, credential, retry_total=0) as admin,
            JobRouterClient(endpoint, credential, retry_total=0) as client,
        ):
            admin.upsert_distribution_policy(
                "dp", DistributionPolicy(offer_expires_after_seconds=60, mode=LongestIdleMode())
            )
            admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
            client.upsert_worker(
                "w",
                RouterWorker(
                    queues=["q"],
                    capacity=1,
                    channels=[RouterChannel(channel_id="voice", capacity_cost_per_job=1)],
                    available_for_offers=True,
                ),
            )
            for _ in range(20):  # warm up connections and code paths
                client.get_worker("w")
            accept_ms, offer_ms = accept_round_trips(client, args.iterations)
        cpu_before = server_cpu_seconds(proc.pid)
        rps, requests = throughput(endpoint, key, args.threads, args.duration)
        cpu_after = server_cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

    rows = [
        (
            f"accept round trip p50 (SDK `accept_job_offer`, n={len(accept_ms)})",
            f"{statistics.median(accept_ms):.2f} ms",
        ),
        ("accept round trip p99", f"{percentile(accept_ms, 0.99):.2f} ms"),
        ("accept round trip max", f"{max(accept_ms):.2f} ms"),
        ("job upsert -> offer visible p50 (polling `get_worker`)", f"{statistics.median(offer_ms):.2f} ms"),
        ("job upsert -> offer visible p99", f"{percentile(offer_ms, 0.99):.2f} ms"),
        (
            f"sustained `get_worker` requests/s ({args.threads} sync client threads, {args.duration:g} s)",
            f"{rps:.0f}",
        ),
    ]
    if cpu_before is not None and cpu_after is not None and requests:
        per_request = (cpu_after - cpu_before) / requests * 1000
        rows.append(("emulator CPU per request during that run", f"{per_request:.2f} ms"))
        rows.append(
            ("=> emulator capacity on one core (1000 / CPU ms)", f"~{1000 / per_request:.0f} requests/s")
        )
    print(
        f"Emulator benchmark ({datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()})\n"
    )
    print("| Measure | Value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
