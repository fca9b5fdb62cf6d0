"""Bad input and faults the emulator survives: a 400 naming the field, never a 500; one poisonous object
never stops routing elsewhere; a change is acknowledged only once it is saved; /admin is local-only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.rest import HttpRequest

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.jobrouter.http_api import API_VERSION
from tests.emulator.helpers import add_job, add_worker, admin_client, router_client, setup_queue, wait_offer


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig()) as running:
        yield running


def _patch(emu: EmulatorThread, path: str, body: bytes) -> tuple[int, Any]:
    """A signed merge-patch with a raw body (the SDK's own models cannot carry NaN or deep nesting)."""
    with router_client(emu) as client:
        response = client.send_request(
            HttpRequest(
                "PATCH",
                f"{emu.endpoint}/routing/{path}?api-version={API_VERSION}",
                content=body.decode(),
                headers={"Content-Type": "application/merge-patch+json"},
            )
        )
        text = response.text()
        return response.status_code, json.loads(text) if text else None


def _message(body: Any) -> str:
    return str(body["communicationError"]["message"])


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("workers/w", b'{"labels": {"score": NaN}}', "'labels.score' must be a finite number"),
        ("workers/w", b'{"labels": {"score": Infinity}}', "'labels.score' must be a finite number"),
        ("workers/w", b'{"capacity": 1e308}', "'capacity' must be at most 2147483647"),
        (
            "jobs/j",
            b'{"channelId": "voice", "queueId": "q", "priority": 101}',
            "'priority' must be at most 100",
        ),
        (
            "jobs/j",
            b'{"channelId": "voice", "queueId": "q", "priority": -101}',
            "'priority' must be at least -100",
        ),
        (
            "distributionPolicies/dp",
            b'{"offerExpiresAfterSeconds": 2.5e11, "mode": {"kind": "longestIdle"}}',
            "'offerExpiresAfterSeconds' must be at most 3.1536e+08",
        ),
        (
            "jobs/j",
            b'{"channelId": "voice", "queueId": "q", "requestedWorkerSelectors": '
            b'[{"key": "k", "labelOperator": "equal", "value": 1, "expiresAfterSeconds": 1e308}]}',
            "'requestedWorkerSelectors[0].expiresAfterSeconds' must be at most",
        ),
        (
            "jobs/j",
            b'{"channelId": "voice", "queueId": "q", "matchingMode": '
            b'{"kind": "scheduleAndSuspend", "scheduleAt": "9999-12-31T23:59:59-05:00"}}',
            "outside the supported date-time range",
        ),
        ("workers/w", b'{"labels": ' * 70 + b"{}" + b"}" * 70, "nested deeper than 64 levels"),
        ("workers/w", b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),
    ],
    ids=[
        "nan-label",
        "infinite-label",
        "huge-capacity",
        "priority-above-100",
        "priority-below-minus-100",
        "offer-expiry-overflow",
        "selector-expiry-overflow",
        "schedule-after-the-last-instant",
        "deep-body",
        "very-deep-body",
    ],
)
def test_bad_values_get_a_400_naming_what_is_wrong(
    emu: EmulatorThread, path: str, body: bytes, named: str
) -> None:
    with admin_client(emu) as admin:
        setup_queue(admin)
    status, answer = _patch(emu, path, body)
    assert status == 400
    assert named in _message(answer)


def test_an_out_of_range_query_date_gets_a_400(emu: EmulatorThread) -> None:
    with router_client(emu) as client:
        response = client.send_request(
            HttpRequest(
                "GET",
                f"{emu.endpoint}/routing/jobs?api-version={API_VERSION}&scheduledBefore=0001-01-01T00:00:00%2B05:00",
            )
        )
    assert response.status_code == 400
    assert "'scheduledBefore' is outside the supported date-time range" in response.text()


def test_a_job_that_cannot_be_matched_does_not_stop_matching_on_other_queues(emu: EmulatorThread) -> None:
    """Given a poisonous policy that slipped past validation (an old state file, say) on one queue."""
    with admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin, queue_id="poisoned", policy_id="poison")
        setup_queue(admin, queue_id="healthy", policy_id="fine")
        emu.call(lambda: _poison_policy(emu, "poison"))
        add_worker(client, "w1", queues=["poisoned"])
        add_worker(client, "w2", queues=["healthy"])
        add_job(client, "bad", queue_id="poisoned")
        add_job(client, "good", queue_id="healthy")
        # Then the other queue's job is still offered, and the poisoned one stays queued.
        offer = wait_offer(client, "w2", "good")
        assert offer.job_id == "good"
        assert client.get_job("bad").status == "queued"


def _poison_policy(emu: EmulatorThread, policy_id: str) -> None:
    record = emu.emulator.router.store.get("distributionPolicies", policy_id)
    assert record is not None
    record.body["offerExpiresAfterSeconds"] = 2.5e11  # now + this overflows a datetime


def test_a_change_the_state_file_cannot_take_is_answered_503_and_the_emulator_stops(tmp_path: Path) -> None:
    with EmulatorThread(EmulatorConfig(state_file=tmp_path / "state.sqlite")) as emu:
        with admin_client(emu) as admin:
            setup_queue(admin)
        emu.call(_make_state_file_refuse_writes(emu))
        status, answer = _patch(emu, "queues/q2", b'{"distributionPolicyId": "dp"}')
        assert status == 503
        assert "could not save this change" in _message(answer)
        assert emu.call(lambda: emu.emulator.failure) is not None
    # Nothing unacknowledged survived: the queue that got 503 is not in the state file.
    with (
        EmulatorThread(EmulatorConfig(state_file=tmp_path / "state.sqlite")) as emu,
        admin_client(emu) as admin,
    ):
        assert [q.id for q in admin.list_queues()] == ["q"]


def _make_state_file_refuse_writes(emu: EmulatorThread) -> Any:
    def refuse() -> None:
        db = emu.emulator.router.store._db
        assert db is not None
        db.execute("PRAGMA query_only = ON")  # every write fails from now on, as on a full disk

    return refuse


def _admin(
    emu: EmulatorThread, method: str, path: str, *, host: str | None = None, content_type: str | None
) -> int:
    request = urllib.request.Request(emu.endpoint + path, data=b"{}", method=method)  # noqa: S310 - loopback
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)


@pytest.mark.parametrize(
    "host",
    ["attacker.example:8181", "192.168.1.10", "evil.localhost.example.com"],
    ids=["name", "lan-ip", "suffix"],
)
def test_admin_requests_for_a_foreign_host_are_refused(emu: EmulatorThread, host: str) -> None:
    assert _admin(emu, "POST", "/admin/reset", host=host, content_type="application/json") == 403
    assert _admin(emu, "GET", "/admin/state", host=host, content_type=None) == 403


@pytest.mark.parametrize("host", ["localhost:1234", "127.0.0.1", "[::1]:80", "app.localhost"])
def test_admin_requests_for_a_loopback_host_are_served(emu: EmulatorThread, host: str) -> None:
    assert _admin(emu, "POST", "/admin/reset", host=host, content_type="application/json") == 204


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
    ids=["text", "form", "multipart", "none"],
)
def test_state_changing_admin_requests_a_web_page_could_send_are_refused(
    emu: EmulatorThread, content_type: str | None
) -> None:
    assert _admin(emu, "POST", "/admin/reset", content_type=content_type) == 415
    assert _admin(emu, "POST", "/admin/faults", content_type=content_type) == 415
