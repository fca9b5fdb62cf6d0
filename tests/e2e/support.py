"""The whole dev stack in the test process: emulator, Functions host (running function_app.py), agent app.

``LiveStack`` runs an :class:`~devstack.demo.inprocess_stack.InProcessStack`, the orchestrator's agent
webhook and an :class:`~devstack.demo.agent.AgentApp` on an event loop in a background thread, so tests
drive it with the real synchronous SDK over loopback HTTP, the way a user would. Events the agent webhook
receives are recorded for bounded waits (``wait_for``) instead of sleeps.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.aio import JobRouterClient as AsyncJobRouterClient
from azure.communication.jobrouter.models import (
    DistributionPolicy,
    LongestIdleMode,
    RouterChannel,
    RouterJob,
    RouterQueue,
    RouterWorker,
)
from azure.core.credentials import AzureKeyCredential

from devstack.demo.agent import AgentApp, SdkActions
from devstack.demo.demo_event import DemoEvent
from devstack.demo.hostlog import FleetLine
from devstack.demo.inprocess_stack import InProcessStack
from devstack.demo.scenario import AgentAppSpec, Range
from devstack.demo.stack import StackInfo, StackOptions
from devstack.demo.webhook import AgentWebhook
from devstack.functions_host import FunctionsHost
from devstack.jobrouter import Emulator
from devstack.jobrouter.eventgrid import Schema
from devstack.polling import wait_until
from offer_handlers.decision_log import DecisionRecord

T = TypeVar("T")

ROOT: Final = Path(__file__).resolve().parent.parent.parent
CONTACT_CENTRE_POLICY: Final = ROOT / "examples" / "contact-centre-policy.json"
#: Event Grid's retry schedule compressed 50x: the first redelivery comes after 0.2 s.
RETRY_SCALE: Final = 0.02


class LiveStack:
    """The dev stack on a background loop; ``admin`` and ``client`` are sync SDK clients (dev key)."""

    def __init__(
        self,
        schema: Schema = "eventgrid",
        *,
        host_settings: dict[str, str] | None = None,
        fleet_file: Path | None = None,
        worker_idle_seconds: float | None = None,
    ) -> None:
        self.options = StackOptions(
            policy_file=CONTACT_CENTRE_POLICY,
            fleet_file=fleet_file,
            worker_idle_seconds=worker_idle_seconds,
            schema=schema,
            seed=1,
            retry_scale=RETRY_SCALE,
            host_settings=host_settings or {},
        )
        self.stack = InProcessStack(self.options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="e2e-stack", daemon=True)
        self._events: list[DemoEvent] = []
        self._lock = threading.Lock()
        self._webhook = AgentWebhook(self._record)
        self._aio_client: AsyncJobRouterClient | None = None
        self.agent: AgentApp | None = None
        self.info: StackInfo | None = None
        self._admin: JobRouterAdministrationClient | None = None
        self._client: JobRouterClient | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._thread.start()
        try:
            self.info = self.run(self._start())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        credential = AzureKeyCredential(self.info.access_key)
        self._admin = JobRouterAdministrationClient(self.info.endpoint, credential, retry_total=0)
        self._client = JobRouterClient(self.info.endpoint, credential, retry_total=0)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sdk in (self._admin, self._client):
            if sdk is not None:
                sdk.close()
        if self._thread.is_alive():
            self.run(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    async def _start(self) -> StackInfo:
        await self._webhook.start()
        info = await self.stack.start(agent_webhook=self._webhook.url)
        self._aio_client = AsyncJobRouterClient(info.endpoint, AzureKeyCredential(info.access_key))
        self.agent = AgentApp(SdkActions(self._aio_client), humans={}, re_register={}, wrap_up=None, seed=1)
        return info

    async def _stop(self) -> None:
        if self.agent is not None:
            await self.agent.close()
        if self._aio_client is not None:
            await self._aio_client.close()
        await self.stack.stop()
        await self._webhook.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the stack's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the stack's loop thread (for the emulator's and agent's loop-bound APIs)."""

        async def run() -> T:
            return fn()

        return self.run(run())

    # --- parts ----------------------------------------------------------------------------------

    @property
    def admin(self) -> JobRouterAdministrationClient:
        assert self._admin is not None
        return self._admin

    @property
    def client(self) -> JobRouterClient:
        assert self._client is not None
        return self._client

    @property
    def emulator(self) -> Emulator:
        assert self.stack.emulator is not None
        return self.stack.emulator

    @property
    def host(self) -> FunctionsHost:
        assert self.stack.host is not None
        return self.stack.host

    @property
    def endpoint(self) -> str:
        assert self.info is not None
        return self.info.endpoint

    def fleet_actions(self, *, worker_id: str | None = None) -> list[FleetLine]:
        """The fleet-log lines so far (optionally for one worker; runs' summary lines have no worker)."""
        lines = self.stack.host_snapshot().fleet_actions
        return [line for line in lines if worker_id is None or line.worker_id == worker_id]

    def decisions(self, *, job_id: str | None = None) -> list[DecisionRecord]:
        """The function's decision-log lines so far (optionally for one job)."""
        lines = self.stack.host_snapshot().decisions
        return [d for d in lines if job_id is None or d.job_id == job_id]

    # --- events ---------------------------------------------------------------------------------

    def _record(self, event: DemoEvent) -> None:
        with self._lock:
            self._events.append(event)
        if self.agent is not None:
            self.agent.on_event(event)

    def events(
        self, kind: str | None = None, *, job_id: str | None = None, worker_id: str | None = None
    ) -> list[DemoEvent]:
        """Events received so far, in event-time order, filtered by short type, job and worker."""
        with self._lock:
            events = list(self._events)
        return sorted(
            (
                e
                for e in events
                if (kind is None or e.type == kind)
                and (job_id is None or e.job_id == job_id)
                and (worker_id is None or e.worker_id == worker_id)
            ),
            key=lambda e: e.time,
        )

    def wait_for(self, check: Callable[[], T | None], *, timeout: float = 10.0, what: str = "") -> T:
        """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
        return wait_until(check, timeout=timeout, what=what)

    def wait_for_events(
        self, kind: str, count: int = 1, *, timeout: float = 10.0, **filters: str
    ) -> list[DemoEvent]:
        """At least ``count`` events of ``kind`` matching ``filters`` (job_id=, worker_id=)."""
        return self.wait_for(
            lambda: found if len(found := self.events(kind, **filters)) >= count else None,
            timeout=timeout,
            what=f"{count} x {kind} {filters}",
        )

    # --- setup through the SDK ------------------------------------------------------------------

    def queue(self, *, offer_expires_after_seconds: float = 10.0, queue_id: str | None = None) -> str:
        """A new distribution policy and queue (unique ids unless ``queue_id`` is given); returns its id."""
        suffix = uuid.uuid4().hex[:8]
        queue_id = queue_id or f"q-{suffix}"
        self.admin.upsert_distribution_policy(
            f"dp-{suffix}",
            DistributionPolicy(
                offer_expires_after_seconds=offer_expires_after_seconds, mode=LongestIdleMode()
            ),
        )
        self.admin.upsert_queue(queue_id, RouterQueue(distribution_policy_id=f"dp-{suffix}"))
        return queue_id

    def worker(
        self,
        queue_id: str,
        *,
        kind: str,
        level: int,
        capacity: int = 1,
        answers: AgentAppSpec | None = None,
        re_register_after: float | None = None,
        available: bool = True,
    ) -> str:
        """A registered worker labelled like the scenario's (kind, level); ``answers`` hands its offers to
        the agent app."""
        worker_id = f"{kind}-{uuid.uuid4().hex[:8]}"
        agent = self.agent
        assert agent is not None
        self.call(lambda: agent.manage(worker_id, human=answers, re_register_after=re_register_after))
        self.client.upsert_worker(
            worker_id,
            RouterWorker(
                capacity=capacity,
                queues=[queue_id],
                labels={"kind": kind, "level": level},
                channels=[RouterChannel(channel_id="chat", capacity_cost_per_job=1)],
                available_for_offers=available,
            ),
        )
        return worker_id

    def job(self, queue_id: str, *, vip: bool = False, requires_human: bool = False) -> str:
        """Submit a chat job labelled like the scenario's; returns its id."""
        job_id = f"job-{uuid.uuid4().hex[:8]}"
        self.client.upsert_job(
            job_id,
            RouterJob(
                channel_id="chat",
                queue_id=queue_id,
                priority=1,
                labels={"vip": vip, "requiresHuman": requires_human},
            ),
        )
        return job_id

    def job_status(self, job_id: str) -> str:
        return str(self.client.get_job(job_id).status)

    def assigned_worker(self, job_id: str) -> str | None:
        """The worker the job is assigned to (None while unassigned)."""
        job = self.client.get_job(job_id)
        if job.status != "assigned" or not job.assignments:
            return None
        (assignment,) = job.assignments.values()
        return assignment.worker_id


def human(*, accept_share: float, delay: float = 0.1) -> AgentAppSpec:
    """How the agent app answers a test human's offers."""
    return AgentAppSpec(
        accept_share=accept_share, answer_delay=Range(delay, delay), re_register_after_seconds=0.0
    )


def stack_of(schema: Schema, **kwargs: Any) -> Iterator[LiveStack]:
    """Fixture body: a started :class:`LiveStack`, stopped afterwards."""
    with LiveStack(schema, **kwargs) as live:
        yield live
