"""Benchmark 9: offers in flight per worker process against the worker's thread-pool size, on the dev stack.

A sync Python function runs at most ``PYTHON_THREADPOOL_THREAD_COUNT`` invocations at once per worker process
(Python's default: min(32, CPUs + 4)); the host hands the worker every delivered event at once, so the rest
queue inside the process while their offers age. This runs the dev stack (``ProcessStack``: emulator and host
as two processes, as ``python -m devstack`` does) closed-loop at 50 and 200 offers in flight, once per pool
size, in one run, and reports issued→answered latency (the emulator's event times) with what the host's log
says about the worker process: invocations in flight (queued for a thread or running) and running at once
(the function body, from the decision lines' ``elapsed_ms``), time-weighted means and peaks.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from azure.communication.jobrouter.aio import JobRouterClient

from bench.common import Table, log
from bench.e2e import ACCEPT_ALL, Feedback, LevelResult, _analyse, _drive, _setup
from devstack.demo.process_stack import ProcessStack
from devstack.demo.run import fetch_events
from devstack.demo.stack import StackOptions
from devstack.functions_host.host import DEFAULT_APP_SETTINGS
from offer_handlers.decision_log import DecisionRecord, InvalidLogLineError, decision_text

LEVELS: Final = (50, 200)
#: Python's ThreadPoolExecutor default on this machine, which the worker uses when the setting is unset.
PYTHON_DEFAULT: Final = min(32, (os.cpu_count() or 1) + 4)
#: The size the host stand-in (and the deploy template) sets: the measurement below is what supports it.
CHOSEN: Final = int(DEFAULT_APP_SETTINGS["PYTHON_THREADPOOL_THREAD_COUNT"])
POOL_SIZES: Final = tuple(sorted({PYTHON_DEFAULT, 16, CHOSEN, 64, 128}))
_STAMP: Final = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_EXECUTED: Final = re.compile(r"Executed 'on_offer_issued' \((?:Succeeded|Failed), .*?, (?P<ms>[\d.]+) ms\)")


@dataclass(frozen=True, slots=True)
class Concurrency:
    """Time-weighted mean and peak of intervals overlapping a window."""

    mean: float
    peak: int


@dataclass(frozen=True, slots=True)
class PoolResult:
    """One pool size at one in-flight level."""

    pool: int
    level: LevelResult
    in_flight: Concurrency
    running: Concurrency


def _stamp(line: str) -> datetime | None:
    found = _STAMP.match(line)
    return None if found is None else datetime.strptime(found["at"], "%Y-%m-%d %H:%M:%S,%f")


def host_intervals(log_text: str) -> tuple[list[tuple[datetime, datetime]], list[tuple[datetime, datetime]]]:
    """(in flight, running) intervals of the offer function, from the host's log (its local clock).

    Each ``Executed`` line ends an invocation that took its duration (queueing for a thread included);
    each decision line ends a function body that took its ``elapsed_ms``.
    """
    in_flight: list[tuple[datetime, datetime]] = []
    running: list[tuple[datetime, datetime]] = []
    for line in log_text.splitlines():
        end = _stamp(line)
        if end is None:
            continue
        executed = _EXECUTED.search(line)
        if executed is not None:
            in_flight.append((end - timedelta(milliseconds=float(executed["ms"])), end))
            continue
        text = decision_text(line)
        if text is None:
            continue
        try:
            record = DecisionRecord.from_text(text)
        except InvalidLogLineError:
            continue
        if record.elapsed_ms is not None:
            running.append((end - timedelta(milliseconds=record.elapsed_ms), end))
    return in_flight, running


def concurrency(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> Concurrency:
    """Mean (time-weighted over the window) and peak number of overlapping intervals within it."""
    seconds = (end - start).total_seconds()
    covered = 0.0
    edges: list[tuple[datetime, int]] = []
    for begin, finish in intervals:
        lo, hi = max(begin, start), min(finish, end)
        if lo < hi:
            covered += (hi - lo).total_seconds()
            edges += [(lo, 1), (hi, -1)]
    peak = level = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        level += step
        peak = max(peak, level)
    return Concurrency(covered / seconds if seconds > 0 else 0.0, peak)


async def _one(pool: int, concurrency_level: int, warmup: float, duration: float, tmp: Path) -> PoolResult:
    feedback = Feedback()
    await feedback.webhook.start()
    policy = tmp / "accept-all.json"
    policy.write_text(ACCEPT_ALL, encoding="utf-8")
    log_dir = tmp / f"pool-{pool}-{concurrency_level}"
    options = StackOptions(
        policy_file=policy, log_dir=log_dir, host_settings={"PYTHON_THREADPOOL_THREAD_COUNT": str(pool)}
    )
    stack = ProcessStack(options)
    client: JobRouterClient | None = None
    try:
        info = await stack.start(agent_webhook=feedback.spec)
        client = await _setup(info.endpoint)
        window = await _drive(
            client, feedback, concurrency=concurrency_level, warmup=warmup, duration=duration
        )
        events = await fetch_events(info.endpoint)
    finally:
        if client is not None:
            await client.close()
        await stack.stop()
        await feedback.webhook.close()
    # The host logs in local time without a zone; the window is UTC.
    start, end = (moment.astimezone().replace(tzinfo=None) for moment in window)
    in_flight, running = host_intervals((log_dir / "functions-host.log").read_text(encoding="utf-8"))
    return PoolResult(
        pool,
        _analyse(events, concurrency_level, window, {}),
        concurrency(in_flight, start, end),
        concurrency(running, start, end),
    )


async def _all(
    pools: tuple[int, ...], levels: tuple[int, ...], warmup: float, duration: float
) -> list[PoolResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as name:
        for level in levels:
            for pool in pools:  # the sizes side by side at each level
                log(f"thread pool: {level} offers in flight, PYTHON_THREADPOOL_THREAD_COUNT={pool}")
                results.append(await _one(pool, level, warmup, duration, Path(name)))
    return results


def run(*, quick: bool = False) -> Table:
    """Measure every pool size at every level; the table compares each size with Python's default."""
    started = time.monotonic()
    pools = (PYTHON_DEFAULT, CHOSEN) if quick else POOL_SIZES
    warmup, duration = (0.5, 1.5) if quick else (3.0, 12.0)
    results = asyncio.run(_all(pools, LEVELS, warmup, duration))
    table = Table(
        "thread-pool",
        "9. Thread pool: offers in flight per worker process",
        f".venv/bin/python -m bench --only thread-pool   (closed loop, {warmup:g} s warm-up + {duration:g} s "
        f"measured per level and pool size; sizes {', '.join(map(str, pools))})",
        intro=(
            "The dev stack as `python -m devstack` runs it (emulator and host stand-in as two processes, "
            "one worker process, accept-all policy, 20 workers), kept at 50 and 200 offers in flight, with "
            "`PYTHON_THREADPOOL_THREAD_COUNT` set for the host. **Baseline**: Python's default pool "
            f"(min(32, CPUs + 4) = {PYTHON_DEFAULT} here; the worker uses it when the setting is unset), "
            "measured in the same run. *In flight*: offer invocations the worker process holds, queued for "
            "a thread or running (the host's `Executed` lines); *running*: function bodies executing at "
            "once (decision lines' `elapsed_ms`), never above the pool size. Latency: `eventTime` of "
            "RouterWorkerOfferAccepted minus RouterWorkerOfferIssued. The chosen size, "
            f"{CHOSEN}, is what the host stand-in sets by default and the deploy template sets."
        ),
    )
    default = {r.level.concurrency: r for r in results if r.pool == PYTHON_DEFAULT}
    for r in results:
        base = default[r.level.concurrency]
        c = r.level.concurrency
        label = {PYTHON_DEFAULT: "Python's default", CHOSEN: "chosen pool"}.get(r.pool, "pool")
        pairs = (("p50", r.level.p50, base.level.p50), ("p99", r.level.p99, base.level.p99))
        for name, mine, theirs in pairs:
            judged = r.pool == CHOSEN and name == "p99"
            table.add(
                f"{c} in flight, {label} ({r.pool} threads): issued→answered {name}",
                mine,
                "ms",
                baseline_name=f"default pool ({PYTHON_DEFAULT})",
                baseline=theirs,
                target="≤ the default pool's" if judged else "context",
                passed=mine <= theirs if judged else None,
            )
        table.add(
            f"{c} in flight, {label}: throughput",
            r.level.offers_per_s,
            "offers/s",
            baseline_name=f"default pool ({PYTHON_DEFAULT})",
            baseline=base.level.offers_per_s,
            target="context",
        )
    rows = [
        "| Offers in flight (driver) | Pool size | In flight in the worker: mean / peak "
        "| Running: mean / peak | p50 ms | p99 ms | Offers/s | Answered (unanswered) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rows.append(
            f"| {r.level.concurrency} | {r.pool} | {r.in_flight.mean:.1f} / {r.in_flight.peak} | "
            f"{r.running.mean:.1f} / {r.running.peak} | {r.level.p50:.0f} | {r.level.p99:.0f} | "
            f"{r.level.offers_per_s:.0f} | {r.level.answered} ({r.level.unanswered}) |"
        )
    table.extra_md = "\n".join(rows)
    table.notes.append(
        "The emulator delivers at most 64 events at once per subscription"
        ", so the worker process never holds more than about 64 offers; the rest of the "
        "offers in flight wait in the emulator's delivery queue, which the latency includes."
    )
    table.notes.append(
        "Peaks are ±1: the host's log stamps have millisecond resolution, so an invocation that ends in the "
        "millisecond another starts can count as overlapping."
    )
    table.notes.append(f"whole benchmark took {time.monotonic() - started:.0f} s.")
    return table
