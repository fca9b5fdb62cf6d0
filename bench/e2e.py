"""Benchmark 5: end to end through the dev stack, against a bare-subscriber floor in the same run.

The stack is the one ``python -m devstack`` runs (``devstack.demo.process_stack.ProcessStack``): the Job
Router emulator and the Functions host stand-in as two processes; the emulator's Event Grid publisher
delivers each ``RouterWorkerOfferIssued`` to the host's webhook, the host invokes ``on_offer_issued``
through the worker library, and the function accepts over the SDK. The floor replaces host + function with
``bench/bare_subscriber.py`` (one async SDK accept per delivered event) behind the same emulator command line.

Load is closed-loop: ``C`` offers are kept in flight (a new job is submitted as soon as an offer is accepted),
for C = 1, 10, 50. The driver hears of accepts through an extra webhook subscribed to
``RouterWorkerOfferAccepted`` only (on both sides alike). Offer-issued -> answered latency is the difference
of the two events' ``eventTime`` (the emulator's clock), as in the demo's summary.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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

from bench.common import PYTHON, ROOT, Table, child_env, log, percentile
from devstack.demo import demo_event as ev
from devstack.demo.demo_event import DemoEvent
from devstack.demo.process_stack import ChildProcess, ProcessStack
from devstack.demo.run import fetch_events
from devstack.demo.stack import StackOptions, free_port, wait_until_validated
from devstack.demo.webhook import AgentWebhook
from devstack.jobrouter.config import DEV_ACCESS_KEY

ACCEPT_ALL = '{"version": 1, "rules": [], "default": {"action": "accept"}}\n'
WORKERS = 20
LEVELS = (1, 10, 50)
#: The analysis reads back every event of a level's run (a few thousand jobs), so the emulator keeps them all.
EVENT_LOG_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class LevelResult:
    """One concurrency level's figures: throughput, offer-to-answer latency (ms), CPU per offer (ms)."""

    concurrency: int
    offers_per_s: float
    p50: float
    p95: float
    p99: float
    answered: int
    unanswered: int
    cpu_ms_per_offer: dict[str, float]


class Feedback:
    """Counts RouterWorkerOfferAccepted events delivered to the driver's webhook."""

    def __init__(self) -> None:
        self.accepted = 0
        self.changed = asyncio.Event()
        self.webhook = AgentWebhook(self._on_event)

    def _on_event(self, event: DemoEvent) -> None:
        if event.type == ev.OFFER_ACCEPTED:
            self.accepted += 1
            self.changed.set()

    @property
    def spec(self) -> str:
        """The driver's ``--webhook`` spec: accepted-offer events only."""
        # The stack appends "#name=agent-app" to what it is given; with a fragment of our own in front, that
        # ends up inside our `name` value, and `types` keeps the subscription to accepts only.
        return f"{self.webhook.url}#types=RouterWorkerOfferAccepted&name=bench-feedback"


async def _setup(endpoint: str) -> JobRouterClient:
    credential = AzureKeyCredential(DEV_ACCESS_KEY)
    async with JobRouterAdministrationClient(endpoint, credential) as admin:
        await admin.upsert_distribution_policy(
            "dp", DistributionPolicy(offer_expires_after_seconds=60, mode=LongestIdleMode())
        )
        await admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
    client = JobRouterClient(endpoint, credential, retry_total=0)
    for i in range(WORKERS):
        await client.upsert_worker(
            f"w-{i:02d}",
            RouterWorker(
                queues=["q"],
                capacity=100_000,
                channels=[RouterChannel(channel_id="voice", capacity_cost_per_job=1)],
                available_for_offers=True,
            ),
        )
    return client


async def _drive(
    client: JobRouterClient,
    feedback: Feedback,
    *,
    concurrency: int,
    warmup: float,
    duration: float,
    profiler: Profiler | None = None,
) -> tuple[datetime, datetime]:
    """Keep ``concurrency`` offers in flight; return the measured window (after the warm-up)."""
    submitted = 0
    tasks: set[asyncio.Task[object]] = set()
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start: datetime | None = None
    while loop.time() - start < warmup + duration:
        if window_start is None and loop.time() - start >= warmup:
            window_start = datetime.now(UTC)
            if profiler is not None:
                profiler.start()
        room = concurrency - (submitted - feedback.accepted)
        for _ in range(max(0, room)):
            job = RouterJob(channel_id="voice", queue_id="q")
            task = loop.create_task(client.upsert_job(f"e2e-{submitted:06d}", job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            submitted += 1
        feedback.changed.clear()
        try:
            async with asyncio.timeout(0.05):
                await feedback.changed.wait()
        except TimeoutError:
            pass
    window_end = datetime.now(UTC)
    if profiler is not None:
        profiler.stop()
    deadline = loop.time() + 10
    while feedback.accepted < submitted and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks, return_exceptions=True)
    assert window_start is not None
    return window_start, window_end


def _analyse(
    events: list[DemoEvent], concurrency: int, window: tuple[datetime, datetime], cpu: dict[str, float]
) -> LevelResult:
    start, end = window
    issued = {e.offer_id: e.time for e in events if e.type == ev.OFFER_ISSUED and e.offer_id}
    accepted = {e.offer_id: e.time for e in events if e.type == ev.OFFER_ACCEPTED and e.offer_id}
    in_window = [o for o, t in accepted.items() if start <= t < end]
    latencies = [
        (accepted[o] - t).total_seconds() * 1000
        for o, t in issued.items()
        if start <= t < end and o in accepted
    ]
    unanswered = sum(1 for o, t in issued.items() if start <= t < end and o not in accepted)
    seconds = (end - start).total_seconds()
    return LevelResult(
        concurrency,
        len(in_window) / seconds,
        percentile(latencies, 0.50),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        len(latencies),
        unanswered,
        {name: seconds * 1000 / max(1, len(in_window)) for name, seconds in cpu.items()},
    )


async def _stack_level(
    concurrency: int, warmup: float, duration: float, tmp: Path, profile_dir: Path | None = None
) -> LevelResult:
    feedback = Feedback()
    await feedback.webhook.start()
    policy = tmp / "accept-all.json"
    policy.write_text(ACCEPT_ALL, encoding="utf-8")
    stack = ProcessStack(
        StackOptions(
            policy_file=policy, log_dir=tmp / f"stack-{concurrency}", event_log_limit=EVENT_LOG_LIMIT
        )
    )
    client: JobRouterClient | None = None
    try:
        info = await stack.start(agent_webhook=feedback.spec)
        client = await _setup(info.endpoint)
        pids = {child.name.split()[-1].lower(): child.pid for child in stack.children}
        profiler = Profiler(profile_dir, f"stack-{concurrency}", duration, pids)
        window = await _drive(
            client, feedback, concurrency=concurrency, warmup=warmup, duration=duration, profiler=profiler
        )
        profiler.wait()
        events = await fetch_events(info.endpoint)
    finally:
        if client is not None:
            await client.close()
        await stack.stop()
        await feedback.webhook.close()
    return _analyse(events, concurrency, window, profiler.cpu)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0.0 elsewhere)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (Linux /proc/stat; 0.0 elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Profiler:
    """CPU seconds each process (and this driver) spends in the measured window.

    Optionally py-spy (requirements-dev.txt) samples them meanwhile, as raw collapsed stacks in ``out_dir``.
    """

    def __init__(
        self, out_dir: Path | None, label: str, duration: float, pids: dict[str, int | None]
    ) -> None:
        self.out_dir, self.label, self.duration = out_dir, label, duration
        self.pids = {**pids, "driver (bench process)": os.getpid()}
        self.procs: list[subprocess.Popen[bytes]] = []
        self._before: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def start(self) -> None:
        """Take the CPU counters and, with an output folder, start py-spy on every process."""
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._before["whole machine"] = machine_busy_seconds()
        if self.out_dir is None:
            return
        spy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
        for name, pid in self.pids.items():
            if pid is None or name.startswith("driver"):
                continue
            path = self.out_dir / f"{self.label}-{name}.txt"
            with path.with_suffix(".err").open("wb") as errors:  # why a profile came out empty
                self.procs.append(
                    subprocess.Popen(
                        [
                            spy,
                            "record",
                            "--pid",
                            str(pid),
                            "--duration",
                            f"{max(1, int(self.duration))}",
                            "--rate",
                            "250",
                            "--format",
                            "raw",
                            "--nonblocking",
                            "--output",
                            str(path),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=errors,
                    )
                )

    def stop(self) -> None:
        """CPU seconds used since ``start``, per process and for the whole machine."""
        self.cpu = {name: cpu_seconds(pid) - self._before.get(name, 0.0) for name, pid in self.pids.items()}
        self.cpu["whole machine"] = machine_busy_seconds() - self._before["whole machine"]

    def wait(self) -> None:
        """Wait for the py-spy recorders to finish writing (kill one that hangs)."""
        for proc in self.procs:
            try:
                proc.wait(timeout=self.duration + 30)
            except subprocess.TimeoutExpired:
                proc.kill()


_BARE_READY = re.compile(r"listening on (?P<url>\S+)")
_EMULATOR_READY = re.compile(r"^Job Router emulator listening on")


async def _floor_level(
    concurrency: int, warmup: float, duration: float, tmp: Path, profile_dir: Path | None = None
) -> LevelResult:
    feedback = Feedback()
    await feedback.webhook.start()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = child_env()
    bare = ChildProcess(
        "bare subscriber",
        [PYTHON, "-m", "bench.bare_subscriber", endpoint, DEV_ACCESS_KEY],
        env=env,
        log_path=tmp / f"bare-{concurrency}.log",
        cwd=ROOT,
    )
    emulator: ChildProcess | None = None
    client: JobRouterClient | None = None
    try:
        await bare.start()
        url = (await bare.wait_for_line(_BARE_READY, 60))["url"]
        # The same emulator command line as the stack's (schema, retry scale, INFO logging), other webhooks.
        emulator = ChildProcess(
            "emulator",
            [
                PYTHON,
                "-m",
                "devstack.jobrouter",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webhook",
                f"{url}#types=RouterWorkerOfferIssued&name=bare",
                "--webhook",
                feedback.spec,
                "--schema",
                "eventgrid",
                "--retry-scale",
                "0.05",
                "--event-log-limit",
                str(EVENT_LOG_LIMIT),
            ],
            env=env,
            log_path=tmp / f"floor-emulator-{concurrency}.log",
            cwd=ROOT,
        )
        await emulator.start()
        await emulator.wait_for_line(_EMULATOR_READY, 60)
        await wait_until_validated(endpoint, timeout=15)
        client = await _setup(endpoint)
        pids = {"emulator": emulator.pid, "subscriber": bare.pid}
        profiler = Profiler(profile_dir, f"floor-{concurrency}", duration, pids)
        window = await _drive(
            client, feedback, concurrency=concurrency, warmup=warmup, duration=duration, profiler=profiler
        )
        profiler.wait()
        events = await fetch_events(endpoint)
    finally:
        if client is not None:
            await client.close()
        if emulator is not None:
            await emulator.stop()
        await bare.stop()
        await feedback.webhook.close()
    return _analyse(events, concurrency, window, profiler.cpu)


async def _all(
    levels: tuple[int, ...], warmup: float, duration: float
) -> list[tuple[LevelResult, LevelResult]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as name:
        tmp = Path(name)
        for c in levels:
            log(f"end to end: {c} concurrent, dev stack")
            ours = await _stack_level(c, warmup, duration, tmp)
            log(f"end to end: {c} concurrent, floor")
            floor = await _floor_level(c, warmup, duration, tmp)
            results.append((ours, floor))
    return results


#: The pipeline against the floor at every level: throughput at least 0.9 of the floor's, p99 at most 1.2x.
THROUGHPUT_RATIO_TARGET = 0.9
P99_RATIO_TARGET = 1.2


def add_ratio_rows(table: Table, ours: LevelResult, floor: LevelResult) -> None:
    """The two ratio targets of one level as rows of their own (value: the ratio; its pass/miss)."""
    c = ours.concurrency
    tput = ours.offers_per_s / floor.offers_per_s if floor.offers_per_s else 0.0
    table.add(
        f"{c} concurrent: throughput ratio, dev stack / floor",
        tput,
        "x",
        target=f"≥ {THROUGHPUT_RATIO_TARGET:g}",
        passed=tput >= THROUGHPUT_RATIO_TARGET,
    )
    p99 = ours.p99 / floor.p99 if floor.p99 else float("inf")
    table.add(
        f"{c} concurrent: p99 ratio, dev stack / floor",
        p99,
        "x",
        target=f"≤ {P99_RATIO_TARGET:g}",
        passed=p99 <= P99_RATIO_TARGET,
    )


def run(*, levels: tuple[int, ...] = LEVELS, warmup: float = 2.0, duration: float = 8.0) -> Table:
    """Run floor and stack at every concurrency level and tabulate throughput, latency and CPU."""
    started = time.monotonic()
    results = asyncio.run(_all(levels, warmup, duration))
    table = Table(
        "e2e",
        "5. End to end (dev stack)",
        f".venv/bin/python -m bench --only e2e   (closed loop, {warmup:g} s warm-up + {duration:g} s "
        "measured "
        "per level and side)",
        intro=(
            "emulator -> Event Grid delivery -> Functions host stand-in -> worker library -> function -> SDK "
            "accept, as `python -m devstack` runs it (`ProcessStack`: emulator and host as separate "
            "processes, "
            "both at their default INFO logging; the bench process reads the host's log as the demo does). "
            f"{WORKERS} workers, one queue, accept-all policy. **Baseline (floor)**: the same "
            "emulator command "
            "line delivering to `bench/bare_subscriber.py` (aiohttp webhook + one async SDK accept "
            "per event). "
            "Offers/s: offers accepted per second of the measured window. Latency: `eventTime` of "
            "RouterWorkerOfferAccepted minus RouterWorkerOfferIssued, for offers issued in the window."
        ),
    )
    for ours, floor in results:
        c = ours.concurrency
        tput_target = "≥ 300 offers/s (sustained, 2 cores)" if c == max(levels) else "context"
        table.add(
            f"{c} concurrent: sustained throughput",
            ours.offers_per_s,
            "offers/s",
            baseline_name="floor",
            baseline=floor.offers_per_s,
            target=tput_target,
            passed=ours.offers_per_s >= 300 if c == max(levels) else None,
        )
        for label, mine, theirs in (
            ("p50", ours.p50, floor.p50),
            ("p95", ours.p95, floor.p95),
            ("p99", ours.p99, floor.p99),
        ):
            target, passed = "context", None
            if c == 10 and label == "p99":
                target, passed = "≤ 50 ms", mine <= 50.0
            table.add(
                f"{c} concurrent: issued→answered {label}",
                mine,
                "ms",
                baseline_name="floor",
                baseline=theirs,
                target=target,
                passed=passed,
            )
        add_ratio_rows(table, ours, floor)
        table.notes.append(
            f"{c} concurrent: {ours.answered} offers measured ({ours.unanswered} unanswered) vs floor "
            f"{floor.answered} ({floor.unanswered} unanswered)."
        )
    cpu_rows = ["| Level | Side | CPU ms per offer, by process |", "| --- | --- | --- |"]
    for ours, floor in results:
        for side, result in (("dev stack", ours), ("floor", floor)):
            parts = ", ".join(f"{name} {ms:.2f}" for name, ms in result.cpu_ms_per_offer.items())
            cpu_rows.append(f"| {result.concurrency} | {side} | {parts} |")
    table.extra_md = (
        "CPU time each process used in the measured window, per offer answered (`/proc/PID/stat`); "
        "*whole machine* is every core's busy time (`/proc/stat`), other jobs on the machine included, so "
        "*whole machine* minus the processes listed is load that is not ours:\n\n" + "\n".join(cpu_rows)
    )
    table.notes.append(f"whole benchmark took {time.monotonic() - started:.0f} s.")
    return table
