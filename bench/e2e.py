"""Benchmark 5: end to end through the dev stack, against a bare-subscriber floor in the same run.

The stack is the one ``python -m devstack`` runs (``devstack.demo.stack.ProcessStack``): the Job Router emulator
and the Functions host stand-in as two processes; the emulator's Event Grid publisher delivers each
``RouterWorkerOfferIssued`` to the host's webhook, the host invokes ``on_offer_issued`` through the worker
library, and the function accepts over the SDK. The floor replaces host + function with
``bench/bare_subscriber.py`` (one async SDK accept per delivered event) behind the same emulator command line.

Load is closed-loop: ``C`` offers are kept in flight (a new job is submitted as soon as an offer is accepted),
for C = 1, 10, 50. The driver hears of accepts through an extra webhook subscribed to
``RouterWorkerOfferAccepted`` only (on both sides alike). Offer-issued -> answered latency is the difference of
the two events' ``eventTime`` (the emulator's clock), as in the demo's summary.
"""

from __future__ import annotations

import asyncio
import re
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
from devstack.demo import events as ev
from devstack.demo.events import DemoEvent
from devstack.demo.run import fetch_events
from devstack.demo.stack import ChildProcess, ProcessStack, StackOptions, free_port, wait_until_validated
from devstack.demo.webhook import AgentWebhook
from devstack.jobrouter.config import DEV_ACCESS_KEY

ACCEPT_ALL = '{"version": 1, "rules": [], "default": {"action": "accept"}}\n'
WORKERS = 20
LEVELS = (1, 10, 50)


@dataclass(frozen=True, slots=True)
class LevelResult:
    concurrency: int
    offers_per_s: float
    p50: float
    p95: float
    p99: float
    answered: int
    unanswered: int


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
    client: JobRouterClient, feedback: Feedback, concurrency: int, warmup: float, duration: float
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
    deadline = loop.time() + 10
    while feedback.accepted < submitted and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks, return_exceptions=True)
    assert window_start is not None
    return window_start, window_end


def _analyse(events: list[DemoEvent], concurrency: int, window: tuple[datetime, datetime]) -> LevelResult:
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
    )


async def _stack_level(concurrency: int, warmup: float, duration: float, tmp: Path) -> LevelResult:
    feedback = Feedback()
    await feedback.webhook.start()
    policy = tmp / "accept-all.json"
    policy.write_text(ACCEPT_ALL, encoding="utf-8")
    stack = ProcessStack(StackOptions(policy_file=policy, log_dir=tmp / f"stack-{concurrency}"))
    client: JobRouterClient | None = None
    try:
        info = await stack.start(agent_webhook=feedback.spec)
        client = await _setup(info.endpoint)
        window = await _drive(client, feedback, concurrency, warmup, duration)
        events = await fetch_events(info.endpoint)
    finally:
        if client is not None:
            await client.close()
        await stack.stop()
        await feedback.webhook.close()
    return _analyse(events, concurrency, window)


_BARE_READY = re.compile(r"listening on (?P<url>\S+)")
_EMULATOR_READY = re.compile(r"^Job Router emulator listening on")


async def _floor_level(concurrency: int, warmup: float, duration: float, tmp: Path) -> LevelResult:
    feedback = Feedback()
    await feedback.webhook.start()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = child_env()
    bare = ChildProcess(
        "bare subscriber",
        [PYTHON, "-m", "bench.bare_subscriber", endpoint, DEV_ACCESS_KEY],
        env=env, log_path=tmp / f"bare-{concurrency}.log", cwd=ROOT,
    )  # fmt: skip
    emulator: ChildProcess | None = None
    client: JobRouterClient | None = None
    try:
        await bare.start()
        url = (await bare.wait_for_line(_BARE_READY, 60))["url"]
        # The same emulator command line as the stack's (schema, retry scale, INFO logging), other webhooks.
        emulator = ChildProcess(
            "emulator",
            [PYTHON, "-m", "devstack.jobrouter", "--host", "127.0.0.1", "--port", str(port),
             "--webhook", f"{url}#types=RouterWorkerOfferIssued&name=bare",
             "--webhook", feedback.spec, "--schema", "eventgrid", "--retry-scale", "0.05"],
            env=env, log_path=tmp / f"floor-emulator-{concurrency}.log", cwd=ROOT,
        )  # fmt: skip
        await emulator.start()
        await emulator.wait_for_line(_EMULATOR_READY, 60)
        await wait_until_validated(endpoint, timeout=15)
        client = await _setup(endpoint)
        window = await _drive(client, feedback, concurrency, warmup, duration)
        events = await fetch_events(endpoint)
    finally:
        if client is not None:
            await client.close()
        if emulator is not None:
            await emulator.stop()
        await bare.stop()
        await feedback.webhook.close()
    return _analyse(events, concurrency, window)


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


def run(*, levels: tuple[int, ...] = LEVELS, warmup: float = 2.0, duration: float = 8.0) -> Table:
    started = time.monotonic()
    results = asyncio.run(_all(levels, warmup, duration))
    table = Table(
        "e2e",
        "5. End to end (dev stack)",
        f".venv/bin/python -m bench --only e2e   (closed loop, {warmup:g} s warm-up + {duration:g} s measured "
        "per level and side)",
        intro=(
            "emulator -> Event Grid delivery -> Functions host stand-in -> worker library -> function -> SDK "
            "accept, as `python -m devstack` runs it (`ProcessStack`: emulator and host as separate processes, "
            "both at their default INFO logging; the bench process reads the host's log as the demo does). "
            f"{WORKERS} workers, one queue, accept-all policy. **Baseline (floor)**: the same emulator command "
            "line delivering to `bench/bare_subscriber.py` (aiohttp webhook + one async SDK accept per event). "
            "Offers/s: offers accepted per second of the measured window. Latency: `eventTime` of "
            "RouterWorkerOfferAccepted minus RouterWorkerOfferIssued, for offers issued in the window."
        ),
    )
    for ours, floor in results:
        c = ours.concurrency
        tput_target = "≥ 300 offers/s (sustained, 2 cores)" if c == max(levels) else "context"
        table.add(f"{c} concurrent: sustained throughput", ours.offers_per_s, "offers/s", baseline_name="floor",
                  baseline=floor.offers_per_s, target=tput_target,
                  passed=ours.offers_per_s >= 300 if c == max(levels) else None)  # fmt: skip
        for label, mine, theirs in (("p50", ours.p50, floor.p50), ("p95", ours.p95, floor.p95),
                                    ("p99", ours.p99, floor.p99)):  # fmt: skip
            target, passed = "context", None
            if c == 10 and label == "p99":
                target, passed = "≤ 50 ms", mine <= 50.0
            table.add(f"{c} concurrent: issued→answered {label}", mine, "ms", baseline_name="floor",
                      baseline=theirs, target=target, passed=passed)  # fmt: skip
        table.notes.append(
            f"{c} concurrent: {ours.answered} offers measured ({ours.unanswered} unanswered) vs floor "
            f"{floor.answered} ({floor.unanswered} unanswered)."
        )
    table.notes.append(f"whole benchmark took {time.monotonic() - started:.0f} s.")
    return table
