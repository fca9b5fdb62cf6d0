"""The SDK-backed registrar: real SDK, fake HTTP. Conditional writes, merge-patch bodies, typed state."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from offer_handlers.fleet import WorkerChannel
from offer_handlers.settings import Settings
from offer_handlers.worker_diff import WorkerPatch, WorkerState
from offer_handlers.worker_registrar import SdkWorkerRegistrar, build_registrar, patch_body
from tests.fixtures.http import ACCESS_KEY, TOKEN, Answer, FakeCredential, FakeJobRouter, expected_hmac

ENDPOINT = "http://127.0.0.1:8181"
KEY_SETTINGS = Settings(app_root=Path("."), connection_string=f"endpoint={ENDPOINT};accesskey={ACCESS_KEY}")
WORKER_JSON = {
    "id": "bot-1",
    "etag": "etag-7",
    "state": "inactive",
    "queues": ["support-en"],
    "capacity": 100,
    "labels": {"Id": "bot-1", "kind": "bot", "level": 2, "vip": True, "odd": {"nested": 1}, "gone": None},
    "tags": {"fleetHold": "INC-1"},
    "channels": [
        {"channelId": "chat", "capacityCostPerJob": 20, "maxNumberOfJobs": 5},
        {"channelId": "voice", "capacityCostPerJob": 100},
    ],
    "offers": [],
    "assignedJobs": [],
    "loadRatio": 0,
    "availableForOffers": False,
}
NOT_FOUND = (
    '{"communicationError":{"code":"NotFound","message":"The item was not found.",'
    '"target":"/routing/workers/bot-1"}}'
)


def registrar(fake: FakeJobRouter, settings: Settings = KEY_SETTINGS) -> SdkWorkerRegistrar:
    return build_registrar(settings, transport=fake.transport(), credential=FakeCredential())


def test_get_reads_the_worker_into_a_typed_state_with_its_etag() -> None:
    fake = FakeJobRouter([Answer(200, json.dumps(WORKER_JSON))])

    state = registrar(fake).get("bot-1", timeout=10)

    assert state == WorkerState(
        worker_id="bot-1",
        etag="etag-7",
        available_for_offers=False,
        state="inactive",
        queues=("support-en",),
        capacity=100,
        channels=(WorkerChannel("chat", 20, 5), WorkerChannel("voice", 100, None)),
        labels={"Id": "bot-1", "kind": "bot", "level": 2, "vip": True, "odd": '{"nested": 1}'},
        tags={"fleetHold": "INC-1"},
    )
    (request,) = fake.requests
    assert (request.method, request.path_and_query) == (
        "GET",
        "/routing/workers/bot-1?api-version=2023-11-01",
    )
    assert request.headers["Authorization"] == expected_hmac(request, ENDPOINT)


def test_a_missing_worker_raises_resource_not_found() -> None:
    fake = FakeJobRouter([Answer(404, NOT_FOUND)])

    with pytest.raises(ResourceNotFoundError):
        registrar(fake).get("bot-1", timeout=10)


def test_an_update_is_a_merge_patch_sent_only_if_the_etag_still_matches() -> None:
    fake = FakeJobRouter([Answer(200, json.dumps({**WORKER_JSON, "availableForOffers": True}))])
    patch = WorkerPatch(available_for_offers=True, labels={"kind": "bot", "stale": None})

    state = registrar(fake).upsert("bot-1", patch, etag="etag-7", timeout=10)

    assert state.available_for_offers is True
    (request,) = fake.requests
    assert request.method == "PATCH"
    assert request.headers["If-Match"] == '"etag-7"'
    assert "If-None-Match" not in request.headers
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(request.body) == {"availableForOffers": True, "labels": {"kind": "bot", "stale": None}}


def test_a_create_is_sent_only_if_no_worker_exists() -> None:
    fake = FakeJobRouter([Answer(201, json.dumps(WORKER_JSON))])

    registrar(fake).upsert("bot-1", WorkerPatch(available_for_offers=True), etag=None, timeout=10)

    (request,) = fake.requests
    assert request.headers["If-None-Match"] == "*"
    assert "If-Match" not in request.headers


@pytest.mark.parametrize(
    ("etag", "error"),
    [("etag-7", ResourceModifiedError), (None, ResourceExistsError)],
    ids=["update", "create"],
)
def test_a_412_surfaces_as_the_sdk_error_for_its_condition(etag: str | None, error: type[Exception]) -> None:
    fake = FakeJobRouter([Answer(412, '{"communicationError":{"code":"PreconditionFailed","message":"x"}}')])

    with pytest.raises(error):
        registrar(fake).upsert("bot-1", WorkerPatch(available_for_offers=True), etag=etag, timeout=10)


def test_the_entra_path_reads_with_a_bearer_token() -> None:
    fake = FakeJobRouter([Answer(200, json.dumps(WORKER_JSON))])
    settings = Settings(app_root=Path("."), endpoint=ENDPOINT)

    registrar(fake, settings).get("bot-1", timeout=10)

    (request,) = fake.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_each_attempt_is_bounded_by_the_request_timeout_and_the_time_given() -> None:
    fake = FakeJobRouter([Answer(200, json.dumps(WORKER_JSON)), Answer(200, json.dumps(WORKER_JSON))])
    settings = Settings(
        app_root=Path("."), connection_string=KEY_SETTINGS.connection_string, request_timeout=4.0
    )
    registrar_ = registrar(fake, settings)

    registrar_.get("bot-1", timeout=30)
    registrar_.get("bot-1", timeout=1.5)

    assert [r.timeout for r in fake.requests] == [(4.0, 4.0), (1.5, 1.5)]


def test_the_patch_body_uses_wire_names_and_leaves_out_what_does_not_change() -> None:
    patch = WorkerPatch(
        queues=("a", "b"),
        capacity=10,
        channels=(WorkerChannel("chat", 2), WorkerChannel("voice", 10, 1)),
        tags={"owner": None},
    )

    assert patch_body(patch) == {
        "queues": ["a", "b"],
        "capacity": 10,
        "channels": [
            {"channelId": "chat", "capacityCostPerJob": 2},
            {"channelId": "voice", "capacityCostPerJob": 10, "maxNumberOfJobs": 1},
        ],
        "tags": {"owner": None},
    }
    assert patch_body(WorkerPatch()) == {}


def test_a_sparse_worker_reads_with_nothing_invented() -> None:
    sparse = {
        "id": "bot-2",
        "labels": {"gone": None, "kind": "bot"},
        "tags": {"gone": None, "team": "blue"},
        "channels": [{"channelId": "chat"}],
    }
    fake = FakeJobRouter([Answer(200, json.dumps(sparse))])

    state = registrar(fake).get("bot-2", timeout=10)

    assert state == WorkerState(
        worker_id="bot-2",
        etag=None,
        available_for_offers=False,
        state=None,
        queues=(),
        capacity=None,
        channels=(WorkerChannel("chat", 0, None),),
        labels={"kind": "bot"},
        tags={"team": "blue"},
    )


def test_an_upsert_is_bounded_by_the_request_timeout_and_the_time_given() -> None:
    fake = FakeJobRouter([Answer(200, json.dumps(WORKER_JSON)), Answer(200, json.dumps(WORKER_JSON))])
    settings = Settings(
        app_root=Path("."), connection_string=KEY_SETTINGS.connection_string, request_timeout=4.0
    )

    registrar(fake, settings).upsert("bot-1", WorkerPatch(capacity=1), etag="etag-7", timeout=30)
    registrar(fake, settings).upsert("bot-1", WorkerPatch(capacity=1), etag="etag-7", timeout=1.5)

    assert [r.timeout for r in fake.requests] == [(4.0, 4.0), (1.5, 1.5)]


@pytest.mark.parametrize("enabled", [False, True], ids=["off-by-default", "on-when-asked"])
def test_the_registrars_network_trace_is_on_only_when_asked_for(
    caplog: pytest.LogCaptureFixture, enabled: bool
) -> None:
    trace_logger = "azure.core.pipeline.policies._universal"  # NetworkTraceLoggingPolicy, at DEBUG
    caplog.set_level(logging.DEBUG, logger=trace_logger)
    fake = FakeJobRouter([Answer(200, json.dumps(WORKER_JSON))])
    built = (
        build_registrar(KEY_SETTINGS, transport=fake.transport(), logging_enable=True)
        if enabled
        else build_registrar(KEY_SETTINGS, transport=fake.transport())  # the default
    )

    built.get("bot-1", timeout=10)

    traced = "\n".join(r.getMessage() for r in caplog.records if r.name == trace_logger)
    assert ("'Authorization': 'REDACTED'" in traced) is enabled
    assert "Signature=" not in traced
