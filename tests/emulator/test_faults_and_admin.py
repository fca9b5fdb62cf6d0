"""Fault injection and the admin API (``/admin``, no auth), seen by the real SDK and a plain HTTP client."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.core.exceptions import HttpResponseError, ServiceResponseError

from devstack.jobrouter import EmulatorThread
from tests.emulator.helpers import (
    Captured,
    add_job,
    add_worker,
    admin_http,
    response_text,
    router_client,
    setup_queue,
    wait_offer,
)


def test_a_503_with_retry_after_is_retried_by_the_sdk_until_it_succeeds(emu: EmulatorThread) -> None:
    emu.add_fault(method="GET", path=r"^/routing/workers$", status=503, retry_after=0, times=2)
    cap = Captured()
    with router_client(emu, retry_total=3, retry_backoff_factor=0) as client:
        assert list(client.list_workers(raw_response_hook=cap)) == []
    assert [r.status_code for r in cap.responses] == [503, 503, 200]
    assert cap.responses[0].headers["Retry-After"] == "0"


def test_a_fault_for_the_next_call_only(emu: EmulatorThread, client: JobRouterClient) -> None:
    emu.add_fault(path="/routing/workers", status=500, times=1)
    with pytest.raises(HttpResponseError) as raised:
        client.get_worker("w")
    assert raised.value.status_code == 500
    assert "InjectedFault" in response_text(raised.value)
    with pytest.raises(HttpResponseError) as again:
        client.get_worker("w")
    assert again.value.status_code == 404  # the fault is used up: the real answer


def test_a_retry_after_makes_the_sdk_repeat_even_a_post_accept(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    # azure-core retries any status >= 400 that carries Retry-After, whatever the method
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    emu.add_fault(method="POST", path=r":accept$", status=429, retry_after=0, times=1)
    cap = Captured()
    with router_client(emu, retry_total=3, retry_backoff_factor=0) as retrying:
        assert retrying.accept_job_offer("w", offer.offer_id, raw_response_hook=cap).job_id == "j"
    assert [r.status_code for r in cap.responses] == [429, 200]


def test_a_429_without_retry_after_on_accept_reaches_the_caller(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")
    emu.add_fault(method="POST", path=r":accept$", status=429, times=1)
    with (
        router_client(emu, retry_total=3, retry_backoff_factor=0) as retrying,
        pytest.raises(HttpResponseError) as raised,
    ):
        retrying.accept_job_offer("w", offer.offer_id)  # POST is retried only on 500/503/504
    assert raised.value.status_code == 429
    assert client.accept_job_offer("w", offer.offer_id).job_id == "j"


def test_a_delay_fault_slows_the_call_down(emu: EmulatorThread, client: JobRouterClient) -> None:
    emu.add_fault(path="/routing/jobs", delay_ms=300, times=1)
    start = time.monotonic()
    assert list(client.list_jobs()) == []
    assert time.monotonic() - start >= 0.3


def test_a_dropped_connection_is_a_service_response_error(
    emu: EmulatorThread, client: JobRouterClient
) -> None:
    emu.add_fault(path="/routing/jobs", drop=True, times=1)
    with pytest.raises(ServiceResponseError):
        list(client.list_jobs())
    assert list(client.list_jobs()) == []


def test_a_fractional_fault_hits_some_calls_only(emu: EmulatorThread, client: JobRouterClient) -> None:
    emu.add_fault(path="/routing/jobs", status=503, probability=0.5)
    failures = 0
    for _ in range(40):
        try:
            list(client.list_jobs())
        except HttpResponseError:
            failures += 1
    assert 5 < failures < 35


def test_faults_through_the_admin_http_api(emu: EmulatorThread, client: JobRouterClient) -> None:
    status, rule = admin_http(
        emu, "POST", "/admin/faults", {"method": "GET", "path": "/routing/jobs", "status": 503, "times": 1}
    )
    assert status == 201
    assert rule["id"]
    assert admin_http(emu, "GET", "/admin/faults")[1] == [rule]
    with pytest.raises(HttpResponseError):
        list(client.list_jobs())
    assert admin_http(emu, "GET", "/admin/faults")[1] == []

    admin_http(emu, "POST", "/admin/faults", {"path": ".*", "status": 500})
    assert admin_http(emu, "DELETE", "/admin/faults")[0] == 204
    assert list(client.list_jobs()) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"path": "("},
        {"status": 503, "drop": True},
        {"status": 99},
        {"delayMs": -1},
        {"status": 503, "colour": "red"},
    ],
    ids=["bad-regex", "two-actions", "bad-status", "negative-delay", "unknown-field"],
)
def test_a_bad_fault_spec_is_a_400_naming_the_problem(emu: EmulatorThread, spec: dict[str, Any]) -> None:
    status, body = admin_http(emu, "POST", "/admin/faults", spec)
    assert status == 400
    assert body["error"]


def test_faults_never_apply_to_the_admin_api(emu: EmulatorThread) -> None:
    emu.add_fault(path=".*", status=503)
    assert admin_http(emu, "GET", "/admin/health") == (200, {"status": "ok"})


def test_state_snapshot_and_event_log(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin)
    add_worker(client, "w")
    add_job(client, "j")
    offer = wait_offer(client, "w", "j")

    status, state = admin_http(emu, "GET", "/admin/state")
    status_events, events = admin_http(emu, "GET", "/admin/events")

    assert status == status_events == 200
    assert [r["id"] for r in state["workers"]] == ["w"]
    assert state["workers"][0]["body"]["offers"][0]["offerId"] == offer.offer_id
    assert offer.expires_at is not None
    assert {"key": ["offer", offer.offer_id], "due": offer.expires_at.isoformat()} in state["timers"]
    issued = [e for e in events if e["eventType"] == "Microsoft.Communication.RouterWorkerOfferIssued"]
    assert issued[0]["data"]["offerId"] == offer.offer_id
    assert issued[0]["subject"] == "worker/w/job/j"
    assert set(issued[0]) >= {
        "id",
        "topic",
        "subject",
        "data",
        "eventType",
        "dataVersion",
        "metadataVersion",
        "eventTime",
    }
    assert admin_http(emu, "GET", "/admin/events?type=RouterWorkerOfferIssued")[1] == issued


def test_publisher_knobs_through_the_admin_api(emu: EmulatorThread) -> None:
    status, settings = admin_http(
        emu, "PUT", "/admin/publisher", {"duplicateFraction": 0.25, "reorderWindow": 0.5}
    )
    assert status == 200
    assert (settings["duplicateFraction"], settings["reorderWindow"]) == (0.25, 0.5)
    assert admin_http(emu, "PUT", "/admin/publisher", {"duplicateFraction": 2})[0] == 400


def test_reset_forgets_every_resource(emu: EmulatorThread, admin: JobRouterAdministrationClient) -> None:
    setup_queue(admin)
    assert admin_http(emu, "POST", "/admin/reset")[0] == 204
    assert list(admin.list_queues()) == []


def test_the_request_log_has_one_line_per_request_and_no_secrets(
    emu: EmulatorThread, client: JobRouterClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack.jobrouter.requests")
    list(client.list_workers())
    lines = [r.getMessage() for r in caplog.records if r.name == "devstack.jobrouter.requests"]
    assert len(lines) == 1
    method, path, status, ms = lines[0].split(" ")
    assert (method, path, status) == ("GET", "/routing/workers?api-version=2023-11-01&state=all", "200")
    assert ms.endswith("ms")
    assert emu.access_key not in caplog.text
    assert "HMAC-SHA256" not in caplog.text


def test_a_zero_millisecond_delay_is_a_valid_fault() -> None:
    from devstack.jobrouter.faults import FaultRule

    assert FaultRule.from_json({"path": "x", "delayMs": 0}).action == "delay"
