"""The ``aio`` SDK clients against an :class:`Emulator` running on the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from azure.communication.jobrouter.aio import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    DistributionPolicy,
    RoundRobinMode,
    RouterChannel,
    RouterJob,
    RouterJobOffer,
    RouterQueue,
    RouterWorker,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from devstack.jobrouter import Emulator, EmulatorConfig
from devstack.polling import wait_until_async


def run(
    scenario: Callable[[Emulator, JobRouterAdministrationClient, JobRouterClient], Awaitable[None]],
) -> None:
    async def main() -> None:
        async with Emulator(EmulatorConfig()) as emu:
            credential = AzureKeyCredential(emu.access_key)
            admin = JobRouterAdministrationClient(emu.endpoint, credential, retry_total=0)
            client = JobRouterClient(emu.endpoint, credential, retry_total=0)
            # Not ``async with ... as``: the SDK types what ``__aenter__`` returns as its generated base.
            async with admin, client:
                await scenario(emu, admin, client)

    asyncio.run(main())


async def setup(
    admin: JobRouterAdministrationClient, client: JobRouterClient, workers: list[str], max_offers: int = 1
) -> None:
    await admin.upsert_distribution_policy(
        "dp",
        DistributionPolicy(
            offer_expires_after_seconds=60,
            mode=RoundRobinMode(min_concurrent_offers=1, max_concurrent_offers=max_offers),
        ),
    )
    await admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
    for worker_id in workers:
        await client.upsert_worker(
            worker_id,
            RouterWorker(
                queues=["q"],
                capacity=1,
                channels=[RouterChannel(channel_id="voice", capacity_cost_per_job=1)],
                available_for_offers=True,
            ),
        )


async def offer_for(client: JobRouterClient, worker_id: str, job_id: str) -> RouterJobOffer:
    async def find() -> RouterJobOffer | None:
        worker = await client.get_worker(worker_id)
        return next((o for o in worker.offers or [] if o.job_id == job_id), None)

    return await wait_until_async(find, what=f"an offer of {job_id} for {worker_id}")


def test_aio_full_lifecycle() -> None:
    async def scenario(emu: Emulator, admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
        await setup(admin, client, ["w"])
        await client.upsert_job("j", RouterJob(channel_id="voice", queue_id="q"))
        offer = await offer_for(client, "w", "j")
        accepted = await client.accept_job_offer("w", offer.offer_id)
        await client.complete_job("j", accepted.assignment_id)
        await client.close_job("j", accepted.assignment_id)
        job = await client.get_job("j")
        assert job.status == "closed"
        jobs = [j.id async for j in client.list_jobs(results_per_page=1)]
        assert jobs == ["j"]
        await client.delete_job("j")
        with pytest.raises(ResourceNotFoundError):
            await client.get_job("j")

    run(scenario)


def test_aio_simultaneous_accepts_have_exactly_one_winner() -> None:
    async def scenario(emu: Emulator, admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
        workers = ["a", "b", "c"]
        await setup(admin, client, workers, max_offers=3)
        await client.upsert_job("j", RouterJob(channel_id="voice", queue_id="q"))
        held = {w: await offer_for(client, w, "j") for w in workers}

        results: list[Any] = await asyncio.gather(
            *(client.accept_job_offer(w, held[w].offer_id) for w in workers), return_exceptions=True
        )

        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, ResourceExistsError) for r in results if isinstance(r, BaseException))
        job = await client.get_job("j")
        assert job.status == "assigned"
        assert job.assignments is not None
        assert [a.worker_id for a in job.assignments.values()] == [winners[0].worker_id]

    run(scenario)


def test_aio_decline_then_the_next_worker_gets_the_offer() -> None:
    async def scenario(emu: Emulator, admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
        await setup(admin, client, ["a", "b"])
        await client.upsert_job("j", RouterJob(channel_id="voice", queue_id="q"))
        first = await offer_for(client, "a", "j")
        await client.decline_job_offer("a", first.offer_id)
        await offer_for(client, "b", "j")
        types = [e.event_type.rsplit(".", 1)[1] for e in emu.events if "/job/j" in e.subject]
        assert types == ["RouterWorkerOfferIssued", "RouterWorkerOfferDeclined", "RouterWorkerOfferIssued"]

    run(scenario)


def test_aio_paging_follows_next_links_and_signs_them() -> None:
    async def scenario(emu: Emulator, admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
        ids = [f"dp {n}/ü" for n in range(7)]  # the aiohttp transport normalises URLs before signing
        for policy_id in ids:
            await admin.upsert_distribution_policy(policy_id, {"offerExpiresAfterSeconds": 5})
        pages = [
            [p.id async for p in page]
            async for page in admin.list_distribution_policies(results_per_page=2).by_page()
        ]
        assert pages == [ids[6:4:-1], ids[4:2:-1], ids[2:0:-1], ids[0:1]]

    run(scenario)
