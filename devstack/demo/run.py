"""The demo run: start the stack, apply the scenario through the SDK, submit jobs, watch them settle, sum up.

``Demo.run()`` does the work and returns the :class:`~devstack.demo.summary.Summary`; ``Demo.aclose()``
stops everything it started (call it in a ``finally``, also after a cancellation). With ``keep_running``,
``run()`` prints the endpoints after the summary and waits until it is cancelled (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import aiohttp
from azure.communication.jobrouter.aio import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    BestWorkerMode,
    DistributionMode,
    DistributionPolicy,
    LongestIdleMode,
    RoundRobinMode,
    RouterChannel,
    RouterJob,
    RouterQueue,
    RouterWorker,
)
from azure.core.credentials import AzureKeyCredential

from devstack.demo import demo_event as ev
from devstack.demo.agent import AgentApp, AgentStats, SdkActions
from devstack.demo.demo_event import DemoEvent, parse_envelope
from devstack.demo.hostlog import HostSnapshot
from devstack.demo.scenario import Scenario
from devstack.demo.stack import Stack, StackError, StackInfo
from devstack.demo.summary import PlannedJob, Summary, summarize
from devstack.demo.webhook import AgentWebhook
from devstack.jobrouter.eventgrid import DEFAULT_EVENT_LOG_LIMIT

__all__ = [
    "Demo",
    "DemoOptions",
    "DemoView",
    "Progress",
    "apply_scenario",
    "event_log_limit",
    "fetch_events",
    "plan_jobs",
]

_log = logging.getLogger(__name__)

POLL_INTERVAL: Final = 0.5
RECONCILE_TIMEOUT: Final = 10.0
#: Offer events the live view counts, in display order, with their labels.
LIVE_OFFER_EVENTS: Final = (
    (ev.OFFER_ISSUED, "issued"),
    (ev.OFFER_ACCEPTED, "accepted"),
    (ev.OFFER_DECLINED, "declined"),
    (ev.OFFER_EXPIRED, "expired"),
    (ev.OFFER_REVOKED, "revoked"),
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """One run: how many jobs, how fast, the seed of every random choice, how long to wait for them."""

    jobs: int
    rate: float
    seed: int
    settle_timeout: float
    keep_running: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """What the live view shows."""

    elapsed: float
    planned: int
    submitted: int
    settled: int
    jobs_by_status: Mapping[str, int]
    events: Mapping[str, int]
    host: HostSnapshot
    agent: AgentStats


class DemoView(Protocol):
    """Where the run reports (the rich terminal UI; tests pass a quiet one)."""

    def started(self, scenario: Scenario, options: DemoOptions, info: StackInfo) -> None:
        """The stack is up and the run begins."""

    def progress(self, progress: Progress) -> None:
        """Counts so far (called about every quarter second)."""

    def finished(self, summary: Summary) -> None:
        """The run is over: show its summary."""

    def keep_running(self, info: StackInfo) -> None:
        """``--keep-running``: show where everything listens."""


def plan_jobs(scenario: Scenario, count: int, seed: int) -> list[PlannedJob]:
    """``count`` jobs mixed by template weight, shuffled by ``seed``.

    Each block of sum(weights) jobs holds every template in proportion, so even a short run gets every kind.
    """
    rng = random.Random(f"{seed}|jobs")
    bag: list[str] = []
    width = max(4, len(str(count)))
    jobs: list[PlannedJob] = []
    for index in range(1, count + 1):
        if not bag:
            bag = [t.name for t in scenario.job_templates for _ in range(t.weight)]
            rng.shuffle(bag)
        template = scenario.template(bag.pop())
        job_id = f"{scenario.job_id_prefix}{index:0{width}d}"
        jobs.append(PlannedJob(job_id, template.name, scenario.expected_for(template)))
    return jobs


_MODES: Final[Mapping[str, type[DistributionMode]]] = {
    "longestIdle": LongestIdleMode,
    "roundRobin": RoundRobinMode,
    "bestWorker": BestWorkerMode,
}


async def apply_scenario(
    admin: JobRouterAdministrationClient, client: JobRouterClient, scenario: Scenario
) -> None:
    """Create the distribution policy, the queues and the (registered) workers through the SDK."""
    spec = scenario.distribution_policy
    mode = _MODES[spec.mode](
        min_concurrent_offers=spec.min_concurrent_offers, max_concurrent_offers=spec.max_concurrent_offers
    )
    await admin.upsert_distribution_policy(
        spec.id,
        DistributionPolicy(
            name=spec.name, offer_expires_after_seconds=spec.offer_expires_after_seconds, mode=mode
        ),
    )
    for queue in scenario.queues:
        await admin.upsert_queue(
            queue.id, RouterQueue(name=queue.name, distribution_policy_id=spec.id, labels=dict(queue.labels))
        )
    for worker in scenario.workers:
        await client.upsert_worker(
            worker.id,
            RouterWorker(
                capacity=worker.capacity,
                queues=list(worker.queues),
                labels=dict(worker.labels),
                tags=dict(worker.tags),
                channels=[
                    RouterChannel(
                        channel_id=c.channel_id,
                        capacity_cost_per_job=c.capacity_cost_per_job,
                        max_number_of_jobs=c.max_number_of_jobs,
                    )
                    for c in worker.channels
                ],
                available_for_offers=True,
            ),
        )


def event_log_limit(jobs: int) -> int:
    """The emulator's event-log limit for a run of ``jobs`` jobs: large enough to keep every event of it.

    The summary reads the whole log back. A job of the example scenario makes about nine events (declines,
    expiries and re-registrations included); fifty per job leaves room for busier scenarios.
    """
    return max(DEFAULT_EVENT_LOG_LIMIT, jobs * 50)


async def fetch_events(endpoint: str) -> list[DemoEvent]:
    """The emulator's event log (``GET /admin/events``), parsed."""
    async with aiohttp.ClientSession() as session, session.get(f"{endpoint}/admin/events") as response:
        response.raise_for_status()
        payload: Any = await response.json()
    return [parse_envelope(item) for item in payload]


class Demo:
    """One demo run over a :class:`~devstack.demo.stack.Stack`."""

    def __init__(self, scenario: Scenario, options: DemoOptions, stack: Stack, view: DemoView) -> None:
        self.scenario = scenario
        self.options = options
        self.stack = stack
        self.view = view
        self.plan = plan_jobs(scenario, options.jobs, options.seed)
        self.summary: Summary | None = None
        self.info: StackInfo | None = None
        self.agent: AgentApp | None = None
        self.event_counts: Counter[str] = Counter()
        self.submitted = 0
        self.hand_edits = 0
        self.statuses: dict[str, str] = {}
        self._webhook = AgentWebhook(self._on_event)
        self._client: JobRouterClient | None = None
        self._admin: JobRouterAdministrationClient | None = None
        self._started_at = 0.0

    def _on_event(self, event: DemoEvent) -> None:
        self.event_counts[event.type] += 1
        if self.agent is not None:
            self.agent.on_event(event)

    async def run(self) -> Summary:
        """Run the whole demo; returns the summary (and, with keep_running, waits to be cancelled)."""
        await self._webhook.start()
        info = await self.stack.start(agent_webhook=self._webhook.url)
        self.info = info
        credential = AzureKeyCredential(info.access_key)
        self._client = JobRouterClient(info.endpoint, credential)
        self._admin = JobRouterAdministrationClient(info.endpoint, credential)
        scenario = self.scenario
        self.agent = AgentApp(
            SdkActions(self._client),
            humans={w.id: scenario.agent_app for w in scenario.humans},
            # Only people: the function registers the fleet's bots again (an undeclared bot stays out).
            re_register={w.id: scenario.agent_app.re_register_after_seconds for w in scenario.humans},
            wrap_up=scenario.wrap_up,
            seed=self.options.seed,
        )
        self.view.started(scenario, self.options, info)
        await apply_scenario(self._admin, self._client, scenario)
        self._started_at = time.monotonic()
        loop = asyncio.get_running_loop()
        submitter = loop.create_task(self._submit(), name="submit-jobs")
        editor = loop.create_task(self._edit_by_hand(), name="hand-edits")
        try:
            await self._settle(submitter)
        finally:
            for task in (submitter, editor):
                if not task.done():
                    task.cancel()
            await asyncio.gather(submitter, editor, return_exceptions=True)
        elapsed = time.monotonic() - self._started_at
        events = await self._reconcile(info.endpoint)
        await self._poll()
        self.summary = summarize(
            planned=self.plan,
            submitted=self.submitted,
            final_statuses=self.statuses,
            events=events,
            host=self.stack.host_snapshot(),
            agent=self.agent.stats,
            roles={w.id: w.role for w in scenario.workers},
            wraps_up=scenario.wrap_up is not None,
            elapsed_seconds=elapsed,
            declared=scenario.fleet.worker_ids if scenario.fleet else frozenset(),
            hand_edits=self.hand_edits,
        )
        self.view.finished(self.summary)
        if self.options.keep_running:
            self.view.keep_running(info)
            await asyncio.Event().wait()  # until cancelled (Ctrl-C)
        return self.summary

    async def _submit(self) -> None:
        assert self._client is not None
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, job in enumerate(self.plan):
            delay = start + index / self.options.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            template = self.scenario.template(job.template)
            await self._client.upsert_job(
                job.job_id,
                RouterJob(
                    channel_reference=f"{template.channel_id}-{index + 1}",
                    channel_id=template.channel_id,
                    queue_id=template.queue_id,
                    priority=template.priority,
                    labels=dict(template.labels),
                    tags=dict(template.tags),
                ),
            )
            self.submitted += 1

    async def _edit_by_hand(self) -> None:
        """Make the scenario's hand edits on time (a person changing a worker in Job Router)."""
        assert self._client is not None
        fleet = self.scenario.fleet
        edits = sorted(fleet.hand_edits if fleet else (), key=lambda e: e.after_seconds)
        for edit in edits:
            await asyncio.sleep(max(0.0, self._started_at + edit.after_seconds - time.monotonic()))
            await self._client.upsert_worker(edit.worker_id, RouterWorker(queues=list(edit.queues)))
            self.hand_edits += 1
            _log.info("by hand: worker %s now listens on %s", edit.worker_id, ", ".join(edit.queues))

    async def _poll(self) -> None:
        assert self._client is not None
        planned = {job.job_id for job in self.plan}
        statuses: dict[str, str] = {}
        async for job in self._client.list_jobs(results_per_page=200):
            if job.id in planned and job.status is not None:
                statuses[job.id] = str(job.status)
        self.statuses = statuses

    def _settled(self) -> int:
        return sum(1 for job in self.plan if self.statuses.get(job.job_id) in job.expected)

    def progress(self) -> Progress:
        """A snapshot for the live view."""
        assert self.agent is not None
        return Progress(
            elapsed=time.monotonic() - self._started_at,
            planned=len(self.plan),
            submitted=self.submitted,
            settled=self._settled(),
            jobs_by_status=dict(Counter(self.statuses.values())),
            events=dict(self.event_counts),
            host=self.stack.host_snapshot(),
            agent=self.agent.stats,
        )

    async def _settle(self, submitter: asyncio.Task[None]) -> None:
        deadline: float | None = None
        while True:
            problem = self.stack.failure()
            if problem is not None:
                raise StackError(problem)
            await self._poll()
            self.view.progress(self.progress())
            if submitter.done():
                submitter.result()  # re-raise a submission failure
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.options.settle_timeout
                if self._settled() == len(self.plan) or now > deadline:
                    return
            await asyncio.sleep(POLL_INTERVAL)

    async def _reconcile(self, endpoint: str) -> list[DemoEvent]:
        """The event log once the function has been invoked for every offer issued so far (bounded)."""
        deadline = time.monotonic() + RECONCILE_TIMEOUT
        while True:
            events = await fetch_events(endpoint)
            issued = sum(1 for e in events if e.type == ev.OFFER_ISSUED)
            if self.stack.host_snapshot().invocations >= issued or time.monotonic() > deadline:
                return events
            await asyncio.sleep(0.1)

    async def aclose(self) -> None:
        """Stop the agent app, the clients, the stack and the webhook (never raises)."""
        agent, client, admin = self.agent, self._client, self._admin
        steps: list[Callable[[], Awaitable[object]]] = []
        if agent is not None:
            steps.append(agent.close)
        if client is not None:
            steps.append(client.close)
        if admin is not None:
            steps.append(admin.close)
        steps += [self.stack.stop, self._webhook.close]
        for step in steps:
            try:
                await step()
            except Exception:
                _log.exception("error while stopping the demo")
