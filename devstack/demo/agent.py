"""The simulated agent app: what human agents' desktops and a workforce tool would do, driven by events.

- A human worker's offer (``RouterWorkerOfferIssued``) shows up in the agent's app. The agent accepts a share
  of them after a random delay and lets the rest expire. An offer that is declined (by the function, e.g.
  a VIP job for a junior), revoked, expired or accepted meanwhile disappears from the app unanswered.
- A person's worker Job Router deregistered (an offer expired) is registered again after a short pause,
  so the flow goes on, as a workforce tool or the agent clicking "available" would. Bots are not the
  app's: the function app registers the fleet's bots again itself (``on_worker_lifecycle``).
- With a wrap-up, every accepted job is completed and closed after a random handle time.

Random choices come from a generator seeded per (seed, job, worker, n-th offer), so a seed gives the same
choices whatever order the events arrive in.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from azure.communication.jobrouter.aio import JobRouterClient
from azure.communication.jobrouter.models import RouterWorker
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

from devstack.demo import demo_event as ev
from devstack.demo.demo_event import DemoEvent
from devstack.demo.scenario import AgentAppSpec, Range, WrapUpSpec

__all__ = ["AgentApp", "AgentStats", "RouterActions", "SdkActions"]

_log = logging.getLogger(__name__)

_FINISHED_LIMIT: Final = 100_000


class RouterActions(Protocol):
    """The Job Router calls the agent app makes (``SdkActions`` over the aio SDK; fakes in tests)."""

    async def accept(self, worker_id: str, offer_id: str) -> None:
        """Accept the offer for the worker."""

    async def register(self, worker_id: str) -> None:
        """Register the worker again (available for offers)."""

    async def complete_and_close(self, job_id: str, assignment_id: str) -> None:
        """Complete the job, then close it."""


class SdkActions:
    """``RouterActions`` over ``azure.communication.jobrouter.aio.JobRouterClient``."""

    def __init__(self, client: JobRouterClient) -> None:
        self._client = client

    async def accept(self, worker_id: str, offer_id: str) -> None:
        """Accept the offer for the worker."""
        await self._client.accept_job_offer(worker_id, offer_id)

    async def register(self, worker_id: str) -> None:
        """Register the worker again (available for offers)."""
        await self._client.upsert_worker(worker_id, RouterWorker(available_for_offers=True))

    async def complete_and_close(self, job_id: str, assignment_id: str) -> None:
        """Complete the job, then close it."""
        await self._client.complete_job(job_id, assignment_id)
        await self._client.close_job(job_id, assignment_id)


@dataclass(slots=True)
class AgentStats:
    """What the agent app did."""

    offers_seen: int = 0
    accepted: int = 0
    let_expire: int = 0
    withdrawn: int = 0  # the offer went away (declined by the function, revoked...) before the agent answered
    late: int = 0  # the accept came back 404/409: the offer was gone
    re_registered: int = 0
    wrapped_up: int = 0
    errors: int = 0


class AgentApp:
    """Answers human workers' offers, re-registers deregistered workers and wraps jobs up."""

    def __init__(
        self,
        actions: RouterActions,
        *,
        humans: Mapping[str, AgentAppSpec],
        re_register: Mapping[str, float],
        wrap_up: WrapUpSpec | None,
        seed: int,
    ) -> None:
        self._actions = actions
        self._humans = dict(humans)
        self._re_register = dict(re_register)
        self._wrap_up = wrap_up
        self._seed = seed
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._offer_counts: dict[tuple[str, str], int] = {}
        self._wrapped: set[str] = set()
        self._re_registering: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = AgentStats()

    def manage(self, worker_id: str, *, human: AgentAppSpec | None, re_register_after: float | None) -> None:
        """Add (or change) a worker: answer its offers as ``human``; re-register it after a pause."""
        if human is None:
            self._humans.pop(worker_id, None)
        else:
            self._humans[worker_id] = human
        if re_register_after is None:
            self._re_register.pop(worker_id, None)
        else:
            self._re_register[worker_id] = re_register_after

    @property
    def busy(self) -> int:
        """Calls and timers still running."""
        return len(self._tasks)

    def on_event(self, event: DemoEvent) -> None:
        """React to one router event (call on the event loop's thread)."""
        match event.type:
            case ev.OFFER_ISSUED:
                self._on_offer(event)
            case ev.OFFER_ACCEPTED:
                self._finish(event.offer_id)
                assignment_id = event.text("assignmentId")
                if self._wrap_up is not None and event.job_id and assignment_id:
                    self._wrap(event.job_id, assignment_id, self._wrap_up.handle_time)
            case ev.OFFER_DECLINED | ev.OFFER_REVOKED | ev.OFFER_EXPIRED:
                self._finish(event.offer_id)
            case ev.WORKER_DEREGISTERED:
                worker_id = event.worker_id
                if worker_id is not None and worker_id in self._re_register:
                    self._schedule_register(worker_id, self._re_register[worker_id])
            case _:
                pass

    async def close(self) -> None:
        """Cancel every pending answer, registration and wrap-up."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    # --- offers ---------------------------------------------------------------------------------

    def _on_offer(self, event: DemoEvent) -> None:
        worker_id, job_id, offer_id = event.worker_id, event.job_id, event.offer_id
        if worker_id is None or job_id is None or offer_id is None:
            return
        spec = self._humans.get(worker_id)
        if spec is None or offer_id in self._finished:
            return
        self.stats.offers_seen += 1
        key = (job_id, worker_id)
        nth = self._offer_counts.get(key, 0)
        self._offer_counts[key] = nth + 1
        rng = random.Random(f"{self._seed}|offer|{job_id}|{worker_id}|{nth}")
        if rng.random() >= spec.accept_share:
            self.stats.let_expire += 1
            _log.info("agent %s lets offer %s (job %s) expire", worker_id, offer_id, job_id)
            return
        delay = _draw(rng, spec.answer_delay)
        self._spawn(self._answer(worker_id, job_id, offer_id, delay), f"accept-{offer_id}")

    async def _answer(self, worker_id: str, job_id: str, offer_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if offer_id in self._finished:
            self.stats.withdrawn += 1
            return
        try:
            await self._actions.accept(worker_id, offer_id)
        except (ResourceNotFoundError, ResourceExistsError) as err:
            self.stats.late += 1
            _log.info(
                "agent %s was too late for offer %s (job %s): HTTP %s",
                worker_id,
                offer_id,
                job_id,
                err.status_code,
            )
            return
        except AzureError as err:
            self.stats.errors += 1
            _log.warning("agent %s could not accept offer %s (job %s): %s", worker_id, offer_id, job_id, err)
            return
        self.stats.accepted += 1
        _log.info("agent %s accepted offer %s (job %s) after %.2fs", worker_id, offer_id, job_id, delay)

    def _finish(self, offer_id: str | None) -> None:
        if offer_id is None:
            return
        self._finished[offer_id] = None
        while len(self._finished) > _FINISHED_LIMIT:
            self._finished.popitem(last=False)

    # --- workers and wrap-up --------------------------------------------------------------------

    def _schedule_register(self, worker_id: str, delay: float) -> None:
        if worker_id in self._re_registering:
            return
        self._re_registering.add(worker_id)
        self._spawn(self._register(worker_id, delay), f"register-{worker_id}")

    async def _register(self, worker_id: str, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            await self._actions.register(worker_id)
        except AzureError as err:
            self.stats.errors += 1
            _log.warning("could not register worker %s again: %s", worker_id, err)
            return
        finally:
            self._re_registering.discard(worker_id)
        self.stats.re_registered += 1
        _log.info("worker %s registered again", worker_id)

    def _wrap(self, job_id: str, assignment_id: str, handle_time: Range) -> None:
        if assignment_id in self._wrapped:
            return
        self._wrapped.add(assignment_id)
        rng = random.Random(f"{self._seed}|wrap|{job_id}|{assignment_id}")
        self._spawn(self._complete(job_id, assignment_id, _draw(rng, handle_time)), f"wrap-{job_id}")

    async def _complete(self, job_id: str, assignment_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self._actions.complete_and_close(job_id, assignment_id)
        except AzureError as err:
            self.stats.errors += 1
            _log.warning("could not complete and close job %s: %s", job_id, err)
            return
        self.stats.wrapped_up += 1

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _draw(rng: random.Random, span: Range) -> float:
    return span.minimum if span.maximum <= span.minimum else rng.uniform(span.minimum, span.maximum)
