"""Function rules calling a real Python (v2 model) HTTP-triggered function, served by the Functions host
stand-in through Microsoft's worker library: the key in ``x-functions-key`` passes the host's
function-level auth, and the function's answer sets the job's priority and ranks the workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from azure.communication.jobrouter.aio import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    BestWorkerMode,
    ClassificationPolicy,
    DistributionPolicy,
    FunctionRouterRule,
    FunctionRouterRuleCredential,
    RouterChannel,
    RouterJob,
    RouterQueue,
    RouterWorker,
    ScoringRuleOptions,
)
from azure.core.credentials import AzureKeyCredential

from devstack.functions_host import FunctionsHost
from devstack.jobrouter import Emulator, EmulatorConfig
from devstack.polling import wait_until_async

APP = Path(__file__).parent / "rule_function_app"
KEY = "rule-function-key"

type Scenario = Callable[[FunctionsHost, JobRouterAdministrationClient, JobRouterClient], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        async with (
            FunctionsHost(APP, {"DEVSTACK_FUNCTION_KEY": KEY}) as host,
            Emulator(EmulatorConfig()) as emu,
        ):
            credential = AzureKeyCredential(emu.access_key)
            admin = JobRouterAdministrationClient(emu.endpoint, credential, retry_total=0)
            client = JobRouterClient(emu.endpoint, credential, retry_total=0)
            async with admin, client:
                await scenario(host, admin, client)

    asyncio.run(main())


def rule(host: FunctionsHost, route: str, key: str = KEY) -> FunctionRouterRule:
    return FunctionRouterRule(
        function_uri=host.http_url(route), credential=FunctionRouterRuleCredential(function_key=key)
    )


async def job_status(client: JobRouterClient, job_id: str, status: str) -> RouterJob:
    async def check() -> RouterJob | None:
        job = await client.get_job(job_id)
        return job if job.status == status else None

    return await wait_until_async(check, timeout=10.0, what=f"job {job_id} to be {status}")


def test_a_prioritization_function_served_by_the_host_sets_the_priority() -> None:
    async def scenario(
        host: FunctionsHost, admin: JobRouterAdministrationClient, client: JobRouterClient
    ) -> None:
        await admin.upsert_distribution_policy("dp", DistributionPolicy(offer_expires_after_seconds=60))
        await admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
        await admin.upsert_classification_policy(
            "cp", ClassificationPolicy(fallback_queue_id="q", prioritization_rule=rule(host, "priority"))
        )
        for job_id, urgent in (("urgent", True), ("routine", False)):
            await client.upsert_job(
                job_id,
                RouterJob(channel_id="voice", classification_policy_id="cp", labels={"urgent": urgent}),
            )
        assert (await job_status(client, "urgent", "queued")).priority == 10
        assert (await job_status(client, "routine", "queued")).priority == 5
        assert [r.function_name for r in host.records].count("get_priority") == 2

    run(scenario)


def test_the_host_refuses_a_wrong_function_key_and_the_job_fails_classification() -> None:
    async def scenario(
        host: FunctionsHost, admin: JobRouterAdministrationClient, client: JobRouterClient
    ) -> None:
        await admin.upsert_distribution_policy("dp", DistributionPolicy(offer_expires_after_seconds=60))
        await admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
        await admin.upsert_classification_policy(
            "cp",
            ClassificationPolicy(
                fallback_queue_id="q", prioritization_rule=rule(host, "priority", "wrong-key")
            ),
        )
        await client.upsert_job("j", RouterJob(channel_id="voice", classification_policy_id="cp"))
        await job_status(client, "j", "classificationFailed")
        assert "get_priority" not in [r.function_name for r in host.records]

    run(scenario)


def test_a_batch_scoring_function_served_by_the_host_ranks_the_workers() -> None:
    async def scenario(
        host: FunctionsHost, admin: JobRouterAdministrationClient, client: JobRouterClient
    ) -> None:
        options = ScoringRuleOptions(is_batch_scoring_enabled=True, batch_size=2)
        mode = BestWorkerMode(scoring_rule=rule(host, "score"), scoring_rule_options=options)
        await admin.upsert_distribution_policy(
            "dp", DistributionPolicy(offer_expires_after_seconds=60, mode=mode)
        )
        await admin.upsert_queue("q", RouterQueue(distribution_policy_id="dp"))
        for worker_id, skill in (("novice", 1), ("expert", 9), ("adept", 5)):
            await client.upsert_worker(
                worker_id,
                RouterWorker(
                    queues=["q"],
                    capacity=1,
                    channels=[RouterChannel(channel_id="voice", capacity_cost_per_job=1)],
                    labels={"Skill": skill},
                    available_for_offers=True,
                ),
            )
        await client.upsert_job("j", RouterJob(channel_id="voice", queue_id="q"))

        async def holder() -> str | None:
            for worker_id in ("novice", "expert", "adept"):
                if (await client.get_worker(worker_id)).offers:
                    return worker_id
            return None

        assert await wait_until_async(holder, timeout=10.0, what="an offer") == "expert"
        assert [r.function_name for r in host.records].count("score_workers") == 2  # 3 workers, batches of 2

    run(scenario)
