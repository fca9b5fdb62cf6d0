"""Benchmark: how the emulator's reaction to one change scales with the number of queued jobs.

The change: a worker becomes available for offers; the reaction: the offer for the first queued job is
issued. For each depth (100, 1,000, 10,000, 50,000 jobs queued in the worker's queue, all eligible, the
worker with room for one), measured two ways in one run:

- **engine**: in this process, a :class:`~devstack.jobrouter.engine.Router` on an in-memory store; time from
  the worker upsert to the RouterWorkerOfferIssued event (the matching pass runs on the next loop turn),
  and the CPU time of that change;
- **SDK over loopback**: ``python -m devstack.jobrouter --state FILE`` started on a state file holding the
  same jobs; the real sync ``JobRouterClient`` sends ``upsert_worker(available_for_offers=True)`` and polls
  ``get_worker`` until the offer shows; the emulator process's CPU time (``/proc``) per request.

Between measurements the worker is made unavailable again (its offer is revoked), so every measurement
does the same work. Run alone with ``python -m bench --only queue-depth``.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from azure.communication.jobrouter import JobRouterClient
from azure.communication.jobrouter.models import RouterWorker
from azure.core.credentials import AzureKeyCredential

from bench.common import PYTHON, ROOT, Table, child_env, log, median, percentile
from devstack.jobrouter.engine import Router
from devstack.jobrouter.event_types import WORKER_OFFER_ISSUED, RouterEvent
from devstack.jobrouter.store import Store
from devstack.jobrouter.timers import SystemClock

DEPTHS: Final = (100, 1_000, 10_000, 50_000)
TARGET_RATIO: Final = 1.5
_WORKER: Final = {
    "queues": ["q"],
    "capacity": 1,
    "channels": [{"channelId": "voice", "capacityCostPerJob": 1}],
}


@dataclass(frozen=True, slots=True)
class DepthResult:
    """The measurements at one depth."""

    depth: int
    seed_seconds: float
    engine_ms: list[float]
    engine_cpu_ms: list[float]
    sdk_ms: list[float]
    sdk_cpu_ms_per_request: float | None


def _drain(loop: asyncio.AbstractEventLoop, until: Callable[[], bool] | None = None) -> None:
    for _ in range(10_000):
        loop.run_until_complete(asyncio.sleep(0))
        if until is None or until():
            return
    raise RuntimeError("the engine did not react")


def _seeded_router(store: Store, depth: int, publish: Callable[[RouterEvent], None]) -> tuple[Router, Any]:
    """A router on ``store`` with ``depth`` jobs queued in queue ``q`` and worker ``w`` not available."""
    loop = asyncio.new_event_loop()
    router = Router(store, clock=SystemClock(), publish=publish, default_offer_expiry_seconds=3600.0)
    router.attach(loop)
    router.upsert(
        "distributionPolicies", "dp", {"offerExpiresAfterSeconds": 3600, "mode": {"kind": "longestIdle"}}
    )
    router.upsert("queues", "q", {"distributionPolicyId": "dp"})
    router.upsert("workers", "w", dict(_WORKER))
    for n in range(depth):
        router.upsert("jobs", f"job-{n:06d}", {"queueId": "q", "channelId": "voice", "priority": 1})
        if n % 1000 == 999:
            _drain(loop)
    _drain(loop)
    router.commit()
    return router, loop


def engine_reaction(depth: int, repeats: int) -> tuple[float, list[float], list[float]]:
    """Seconds to seed; per change: ms from the worker upsert to OfferIssued, and CPU ms of the change."""
    issued: list[float] = []

    def publish(event: RouterEvent) -> None:
        if event.event_type == WORKER_OFFER_ISSUED:
            issued.append(time.perf_counter())

    started = time.perf_counter()
    router, loop = _seeded_router(Store(), depth, publish)
    seed_seconds = time.perf_counter() - started
    wall: list[float] = []
    cpu: list[float] = []
    try:
        for n in range(repeats + 10):
            issued.clear()
            cpu_before, before = time.process_time(), time.perf_counter()
            router.upsert("workers", "w", {"availableForOffers": True})
            router.commit()
            _drain(loop, lambda: bool(issued))
            cpu_after = time.process_time()
            if n >= 10:  # the first ten warm up
                wall.append((issued[0] - before) * 1000)
                cpu.append((cpu_after - cpu_before) * 1000)
            router.upsert("workers", "w", {"availableForOffers": False})
            router.commit()
            _drain(loop)
    finally:
        router.close()
        loop.close()
    return seed_seconds, wall, cpu


def _write_state(path: Path, depth: int) -> None:
    router, loop = _seeded_router(Store(path), depth, lambda _: None)
    router.close()
    loop.close()


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sdk_reaction(state: Path, repeats: int) -> tuple[list[float], float | None]:
    """Per change: ms from ``upsert_worker`` to ``get_worker`` showing the offer; emulator CPU ms/request."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "devstack.jobrouter", "--port", "0", "--state", str(state), "--log-level", "WARNING"],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+) .*accesskey=(\S+)$", line.strip())
        if match is None:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        wall: list[float] = []
        requests = 0
        with JobRouterClient(match[1], AzureKeyCredential(match[2]), retry_total=0) as client:
            cpu_before: float | None = None
            for n in range(repeats + 10):
                if n == 10:  # the first ten warm up
                    cpu_before, requests = _cpu_seconds(proc.pid), 0
                before = time.perf_counter()
                client.upsert_worker("w", RouterWorker(available_for_offers=True))
                requests += 1
                while True:
                    requests += 1
                    if client.get_worker("w").offers:
                        break
                if n >= 10:
                    wall.append((time.perf_counter() - before) * 1000)
                client.upsert_worker("w", RouterWorker(available_for_offers=False))
                requests += 1
            cpu_after = _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    cpu_per_request = (
        (cpu_after - cpu_before) * 1000 / requests
        if cpu_before is not None and cpu_after is not None
        else None
    )
    return wall, cpu_per_request


def measure(depth: int, repeats: int) -> DepthResult:
    """Both measurements at one depth."""
    log(f"queue depth {depth}: engine in process")
    seed_seconds, engine_ms, engine_cpu = engine_reaction(depth, repeats)
    log(f"queue depth {depth}: SDK over loopback (seeding the state file)")
    with tempfile.TemporaryDirectory(prefix="queue-depth-") as folder:
        state = Path(folder) / "state.sqlite"
        _write_state(state, depth)
        sdk_ms, sdk_cpu = sdk_reaction(state, repeats)
    return DepthResult(depth, seed_seconds, engine_ms, engine_cpu, sdk_ms, sdk_cpu)


def _details(results: Sequence[DepthResult]) -> str:
    out = [
        "| Jobs queued | engine p50 | engine p90 | engine p99 | engine CPU per change p50 "
        "| SDK p50 | SDK p90 | emulator CPU per request | seeding (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cpu = "-" if r.sdk_cpu_ms_per_request is None else f"{r.sdk_cpu_ms_per_request:.3f} ms"
        out.append(
            f"| {r.depth:,} | {median(r.engine_ms):.3f} ms | {percentile(r.engine_ms, 0.9):.3f} ms "
            f"| {percentile(r.engine_ms, 0.99):.3f} ms | {median(r.engine_cpu_ms):.3f} ms "
            f"| {median(r.sdk_ms):.2f} ms | {percentile(r.sdk_ms, 0.9):.2f} ms | {cpu} "
            f"| {r.seed_seconds:.1f} |"
        )
    return "\n".join(out)


def run(depths: Sequence[int] = DEPTHS, repeats: int = 200) -> Table:
    """The section of BENCHMARKS.md: the deepest queue against the shallowest, plus a per-depth table."""
    results = [measure(depth, repeats) for depth in depths]
    shallow, deep = results[0], results[-1]
    table = Table(
        "queue-depth",
        "9. Reaction to one change against queue depth",
        ".venv/bin/python -m bench --only queue-depth",
        intro=(
            "A worker becomes available for offers; measured until the offer for the first queued job is "
            f"issued, with {', '.join(f'{d:,}' for d in depths)} jobs queued in its queue (all eligible, the "
            f"worker with room for one), {repeats} times per depth after 10 warm-up changes. *engine*: in "
            "process, worker upsert to RouterWorkerOfferIssued on an in-memory store. *SDK*: the sync "
            "`JobRouterClient` over loopback against `python -m devstack.jobrouter --state` seeded with the "
            "same jobs, `upsert_worker` until `get_worker` shows the offer (2 to 3 requests). The matching "
            "pass looks only at what changed (the matching index, `devstack/jobrouter/engine/"
            "matching_index.py`), so the depth should not show. Module: `bench/queue_depth.py`."
        ),
        extra_md=_details(results),
    )
    for label, values in (("engine", "engine_ms"), ("SDK over loopback", "sdk_ms")):
        deep_p50, shallow_p50 = median(getattr(deep, values)), median(getattr(shallow, values))
        table.add(
            f"{label}: worker available → offer issued, {deep.depth:,} jobs queued, p50",
            deep_p50,
            "ms",
            baseline_name=f"the same with {shallow.depth:,} jobs queued",
            baseline=shallow_p50,
            target=f"ratio ≤ {TARGET_RATIO}",
            passed=deep_p50 / shallow_p50 <= TARGET_RATIO,
        )
    if deep.sdk_cpu_ms_per_request is not None and shallow.sdk_cpu_ms_per_request is not None:
        table.add(
            f"emulator CPU per request, {deep.depth:,} jobs queued",
            deep.sdk_cpu_ms_per_request,
            "ms",
            baseline_name=f"the same with {shallow.depth:,} jobs queued",
            baseline=shallow.sdk_cpu_ms_per_request,
            target="context",
        )
    return table
