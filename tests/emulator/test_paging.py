"""List operations through the real SDK: maxpagesize paging, relative nextLink, newest first, filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import RouterJob, ScheduleAndSuspendMode
from azure.core.exceptions import HttpResponseError

from tests.emulator.helpers import (
    Captured,
    add_job,
    add_worker,
    setup_queue,
    wait_offer,
    wait_status,
)


def test_paging_through_250_jobs_10_at_a_time(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    created = [f"job-{n:03d}" for n in range(250)]
    for job_id in created:
        client.upsert_job(job_id, RouterJob(channel_id="voice", queue_id="q"))
    cap = Captured()

    pages = [
        [job.id for job in page]
        for page in client.list_jobs(results_per_page=10, raw_response_hook=cap).by_page()
    ]

    assert len(pages) == 25
    assert all(len(page) == 10 for page in pages)
    assert [job_id for page in pages for job_id in page] == created[::-1]  # newest first, each exactly once
    bodies = [json.loads(r.text()) for r in cap.responses]
    assert all(b["nextLink"].startswith("/routing/jobs?continuationToken=") for b in bodies[:-1])
    assert all("api-version" not in b["nextLink"] for b in bodies[:-1])
    assert "nextLink" not in bodies[-1]
    first_query = cap.responses[0].request.url
    assert "maxpagesize=10" in first_query
    assert "status=all" in first_query


def test_a_list_of_nothing_is_one_empty_page(client: JobRouterClient) -> None:
    assert [list(page) for page in client.list_workers(results_per_page=5).by_page()] == [[]]


def test_continuation_tokens_are_stable_for_an_unchanged_collection(
    admin: JobRouterAdministrationClient,
) -> None:
    for n in range(5):
        admin.upsert_distribution_policy(f"dp{n}", {"offerExpiresAfterSeconds": 10})
    runs = []
    for _ in range(2):
        cap = Captured()
        ids = [p.id for p in admin.list_distribution_policies(results_per_page=2, raw_response_hook=cap)]
        runs.append((ids, [json.loads(r.text()).get("nextLink") for r in cap.responses]))
    assert runs[0] == runs[1]
    assert runs[0][0] == ["dp4", "dp3", "dp2", "dp1", "dp0"]


def test_a_foreign_continuation_token_is_a_bad_request(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    for n in range(3):
        admin.upsert_distribution_policy(f"dp{n}", {"offerExpiresAfterSeconds": 10})
    cap = Captured()
    next(iter(admin.list_distribution_policies(results_per_page=1, raw_response_hook=cap).by_page()))
    token = json.loads(cap.last.text())["nextLink"].split("continuationToken=")[1]
    pager = client.list_jobs(results_per_page=1).by_page(
        continuation_token=f"/routing/jobs?continuationToken={token}"
    )
    with pytest.raises(HttpResponseError) as raised:
        list(next(pager))
    assert raised.value.status_code == 400


def test_job_filters_status_queue_and_channel(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, queue_id="q1")
    setup_queue(admin, queue_id="q2", policy_id="dp2")
    add_job(client, "a", queue_id="q1", channel_id="voice")
    add_job(client, "b", queue_id="q1", channel_id="chat")
    add_job(client, "c", queue_id="q2", channel_id="voice")
    for job_id in "abc":
        wait_status(client, job_id, "queued")
    client.cancel_job("c")

    def ids(**filters: object) -> list[str]:
        return [j.id for j in client.list_jobs(**filters)]  # type: ignore[arg-type]

    assert ids() == ["c", "b", "a"]
    assert ids(status="queued") == ["b", "a"]
    assert ids(status="active") == ["b", "a"]
    assert ids(status="cancelled") == ["c"]
    assert ids(queue_id="q1") == ["b", "a"]
    assert ids(channel_id="voice") == ["c", "a"]
    assert ids(queue_id="q1", channel_id="voice", status="queued") == ["a"]


def test_scheduled_before_and_after_filter_on_the_schedule_time(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    soon, later = datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC) + timedelta(hours=3)
    for job_id, at in (("soon", soon), ("later", later)):
        client.upsert_job(
            job_id,
            RouterJob(channel_id="voice", queue_id="q", matching_mode=ScheduleAndSuspendMode(schedule_at=at)),
        )
    for job_id in ("soon", "later"):
        wait_status(client, job_id, "scheduled")
    middle = datetime.now(UTC) + timedelta(hours=2)
    assert [j.id for j in client.list_jobs(status="scheduled", scheduled_before=middle)] == ["soon"]
    assert [j.id for j in client.list_jobs(scheduled_after=middle)] == ["later"]


def test_worker_filters_state_channel_queue_and_capacity(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, queue_id="q1")
    setup_queue(admin, queue_id="q2", policy_id="dp2")
    add_worker(client, "busy", queues=["q1"], capacity=1, channels=[("voice", 1)])
    add_worker(client, "free", queues=["q1", "q2"], capacity=10, channels=[("voice", 1), ("chat", 1)])
    add_worker(client, "off", queues=["q2"], capacity=10, channels=[("chat", 1)], available=False)
    add_job(client, "j", queue_id="q1")
    # longest idle (and first by id on a tie): "busy" gets the job and is then full
    client.accept_job_offer("busy", wait_offer(client, "busy", "j").offer_id)

    def ids(**filters: object) -> list[str]:
        return [w.id for w in client.list_workers(**filters)]  # type: ignore[arg-type]

    assert ids() == ["off", "free", "busy"]
    assert ids(state="active") == ["free", "busy"]
    assert ids(state="inactive") == ["off"]
    assert ids(channel_id="chat") == ["off", "free"]
    assert ids(queue_id="q2") == ["off", "free"]
    assert ids(has_capacity=True) == ["off", "free"]
    assert ids(has_capacity=True, channel_id="voice") == ["free"]


def test_an_unknown_status_filter_is_a_bad_request(client: JobRouterClient) -> None:
    with pytest.raises(HttpResponseError) as raised:
        list(client.list_jobs(status="everything"))
    assert raised.value.status_code == 400
