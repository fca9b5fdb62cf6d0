"""Benchmark: a soak, the dev stack at a steady offer rate for many minutes, the emulator's memory watched.

The stack is the one ``python -m devstack`` runs (emulator and Functions host stand-in as two processes,
accept-all policy). The driver submits jobs at a fixed rate (open loop); the function accepts each offer;
the driver hears of each accept through a webhook subscribed to ``RouterWorkerOfferAccepted`` and completes,
closes and deletes the job, so a steady state holds a steady amount of work. Every ``sample`` seconds it reads
the emulator's resident memory (``VmRSS`` in ``/proc/PID/status``) and its event-log size
(``GET /admin/events``, capped by ``--event-log-limit``; ``GET /admin/publisher`` reports the cap).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
from azure.communication.jobrouter.aio import JobRouterClient
from azure.communication.jobrouter.models import RouterJob
from azure.core.exceptions import HttpResponseError

from bench.common import Table, log
from bench.e2e import ACCEPT_ALL, _setup
from devstack.demo import demo_event as ev
from devstack.demo.demo_event import DemoEvent
from devstack.demo.process_stack import ProcessStack
from devstack.demo.stack import StackOptions
from devstack.demo.webhook import AgentWebhook

MINUTES: Final = 20.0
RATE: Final = 20.0
SAMPLE_SECONDS: Final = 30.0
#: The first quarter of the run is warm-up: flatness is judged on the last 75% of the samples.
WARMUP_FRACTION: Final = 0.25
#: Flat: the largest sample after warm-up within 10% of the smallest, and the fitted line growing by no more
#: than 5% of the mean over the judged window.
MAX_MIN_TARGET: Final = 1.10
GROWTH_TARGET: Final = 0.05
#: The open-loop driver keeps up when it closes at least this fraction of the jobs it offered per second.
KEEP_UP_TARGET: Final = 0.95
_CLOSERS: Final = 4


@dataclass(frozen=True, slots=True)
class SoakSample:
    """One sample: seconds since the load started, memory (KiB), event-log size and cap, job counters."""

    elapsed_s: float
    emulator_rss_kib: int
    host_rss_kib: int
    event_log: int
    event_log_limit: int
    published: int
    submitted: int
    closed: int


@dataclass(frozen=True, slots=True)
class Flatness:
    """How flat a series is after warm-up: least-squares slope per minute, growth over the window, max/min."""

    slope_per_min: float
    growth_fraction: float
    max_min_ratio: float
    samples: int

    @property
    def flat(self) -> bool:
        """Both tests pass: max/min within ``MAX_MIN_TARGET``, fitted growth within ``GROWTH_TARGET``."""
        return self.max_min_ratio <= MAX_MIN_TARGET and self.growth_fraction <= GROWTH_TARGET


def flatness(times_s: Sequence[float], values: Sequence[float]) -> Flatness:
    """The flatness of ``values`` (sampled at ``times_s``) over the last 75% of the samples."""
    skip = int(len(values) * WARMUP_FRACTION)
    ts, vs = list(times_s[skip:]), [float(v) for v in values[skip:]]
    if len(vs) < 2 or min(vs) <= 0:
        return Flatness(0.0, 0.0, float("inf") if vs and min(vs) <= 0 else 1.0, len(vs))
    slope_per_s = statistics.linear_regression(ts, vs).slope if len(set(ts)) > 1 else 0.0
    growth = slope_per_s * (ts[-1] - ts[0]) / statistics.fmean(vs)
    return Flatness(slope_per_s * 60, growth, max(vs) / min(vs), len(vs))


def rss_kib(pid: int | None) -> int:
    """A process's resident set size in KiB (``VmRSS`` in /proc/PID/status; 0 when unreadable)."""
    if pid is None:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


class JobCloser:
    """Hears of accepted offers on its webhook and completes, closes and deletes each job."""

    def __init__(self) -> None:
        self.closed = 0
        self.failed = 0
        self._pending: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.webhook = AgentWebhook(self._on_event)

    def _on_event(self, event: DemoEvent) -> None:
        assignment = event.text("assignmentId")
        if event.type == ev.OFFER_ACCEPTED and event.job_id and assignment:
            self._pending.put_nowait((event.job_id, assignment))

    @property
    def spec(self) -> str:
        """The driver's ``--webhook`` spec: accepted-offer events only (as ``bench.e2e.Feedback``'s)."""
        return f"{self.webhook.url}#types=RouterWorkerOfferAccepted&name=bench-soak"

    async def run(self, client: JobRouterClient) -> None:
        """Close jobs as their accepts arrive (until cancelled)."""
        while True:
            job_id, assignment_id = await self._pending.get()
            try:
                await client.complete_job(job_id, assignment_id)
                await client.close_job(job_id, assignment_id)
                await client.delete_job(job_id)
                self.closed += 1
            except HttpResponseError as error:
                self.failed += 1
                log(f"soak: closing {job_id} failed: {error.status_code} {error.reason}")


async def _admin_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def _sample(
    session: aiohttp.ClientSession,
    endpoint: str,
    pids: dict[str, int | None],
    counters: tuple[float, int, int],
) -> SoakSample:
    elapsed, submitted, closed = counters
    # Memory first: serving the event log (up to the cap, as JSON) briefly takes memory of its own.
    emulator_rss, host_rss = rss_kib(pids.get("emulator")), rss_kib(pids.get("host"))
    events = await _admin_json(session, f"{endpoint}/admin/events")
    publisher = await _admin_json(session, f"{endpoint}/admin/publisher")
    return SoakSample(
        elapsed_s=elapsed,
        emulator_rss_kib=emulator_rss,
        host_rss_kib=host_rss,
        event_log=len(events),
        event_log_limit=int(publisher["eventLogLimit"]),
        published=int(publisher["stats"]["published"]),
        submitted=submitted,
        closed=closed,
    )


@dataclass(frozen=True, slots=True)
class SoakRun:
    """What one soak measured."""

    minutes: float
    rate: float
    samples: list[SoakSample]
    closed: int
    close_failures: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


async def _drive(
    endpoint: str, client: JobRouterClient, closer: JobCloser, pids: dict[str, int | None], plan: SoakPlan
) -> list[SoakSample]:
    """Submit ``rate`` jobs per second for ``minutes``, sampling every ``sample_seconds``."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()
    samples: list[SoakSample] = []
    start = loop.time()
    end = start + plan.minutes * 60
    next_sample = start
    submitted = 0
    async with aiohttp.ClientSession() as session:
        while (now := loop.time()) < end:
            if now >= next_sample:
                samples.append(
                    await _sample(session, endpoint, pids, (now - start, submitted, closer.closed))
                )
                log(f"soak: {samples[-1]}")
                next_sample += plan.sample_seconds
            due = int((loop.time() - start) * plan.rate) + 1
            while submitted < due:
                job = RouterJob(channel_id="voice", queue_id="q")
                task = loop.create_task(client.upsert_job(f"soak-{submitted:07d}", job))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                submitted += 1
            await asyncio.sleep(min(1 / plan.rate, max(0.0, end - loop.time())))
        await asyncio.gather(*tasks, return_exceptions=True)
        samples.append(
            await _sample(session, endpoint, pids, (loop.time() - start, submitted, closer.closed))
        )
    return samples


@dataclass(frozen=True, slots=True)
class SoakPlan:
    """How long, how fast, how often to sample, and the emulator's event-log cap (None: its default)."""

    minutes: float
    rate: float
    sample_seconds: float
    event_log_limit: int | None


async def _soak(plan: SoakPlan, tmp: Path) -> SoakRun:
    closer = JobCloser()
    await closer.webhook.start()
    policy = tmp / "accept-all.json"
    policy.write_text(ACCEPT_ALL, encoding="utf-8")
    stack = ProcessStack(
        StackOptions(policy_file=policy, log_dir=tmp / "stack", event_log_limit=plan.event_log_limit)
    )
    client: JobRouterClient | None = None
    closers: list[asyncio.Task[None]] = []
    load_before = os.getloadavg()
    try:
        info = await stack.start(agent_webhook=closer.spec)
        client = await _setup(info.endpoint)
        closers = [asyncio.create_task(closer.run(client)) for _ in range(_CLOSERS)]
        pids = {child.name.split()[-1].lower(): child.pid for child in stack.children}
        samples = await _drive(info.endpoint, client, closer, pids, plan)
    finally:
        for task in closers:
            task.cancel()
        await asyncio.gather(*closers, return_exceptions=True)
        if client is not None:
            await client.close()
        await stack.stop()
        await closer.webhook.close()
    return SoakRun(
        plan.minutes, plan.rate, samples, closer.closed, closer.failed, load_before, os.getloadavg()
    )


def samples_table(samples: Sequence[SoakSample], rows: int = 13) -> str:
    """About ``rows`` evenly spaced samples, always the last one, as a markdown table."""
    step = max(1, (len(samples) - 1) // (rows - 1))
    shown = [*samples[::step]]
    if shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    out = [
        "| Elapsed (min:s) | Emulator RSS | Host RSS | Event log (cap) | Events published | Jobs submitted "
        "| Jobs closed |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in shown:
        out.append(
            f"| {int(s.elapsed_s // 60)}:{int(s.elapsed_s % 60):02d} | {s.emulator_rss_kib / 1024:.1f} MiB | "
            f"{s.host_rss_kib / 1024:.1f} MiB | {s.event_log:,} ({s.event_log_limit:,}) | {s.published:,} | "
            f"{s.submitted:,} | {s.closed:,} |"
        )
    return "\n".join(out)


def _flatness_rows(table: Table, name: str, unit: str, scale: float, series: Flatness) -> None:
    table.add(
        f"{name}: max / min after warm-up",
        series.max_min_ratio,
        "x",
        target=f"≤ {MAX_MIN_TARGET:g}",
        passed=series.max_min_ratio <= MAX_MIN_TARGET,
    )
    table.add(
        f"{name}: fitted growth after warm-up (slope {series.slope_per_min / scale:+.3f} {unit}/min)",
        series.growth_fraction * 100,
        "%",
        target=f"≤ {GROWTH_TARGET * 100:g}% of the mean",
        passed=series.growth_fraction <= GROWTH_TARGET,
    )


def tabulate(result: SoakRun, command: str) -> Table:
    """The soak's section of BENCHMARKS.md."""
    samples = result.samples
    times = [s.elapsed_s for s in samples]
    rss = flatness(times, [s.emulator_rss_kib for s in samples])
    events = flatness(times, [s.event_log for s in samples])
    cap = samples[-1].event_log_limit
    seconds = samples[-1].elapsed_s
    table = Table(
        "soak",
        "10. Soak (dev stack at a steady rate)",
        command,
        intro=(
            "`python -m devstack`'s two processes (emulator, Functions host stand-in), accept-all policy, "
            f"for "
            f"{result.minutes:g} min at {result.rate:g} jobs/s submitted (open loop); the driver completes, "
            "closes and deletes each job once its offer is accepted. Every sample reads the emulator's "
            "`VmRSS` (`/proc/PID/status`) and its event-log size (`GET /admin/events`; the cap is "
            "`--event-log-limit`, reported by `GET /admin/publisher`). Flatness is judged on the last "
            f"{100 - WARMUP_FRACTION * 100:g}% of the samples (the first {WARMUP_FRACTION * 100:g}% are "
            "warm-up): max/min, and the least-squares line's growth across that window against the mean."
        ),
    )
    _flatness_rows(table, "emulator RSS", "MiB", 1024, rss)
    _flatness_rows(table, "event-log size", "events", 1, events)
    table.add(
        "event-log size at the end (cap)",
        samples[-1].event_log,
        "",
        baseline_name="cap",
        baseline=cap,
        target="≤ cap",
        passed=max(s.event_log for s in samples) <= cap,
    )
    table.add(
        "jobs closed per second",
        result.closed / seconds if seconds else 0.0,
        "jobs/s",
        baseline_name="submitted rate",
        baseline=result.rate,
        target=f"≥ {KEEP_UP_TARGET:g} x submitted",
        passed=result.closed >= KEEP_UP_TARGET * result.rate * seconds,
    )
    table.add("host RSS at the end", samples[-1].host_rss_kib / 1024, "MiB")
    table.extra_md = samples_table(samples)
    table.notes += [
        f"{len(samples)} samples over {seconds / 60:.1f} min; {result.closed:,} jobs closed, "
        f"{result.close_failures} close failures; {rss.samples} samples judged.",
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in result.load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in result.load_after)
        + f" (2 cores shared with other work; {os.cpu_count()} CPUs seen).",
    ]
    return table


def run(
    *,
    minutes: float = MINUTES,
    rate: float = RATE,
    sample_seconds: float = SAMPLE_SECONDS,
    event_log_limit: int | None = None,
) -> Table:
    """Run the soak and tabulate its samples and flatness."""
    plan = SoakPlan(minutes, rate, sample_seconds, event_log_limit)
    log(f"soak: {minutes:g} min at {rate:g} jobs/s, a sample every {sample_seconds:g} s")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as name:
        result = asyncio.run(_soak(plan, Path(name)))
    limit = "" if event_log_limit is None else f"   (--quick: event-log cap {event_log_limit})"
    command = f".venv/bin/python -m bench --only soak --soak-minutes {minutes:g} --soak-rate {rate:g}{limit}"
    table = tabulate(result, command)
    table.notes.append(f"whole benchmark took {time.monotonic() - started:.0f} s.")
    return table
