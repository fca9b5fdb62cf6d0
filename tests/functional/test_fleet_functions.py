"""on_worker_lifecycle and reconcile_fleet through the real worker library (azure-functions-runtime).

Indexed with their Event Grid and timer triggers, each invocation succeeds (acknowledged) or fails
(redelivered, or retried by the next run) as the fleet's outcome contract says. The SDK client is
replaced with an in-memory Job Router through the factory the app resolves at first use,
``offer_handlers.worker_registrar.build_registrar``; no network. The timer function is invoked the way
the host does it: a ``timerTrigger`` binding given the host's TimerInfo JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

import offer_handlers.worker_registrar
from devstack.functions_worker import InvocationResult, WorkerApp
from offer_handlers.fleet import WorkerChannel
from offer_handlers.fleet_keeper import FLEET_ACTION_LOGGER
from offer_handlers.settings import SETTING_NAMES, Settings
from offer_handlers.worker_diff import WorkerState
from tests.fixtures import REPO_ROOT, load_event, single, with_data
from tests.fixtures.fakes import FakeRegistrar, http_error
from tests.fixtures.http import ACCESS_KEY
from tests.functional.conftest import CONNECTION_STRING

LIFECYCLE = "on_worker_lifecycle"
RECONCILE = "reconcile_fleet"
SCHEMAS = ["eventgrid", "cloudevents"]
CHAT = {"channelId": "chat", "capacityCostPerJob": 1}
FLEET = {
    "version": 1,
    "workers": [
        {
            "id": "bot-1",
            "queues": ["support-en"],
            "capacity": 3,
            "channels": [CHAT],
            "labels": {"kind": "bot"},
        },
        {
            "id": "bot-2",
            "queues": ["support-en"],
            "capacity": 3,
            "channels": [CHAT],
            "labels": {"kind": "bot"},
        },
        {"id": "bot-off", "enabled": False, "queues": ["support-en"], "capacity": 3, "channels": [CHAT]},
    ],
}
# What the host passes a timer function: its TimerInfo, as JSON.
TIMER_INFO = {
    "Schedule": {"AdjustForDST": True},
    "ScheduleStatus": {"Last": "2026-03-05T09:59:00+00:00", "Next": "2026-03-05T10:01:00+00:00"},
    "IsPastDue": False,
}


def service_worker(worker_id: str, *, available: bool = True, **changes: Any) -> WorkerState:
    state = WorkerState(
        worker_id=worker_id,
        etag=f"{worker_id}-v1",
        available_for_offers=available,
        state="active" if available else "inactive",
        queues=("support-en",),
        capacity=3,
        channels=(WorkerChannel("chat", 1),),
        labels={"Id": worker_id, "kind": "bot"},
    )
    return replace(state, **changes)


@pytest.fixture
def fake() -> FakeRegistrar:
    return FakeRegistrar()


@pytest.fixture
def fleet_app(monkeypatch: pytest.MonkeyPatch, fake: FakeRegistrar) -> Iterator[WorkerApp]:
    """The app as the worker indexes it, with a declared fleet and the in-memory Job Router."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEET", json.dumps(FLEET))
    monkeypatch.setenv("JOBROUTER_CONNECTION_STRING", CONNECTION_STRING)

    def build_fake(settings: Settings, **_: Any) -> FakeRegistrar:
        return fake

    monkeypatch.setattr(offer_handlers.worker_registrar, "build_registrar", build_fake)
    app = WorkerApp.load(REPO_ROOT)  # a fresh import of function_app: a fresh FleetKeeper per test
    yield app
    app.close()


@pytest.fixture(autouse=True)
def _capture_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def invoke(app: WorkerApp, function: str, payload: object) -> InvocationResult:
    return asyncio.run(app.invoke(function, payload))


def deregistered(schema: str, worker_id: str = "bot-1") -> dict[str, Any]:
    return with_data(single(load_event(f"worker_deregistered.{schema}")), workerId=worker_id)


def expired(schema: str, offer_id: str, worker_id: str = "bot-1") -> dict[str, Any]:
    event = with_data(single(load_event(f"offer_expired.{schema}")), workerId=worker_id, offerId=offer_id)
    return {**event, "id": f"ev-{offer_id}"}


def outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == FLEET_ACTION_LOGGER]
    return [part.split("=", 1)[1] for line in lines for part in line.split() if part.startswith("outcome=")]


# --- indexing --------------------------------------------------------------------------------------


def test_the_worker_indexes_the_lifecycle_function_with_an_event_grid_trigger(fleet_app: WorkerApp) -> None:
    info = fleet_app.functions[LIFECYCLE]

    assert (info.trigger_type, info.trigger_arg_name, info.is_async) == ("eventGridTrigger", "event", False)
    assert info.function_json == {
        "scriptFile": "function_app.py",
        "bindings": [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}],
    }


def test_the_worker_indexes_the_reconciliation_on_a_timer_every_minute_by_default(
    fleet_app: WorkerApp,
) -> None:
    info = fleet_app.functions[RECONCILE]

    assert (info.trigger_type, info.trigger_arg_name) == ("timerTrigger", "timer")
    assert info.function_json == {
        "scriptFile": "function_app.py",
        "bindings": [{"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "0 * * * * *"}],
    }


def test_with_the_schedule_setting_the_timer_binds_the_setting_expression_for_the_host_to_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEET_RECONCILE_SCHEDULE", "*/30 * * * * *")
    app = WorkerApp.load(REPO_ROOT)
    try:
        (binding,) = app.functions[RECONCILE].raw_bindings
    finally:
        app.close()

    assert binding["schedule"] == "%FLEET_RECONCILE_SCHEDULE%"


# --- on_worker_lifecycle -----------------------------------------------------------------------------


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_deregistered_bot_is_registered_again(
    fleet_app: WorkerApp, fake: FakeRegistrar, schema: str
) -> None:
    worker_id = single(load_event(f"worker_deregistered.{schema}"))["data"]["workerId"]
    fake.workers[worker_id] = service_worker(worker_id, available=False)

    result = invoke(fleet_app, LIFECYCLE, deregistered(schema, worker_id))

    assert result.ok, result.error
    assert fake.workers[worker_id].available_for_offers
    assert [(c.method, c.worker_id) for c in fake.calls] == [("get", worker_id), ("upsert", worker_id)]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_an_expired_offer_brings_the_bot_back_and_its_deregistration_then_writes_nothing(
    fleet_app: WorkerApp, fake: FakeRegistrar, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    results = [
        invoke(fleet_app, LIFECYCLE, expired(schema, "o1")),
        invoke(fleet_app, LIFECYCLE, deregistered(schema)),
    ]

    assert all(r.ok for r in results)
    assert len(fake.writes()) == 1
    assert outcomes(caplog) == ["registered", "left"]


def test_a_person_is_never_touched(fleet_app: WorkerApp, fake: FakeRegistrar) -> None:
    result = invoke(fleet_app, LIFECYCLE, deregistered("eventgrid", "agent-ana"))

    assert result.ok, result.error
    assert fake.calls == []


def test_a_bot_whose_offers_keep_expiring_is_backed_off(
    fleet_app: WorkerApp, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    results = []
    for n in range(4):
        fake.workers["bot-1"] = service_worker("bot-1", available=False, etag=f"v{n}")
        results.append(invoke(fleet_app, LIFECYCLE, expired("eventgrid", f"o{n}")))

    assert all(r.ok for r in results)
    assert outcomes(caplog) == ["registered", "registered", "backed-off", "backed-off"]
    assert len(fake.writes()) == 2


def test_concurrent_duplicates_in_one_request_make_one_write(
    fleet_app: WorkerApp, fake: FakeRegistrar
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    event = deregistered("eventgrid")

    async def together() -> list[InvocationResult]:
        return list(await asyncio.gather(*(fleet_app.invoke(LIFECYCLE, event) for _ in range(3))))

    results = asyncio.run(together())

    assert all(r.ok for r in results), [r.error for r in results]
    assert fake.workers["bot-1"].available_for_offers
    assert fake.workers["bot-1"].etag == "etag-1"  # exactly one write applied; any other got a 412 and left


@pytest.mark.parametrize(
    "error",
    [http_error(HttpResponseError, 429), http_error(HttpResponseError, 503)],
    ids=["429", "503"],
)
def test_a_transient_failure_fails_the_invocation_so_event_grid_redelivers(
    fleet_app: WorkerApp, fake: FakeRegistrar, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    fake.fail_next(error)

    failed = invoke(fleet_app, LIFECYCLE, deregistered("eventgrid"))
    redelivered = invoke(fleet_app, LIFECYCLE, deregistered("eventgrid"))

    assert not failed.ok
    assert failed.error is not None
    assert "RetryableServiceError" in failed.error
    assert redelivered.ok, redelivered.error
    assert outcomes(caplog) == ["error", "registered"]


def test_a_412_whose_reread_still_needs_a_write_fails_the_invocation(
    fleet_app: WorkerApp, fake: FakeRegistrar
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    def someone_relabels_it(registrar: FakeRegistrar) -> None:
        registrar.before_write = None
        registrar.workers["bot-1"] = service_worker("bot-1", available=False, etag="theirs", labels={"x": 1})

    fake.before_write = someone_relabels_it

    result = invoke(fleet_app, LIFECYCLE, deregistered("eventgrid"))

    assert not result.ok
    assert result.error is not None
    assert "WorkerChangedError" in result.error
    assert [c.method for c in fake.calls] == ["get", "upsert", "get"]


def test_an_auth_failure_names_the_setting_never_its_value(fleet_app: WorkerApp, fake: FakeRegistrar) -> None:
    fake.fail_next(http_error(ClientAuthenticationError, 401))

    result = invoke(fleet_app, LIFECYCLE, deregistered("cloudevents"))

    assert not result.ok
    assert result.error is not None
    assert "ConfigurationError" in result.error
    assert "JOBROUTER_CONNECTION_STRING" in result.error
    assert ACCESS_KEY not in result.error


@pytest.mark.parametrize(
    "event",
    [
        with_data(single(load_event("worker_deregistered.eventgrid")), workerId=17),
        single(load_event("offer_issued.eventgrid")),
    ],
    ids=["malformed", "another-event-type"],
)
def test_events_it_cannot_act_on_are_acknowledged_without_a_call(
    fleet_app: WorkerApp, fake: FakeRegistrar, event: dict[str, Any]
) -> None:
    result = invoke(fleet_app, LIFECYCLE, event)

    assert result.ok, result.error
    assert fake.calls == []


# --- reconcile_fleet ----------------------------------------------------------------------------------


def test_the_timer_repairs_drift_recreates_a_deleted_bot_and_deregisters_a_disabled_one(
    fleet_app: WorkerApp, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", queues=("support-fr",))  # changed by hand
    fake.workers["bot-off"] = service_worker("bot-off")
    fake.workers["agent-ana"] = service_worker("agent-ana", available=False)

    result = invoke(fleet_app, RECONCILE, TIMER_INFO)

    assert result.ok, result.error
    assert fake.workers["bot-1"].queues == ("support-en",)
    assert fake.workers["bot-2"].available_for_offers
    assert not fake.workers["bot-off"].available_for_offers
    assert "agent-ana" not in {c.worker_id for c in fake.calls}
    assert len(fake.reads()) == 3  # one read per declared worker
    assert outcomes(caplog) == ["repaired", "created", "deregistered", "done"]


def test_a_second_run_writes_nothing_and_the_disabled_bot_stays_deregistered(
    fleet_app: WorkerApp, fake: FakeRegistrar
) -> None:
    fake.workers["bot-off"] = service_worker("bot-off")
    invoke(fleet_app, RECONCILE, TIMER_INFO)
    writes = len(fake.writes())

    result = invoke(fleet_app, RECONCILE, {**TIMER_INFO, "IsPastDue": True})

    assert result.ok, result.error
    assert len(fake.writes()) == writes
    assert not fake.workers["bot-off"].available_for_offers


def test_a_run_with_a_transient_failure_fails_after_repairing_the_others(
    fleet_app: WorkerApp, fake: FakeRegistrar
) -> None:
    fake.workers["bot-2"] = service_worker("bot-2", available=False)
    fake.fail_next(http_error(HttpResponseError, 503))  # bot-1's read

    result = invoke(fleet_app, RECONCILE, TIMER_INFO)

    assert not result.ok
    assert result.error is not None
    assert "1 of 3 workers failed" in result.error
    assert fake.workers["bot-2"].available_for_offers


def test_an_invalid_fleet_fails_the_run_naming_the_setting_and_the_worker(
    monkeypatch: pytest.MonkeyPatch, fleet_app: WorkerApp, fake: FakeRegistrar
) -> None:
    monkeypatch.setenv("FLEET", json.dumps({"version": 1, "workers": [{"id": "bot-1"}]}))

    result = invoke(fleet_app, RECONCILE, TIMER_INFO)  # the fleet is read on first use, not at import

    assert not result.ok
    assert result.error is not None
    assert "FLEET: fleet worker 'bot-1' field 'queues'" in result.error
    assert fake.calls == []
