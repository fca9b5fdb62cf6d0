"""FleetKeeper: lifecycle events and reconciliation runs end to end, against an in-memory Job Router.

Given a declared fleet and a fake registrar that behaves like the service (ETags, conditional writes),
each test states one behaviour: what is written, what is left alone, and the one log line per action.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

import offer_handlers.fleet_keeper
from offer_handlers.errors import ConfigurationError, RetryableServiceError
from offer_handlers.expiry_history import ExpiryHistory
from offer_handlers.fleet import WorkerChannel
from offer_handlers.fleet_keeper import FLEET_ACTION_LOGGER, FleetKeeper
from offer_handlers.repair_execute import RepairOutcome
from offer_handlers.settings import Settings
from offer_handlers.worker_diff import WorkerState
from tests.fixtures import envelope, load_event, single, with_data
from tests.fixtures.fakes import FakeRegistrar, SteppingTimer, http_error

ROOT = Path(".")
T0 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
CHAT = {"channelId": "chat", "capacityCostPerJob": 1}


def declared(worker_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": worker_id,
        "queues": ["support-en"],
        "capacity": 3,
        "channels": [CHAT],
        "labels": {"kind": "bot"},
        **changes,
    }


FLEET = {
    "version": 1,
    "guard": {"maxExpiries": 3, "windowSeconds": 900, "firstBackoffSeconds": 30, "maxBackoffSeconds": 600},
    "reconcile": {"budgetSeconds": 40},
    "workers": [declared("bot-1"), declared("bot-2"), declared("bot-off", enabled=False)],
}


def service_worker(worker_id: str, *, available: bool = True, **changes: Any) -> WorkerState:
    """The worker as Job Router has it for a declaration above (in sync unless changed)."""
    state = WorkerState(
        worker_id=worker_id,
        etag=f"{worker_id}-v1",
        available_for_offers=available,
        state="active" if available else "inactive",
        queues=("support-en",),
        capacity=3,
        channels=(WorkerChannel("chat", 1),),
        labels={"Id": worker_id, "kind": "bot"},
        tags={},
    )
    return replace(state, **changes)


class Clock:
    """A settable wall clock and monotonic clock."""

    def __init__(self) -> None:
        self.now = T0
        self.mono = 0.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakeRegistrar:
    return FakeRegistrar()


def keeper_for(
    fake: FakeRegistrar, clock: Clock, fleet: object = FLEET, built: list[Settings] | None = None
) -> FleetKeeper:
    """A keeper on the fake, with FLEET set to ``fleet`` (None: no fleet); ``built`` records client builds."""
    fleet_text = fleet if isinstance(fleet, str) or fleet is None else json.dumps(fleet)
    loaded = Settings(
        app_root=ROOT, connection_string="endpoint=http://x;accesskey=a2V5", fleet_text=fleet_text
    )

    def build(settings: Settings) -> FakeRegistrar:
        if built is not None:
            built.append(settings)
        return fake

    return FleetKeeper(
        app_root=ROOT,
        settings_loader=lambda _root: loaded,
        registrar_factory=build,
        clock=clock.wall,
        monotonic=clock.monotonic,
    )


@pytest.fixture
def keeper(fake: FakeRegistrar, clock: Clock) -> FleetKeeper:
    return keeper_for(fake, clock)


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=FLEET_ACTION_LOGGER)


_PAIR = re.compile(r'([\w-]+)=("(?:[^"\\]|\\.)*"|\S+)')


def fleet_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    """The fleet log's lines, as dicts (JSON-quoted values unquoted)."""
    lines = []
    for record in caplog.records:
        if record.name == FLEET_ACTION_LOGGER:
            pairs = _PAIR.findall(record.getMessage())
            lines.append({k: json.loads(v) if v.startswith('"') else v for k, v in pairs})
    return lines


def deregistered(worker_id: str = "bot-1", schema: str = "eventgrid", event_id: str = "ev-d1") -> Any:
    event = {**single(load_event(f"worker_deregistered.{schema}")), "id": event_id}
    return envelope(with_data(event, workerId=worker_id))


def expired(offer_id: str, worker_id: str = "bot-1", event_id: str | None = None) -> Any:
    event = {**single(load_event("offer_expired.eventgrid")), "id": event_id or f"ev-{offer_id}"}
    return envelope(with_data(event, workerId=worker_id, offerId=offer_id))


# --- events ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_a_deregistered_bot_is_registered_again_and_one_line_says_so(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture, schema: str
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    result = keeper.handle(deregistered(schema=schema))

    assert result.outcome is RepairOutcome.REGISTERED
    assert fake.workers["bot-1"].available_for_offers
    (line,) = fleet_lines(caplog)
    assert line == {
        "action": "register",
        "reason": "deregistered",
        "worker_id": "bot-1",
        "event_id": "ev-d1",
        "trigger": "deregistered",
        "outcome": "registered",
        "changes": "available",
        "until": "-",
        "expiries": "-",
        "elapsed_ms": line["elapsed_ms"],
        "schema": schema,
    }


def test_a_duplicate_delivery_makes_no_second_write(keeper: FleetKeeper, fake: FakeRegistrar) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    first = keeper.handle(deregistered())
    second = keeper.handle(deregistered())

    assert (first.outcome, second.outcome) == (RepairOutcome.REGISTERED, RepairOutcome.LEFT)
    assert len(fake.writes()) == 1


def test_an_expiry_and_its_deregistration_together_make_one_write(
    keeper: FleetKeeper, fake: FakeRegistrar
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    outcomes = [keeper.handle(expired("o1")).outcome, keeper.handle(deregistered()).outcome]

    assert outcomes == [RepairOutcome.REGISTERED, RepairOutcome.LEFT]
    assert len(fake.writes()) == 1


def test_a_deregistration_delivered_after_the_bot_is_back_is_left(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1")  # already registered again (late, out-of-order delivery)

    result = keeper.handle(deregistered())

    assert result.outcome is RepairOutcome.LEFT
    assert fake.writes() == []
    assert fleet_lines(caplog)[0]["reason"] == "registered"


def test_a_person_is_never_touched(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["agent-ana"] = service_worker("agent-ana", available=False)

    result = keeper.handle(deregistered("agent-ana"))

    assert result.outcome is RepairOutcome.LEFT
    assert fake.calls == []
    line = fleet_lines(caplog)[0]
    assert (line["action"], line["reason"], line["worker_id"]) == ("leave", "undeclared", "agent-ana")


def test_a_held_bot_is_left_to_the_operator(keeper: FleetKeeper, fake: FakeRegistrar) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False, tags={"fleetHold": "INC-4711"})

    result = keeper.handle(deregistered())

    assert (result.outcome, result.decision and result.decision.reason) == (RepairOutcome.LEFT, "held")
    assert fake.writes() == []


def test_a_bot_whose_offers_keep_expiring_is_backed_off_then_registered_by_the_timer(
    keeper: FleetKeeper, fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    outcomes = []
    for n in range(3):  # each expiry deregisters the bot; the app brings it back until the third
        fake.workers["bot-1"] = replace(fake.workers["bot-1"], available_for_offers=False, etag=f"v{n}")
        outcomes.append(keeper.handle(expired(f"o{n}")).outcome)
        clock.advance(5)

    assert outcomes == [RepairOutcome.REGISTERED, RepairOutcome.REGISTERED, RepairOutcome.BACKED_OFF]
    backoff = fleet_lines(caplog)[-1]
    assert (backoff["action"], backoff["reason"], backoff["expiries"]) == ("back-off", "flapping", "3")
    assert backoff["until"] == (T0 + timedelta(seconds=10 + 30)).isoformat()

    assert keeper.handle(deregistered()).outcome is RepairOutcome.BACKED_OFF  # still inside the back-off
    assert keeper.reconcile().count(RepairOutcome.BACKED_OFF) == 1
    clock.advance(30)
    assert keeper.reconcile().count(RepairOutcome.REGISTERED) == 1
    assert fake.workers["bot-1"].available_for_offers
    assert len([w for w in fake.writes() if w.worker_id == "bot-1"]) == 3


def test_a_redelivered_expiry_is_counted_once(keeper: FleetKeeper, fake: FakeRegistrar) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    for _ in range(5):
        keeper.handle(expired("o1"))

    assert len(keeper.history.times("bot-1")) == 1


def test_expiries_of_people_are_not_remembered(keeper: FleetKeeper) -> None:
    keeper.handle(expired("o1", worker_id="agent-ana"))

    assert len(keeper.history) == 0


def test_other_event_types_are_ignored_without_a_call(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    result = keeper.handle(envelope("offer_issued.eventgrid"))

    assert result.outcome is RepairOutcome.IGNORED
    assert fake.calls == []
    assert fleet_lines(caplog)[0]["reason"] == "not-a-lifecycle-event"


def test_a_malformed_event_is_acknowledged_naming_the_field(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    bad = envelope(with_data(single(load_event("worker_deregistered.eventgrid")), workerId=17))

    result = keeper.handle(bad)

    assert result.outcome is RepairOutcome.INVALID
    assert fake.calls == []
    assert fleet_lines(caplog)[0]["field"] == "data.workerId"


def test_without_a_fleet_events_are_ignored_and_no_client_is_built(fake: FakeRegistrar, clock: Clock) -> None:
    built: list[Settings] = []
    keeper = keeper_for(fake, clock, fleet=None, built=built)

    result = keeper.handle(deregistered())

    assert (result.outcome, keeper.reconcile().outcomes) == (RepairOutcome.IGNORED, {})
    assert built == []


def test_an_invalid_fleet_fails_every_event_naming_the_setting_worker_and_field(
    fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    keeper = keeper_for(fake, clock, fleet={"version": 1, "workers": [declared("bot-1", capacity=0)]})

    with pytest.raises(ConfigurationError) as caught:
        keeper.handle(deregistered())

    assert caught.value.setting == "FLEET"
    assert "worker 'bot-1' field 'capacity'" in str(caught.value)
    assert fleet_lines(caplog)[0]["outcome"] == "error"
    assert fake.calls == []


def test_inline_and_file_fleet_together_fail_fleet_invocations_naming_both(
    fake: FakeRegistrar, clock: Clock
) -> None:
    keeper = FleetKeeper(
        app_root=ROOT,
        settings_loader=lambda _root: Settings(app_root=ROOT, fleet_text="{}", fleet_file=ROOT / "f.json"),
        registrar_factory=lambda _settings: fake,
        clock=clock.wall,
    )

    with pytest.raises(ConfigurationError) as caught:
        keeper.reconcile()

    assert caught.value.setting == "FLEET, FLEET_FILE"
    assert fake.calls == []


def test_a_transient_failure_raises_and_the_line_says_error(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    fake.fail_next(http_error(HttpResponseError, 503))

    with pytest.raises(RetryableServiceError):
        keeper.handle(deregistered())

    line = fleet_lines(caplog)[0]
    assert (line["outcome"], line["error"], line["status"]) == ("error", "RetryableServiceError", "503")


# --- reconciliation -------------------------------------------------------------------------------


def test_a_run_repairs_drift_creates_missing_bots_and_deregisters_disabled_ones_reading_each_once(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", queues=("support-fr",))  # queues changed by hand
    fake.workers["bot-off"] = service_worker("bot-off")  # disabled in the fleet, still registered
    fake.workers["agent-ana"] = service_worker("agent-ana", queues=())  # a person: never read

    summary = keeper.reconcile("run-1")

    assert summary.outcomes == {"repaired": 1, "created": 1, "deregistered": 1}
    assert sorted(c.worker_id for c in fake.reads()) == ["bot-1", "bot-2", "bot-off"]
    assert fake.workers["bot-1"].queues == ("support-en",)
    assert fake.workers["bot-2"].available_for_offers
    assert not fake.workers["bot-off"].available_for_offers
    assert fake.workers["agent-ana"] == service_worker("agent-ana", queues=())
    lines = fleet_lines(caplog)
    assert [(x["worker_id"], x["action"], x["reason"]) for x in lines[:-1]] == [
        ("bot-1", "register", "drifted"),
        ("bot-2", "register", "missing"),
        ("bot-off", "deregister", "disabled"),
    ]
    assert lines[-1]["action"] == "reconcile"
    assert (lines[-1]["event_id"], lines[-1]["outcome"], lines[-1]["workers"]) == ("run-1", "done", "3")


def test_the_next_run_finds_everything_in_sync_and_leaves_the_disabled_bot_alone(
    keeper: FleetKeeper, fake: FakeRegistrar
) -> None:
    fake.workers["bot-off"] = service_worker("bot-off")
    keeper.reconcile()
    writes = len(fake.writes())

    summary = keeper.reconcile()

    assert summary.outcomes == {"left": 3}
    assert len(fake.writes()) == writes


def test_a_run_that_runs_out_of_time_leaves_the_rest_to_the_next_run_which_starts_with_them(
    keeper: FleetKeeper, fake: FakeRegistrar, clock: Clock
) -> None:
    for worker_id in ("bot-1", "bot-2", "bot-off"):
        fake.workers[worker_id] = service_worker(worker_id, available=worker_id == "bot-off")
    original_get = fake.get

    def slow_get(worker_id: str, *, timeout: float) -> WorkerState:
        clock.advance(15)  # each read takes 15 s of the 40 s budget
        return original_get(worker_id, timeout=timeout)

    fake.get = slow_get  # type: ignore[method-assign]

    first = keeper.reconcile()  # bot-off is read with 10 s left, and no time is left to write
    second = keeper.reconcile()

    assert first.outcomes == {"registered": 2, "skipped": 1}
    assert [c.worker_id for c in fake.reads()] == ["bot-1", "bot-2", "bot-off", "bot-off", "bot-1", "bot-2"]
    assert second.outcomes == {"deregistered": 1, "left": 2}


def test_a_transient_failure_on_one_worker_does_not_stop_the_run_but_fails_it(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-2"] = service_worker("bot-2", available=False)
    fake.workers["bot-off"] = service_worker("bot-off")
    fake.fail_next(http_error(HttpResponseError, 503))  # bot-1's read

    with pytest.raises(RetryableServiceError, match="1 of 3 workers failed"):
        keeper.reconcile()

    assert fake.workers["bot-2"].available_for_offers
    assert not fake.workers["bot-off"].available_for_offers
    assert fleet_lines(caplog)[-1]["outcome"] == "failed"


def test_an_auth_failure_stops_the_run_naming_the_setting(keeper: FleetKeeper, fake: FakeRegistrar) -> None:
    fake.fail_next(http_error(ClientAuthenticationError, 401))

    with pytest.raises(ConfigurationError) as caught:
        keeper.reconcile()

    assert caught.value.setting == "JOBROUTER_CONNECTION_STRING"
    assert len(fake.calls) == 1


# --- the detail log: what a person reads when something went wrong ------------------------------------

DETAIL_LOGGER = "offer_handlers.fleet_keeper"


def detail_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == DETAIL_LOGGER]


def test_a_malformed_event_is_logged_as_an_error_with_its_ids_field_and_data(
    keeper: FleetKeeper, caplog: pytest.LogCaptureFixture
) -> None:
    event = with_data(single(load_event("offer_expired.eventgrid")), workerId=17, offerId="o-9")

    keeper.handle(envelope(event))

    (record,) = detail_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(
        f"rejected malformed worker lifecycle event event_id={event['id']} worker_id=- offer_id=o-9 "
        "(field data.workerId: expected a string, got a number); acknowledged without any call. data={"
    )


@pytest.mark.parametrize(("size", "capped"), [(2048, False), (2049, True)], ids=["at-the-cap", "over"])
def test_the_logged_data_of_a_malformed_event_is_capped_at_2048_characters(
    keeper: FleetKeeper, caplog: pytest.LogCaptureFixture, size: int, capped: bool
) -> None:
    data: dict[str, object] = {"workerId": 17, "pad": ""}
    data["pad"] = "x" * (size - len(repr(data)))
    event = {**single(load_event("worker_deregistered.eventgrid")), "data": data}

    keeper.handle(envelope(event))

    logged = detail_records(caplog)[0].getMessage().split(" data=", 1)[1]
    assert logged == (f"{repr(data)[:2048]}...(+1 chars)" if capped else repr(data))


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (http_error(HttpResponseError, 503), logging.WARNING),
        (http_error(HttpResponseError, 401), logging.ERROR),
    ],
    ids=["transient-is-routine", "configuration-needs-a-person"],
)
def test_a_failed_event_is_logged_at_the_level_its_failure_calls_for(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture, error: Exception, level: int
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    fake.fail_next(error)

    with pytest.raises((RetryableServiceError, ConfigurationError)):
        keeper.handle(deregistered())

    (record,) = detail_records(caplog)
    assert record.levelno == level
    assert record.getMessage().startswith(
        "worker lifecycle event event_id=ev-d1 worker_id=bot-1 offer_id=- failed: "
    )


def test_a_run_summary_counts_zero_for_an_outcome_that_did_not_happen(
    keeper: FleetKeeper, fake: FakeRegistrar
) -> None:
    for worker_id in ("bot-1", "bot-2"):
        fake.workers[worker_id] = service_worker(worker_id)

    summary = keeper.reconcile()

    assert (summary.count(RepairOutcome.LEFT), summary.count(RepairOutcome.REGISTERED)) == (3, 0)
    assert summary.count(RepairOutcome.CREATED) == 0


# --- reconciliation's log lines, field by field --------------------------------------------------------


def test_each_worker_line_and_the_summary_line_of_a_run_carry_the_run_id(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    for worker_id in ("bot-1", "bot-2"):
        fake.workers[worker_id] = service_worker(worker_id)

    keeper.reconcile("run-7")

    *workers, summary = fleet_lines(caplog)
    assert [(x["worker_id"], x["event_id"], x["trigger"], x["schema"]) for x in workers] == [
        ("bot-1", "run-7", "reconcile", "timer"),
        ("bot-2", "run-7", "reconcile", "timer"),
        ("bot-off", "run-7", "reconcile", "timer"),
    ]
    assert {k: v for k, v in summary.items() if k != "elapsed_ms"} == {
        "action": "reconcile",
        "reason": "timer",
        "worker_id": "-",
        "event_id": "run-7",
        "trigger": "reconcile",
        "outcome": "done",
        "schema": "timer",
        "workers": "3",
        "left": "3",
    }


def test_a_run_without_an_id_gets_a_fresh_one(keeper: FleetKeeper, fake: FakeRegistrar) -> None:
    first, second = keeper.reconcile().run_id, keeper.reconcile().run_id

    assert re.fullmatch(r"reconcile-[0-9a-f]{12}", first)
    assert first != second


def test_a_run_whose_fleet_fails_to_load_says_failed(
    fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    keeper = keeper_for(fake, clock, fleet="{")

    with pytest.raises(ConfigurationError):
        keeper.reconcile("run-x")

    (line,) = fleet_lines(caplog)
    assert (line["action"], line["event_id"], line["outcome"], line["error"]) == (
        "reconcile",
        "run-x",
        "failed",
        "ConfigurationError",
    )


@pytest.mark.parametrize("fleet", [None, {"version": 1, "workers": []}], ids=["no-fleet", "no-workers"])
def test_a_run_with_no_declared_worker_reads_nothing_and_says_no_fleet(
    fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture, fleet: object
) -> None:
    summary = keeper_for(fake, clock, fleet=fleet).reconcile("run-0")

    assert (summary.outcomes, fake.calls) == ({}, [])
    (line,) = fleet_lines(caplog)
    assert (line["reason"], line["outcome"]) == ("no-fleet", "done")


def test_the_summary_line_times_the_whole_run(
    fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for worker_id in ("bot-1", "bot-2", "bot-off"):
        fake.workers[worker_id] = service_worker(worker_id, available=worker_id != "bot-off")
    original_get = fake.get

    def slow_get(worker_id: str, *, timeout: float) -> WorkerState:
        time.sleep(0.02)
        return original_get(worker_id, timeout=timeout)

    fake.get = slow_get  # type: ignore[method-assign]

    keeper_for(fake, clock).reconcile()

    elapsed = float(fleet_lines(caplog)[-1]["elapsed_ms"])
    assert 60 <= elapsed < 30_000


def test_a_412_during_a_run_reads_the_worker_once_and_is_left_to_the_next_run(
    keeper: FleetKeeper, fake: FakeRegistrar
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    fake.workers["bot-2"] = service_worker("bot-2")

    def someone_else_writes(registrar: FakeRegistrar) -> None:
        registrar.workers["bot-1"] = replace(registrar.workers["bot-1"], etag="changed")

    fake.before_write = someone_else_writes

    summary = keeper.reconcile()

    assert summary.count(RepairOutcome.CHANGED) == 1
    assert [c.worker_id for c in fake.reads()].count("bot-1") == 1


def test_a_run_stopped_by_a_configuration_error_logs_the_run_and_the_worker(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(http_error(ClientAuthenticationError, 401))

    with pytest.raises(ConfigurationError):
        keeper.reconcile("run-9")

    (record,) = detail_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("reconciliation run-9 stopped at worker bot-1: Job Router refused")


def test_a_worker_that_fails_transiently_in_a_run_is_logged_as_a_warning(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(http_error(HttpResponseError, 503))

    with pytest.raises(RetryableServiceError):
        keeper.reconcile("run-5")

    (record,) = detail_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("reconciliation run-5: worker bot-1 failed: Job Router call failed")


def test_a_worker_reached_as_the_budget_runs_out_exactly_is_skipped_with_the_rest(
    keeper: FleetKeeper, fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    original_get = fake.get

    def slow_read(worker_id: str, *, timeout: float) -> WorkerState:
        clock.advance(40)  # the whole 40 s budget, to the microsecond: no time is left to write
        return original_get(worker_id, timeout=timeout)

    fake.get = slow_read  # type: ignore[method-assign]

    summary = keeper.reconcile()

    assert summary.outcomes == {"skipped": 3}
    assert fleet_lines(caplog)[0]["reason"] == "time-budget"


def test_an_exception_without_a_status_code_is_logged_and_re_raised_unchanged(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(TypeError("SDK bug"))

    with pytest.raises(TypeError, match="SDK bug"):
        keeper.handle(deregistered())

    (line,) = fleet_lines(caplog)
    assert (line["outcome"], line["error"], "status" in line) == ("error", "TypeError", False)


# --- one event's line and detail, field by field ---------------------------------------------------------


def test_another_event_type_is_logged_with_its_type_and_trigger_other(
    keeper: FleetKeeper, caplog: pytest.LogCaptureFixture
) -> None:
    event = envelope("offer_issued.eventgrid")

    keeper.handle(event)

    (line,) = fleet_lines(caplog)
    assert (line["action"], line["reason"], line["trigger"], line["outcome"], line["event_type"]) == (
        "none",
        "not-a-lifecycle-event",
        "other",
        "ignored",
        "Microsoft.Communication.RouterWorkerOfferIssued",
    )
    assert line["worker_id"] == single(load_event("offer_issued.eventgrid"))["data"]["workerId"]
    assert (line["changes"], line["until"], line["expiries"]) == ("-", "-", "-")


def test_a_malformed_event_logs_the_reason_invalid_event(
    keeper: FleetKeeper, caplog: pytest.LogCaptureFixture
) -> None:
    keeper.handle(envelope(with_data(single(load_event("offer_expired.eventgrid")), workerId=17)))

    (line,) = fleet_lines(caplog)
    assert (line["action"], line["reason"], line["trigger"], line["outcome"]) == (
        "none",
        "invalid-event",
        "offer-expired",
        "invalid",
    )


def test_without_a_fleet_an_event_logs_the_reason_no_fleet(
    fake: FakeRegistrar, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    keeper_for(fake, clock, fleet=None).handle(deregistered())

    (line,) = fleet_lines(caplog)
    assert (line["reason"], line["outcome"], line["worker_id"], line["trigger"]) == (
        "no-fleet",
        "ignored",
        "bot-1",
        "deregistered",
    )


def test_a_failed_event_line_has_no_reason_and_its_detail_says_the_error(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(http_error(HttpResponseError, 503))

    with pytest.raises(RetryableServiceError):
        keeper.handle(deregistered())

    (line,) = fleet_lines(caplog)
    assert (line["action"], line["reason"]) == ("none", "-")
    (record,) = detail_records(caplog)
    assert record.getMessage() == (
        "worker lifecycle event event_id=ev-d1 worker_id=bot-1 offer_id=- failed: "
        "Job Router call failed (HTTP 503); raising so Event Grid redelivers"
    )


def test_a_registration_line_lists_every_change_it_made(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False, capacity=1, queues=("other",))

    keeper.handle(deregistered())

    assert fleet_lines(caplog)[0]["changes"] == "available,queues,capacity"


def test_a_worker_someone_else_registered_meanwhile_is_logged_with_the_412(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    def someone_registers_it(registrar: FakeRegistrar) -> None:
        registrar.before_write = None
        registrar.workers["bot-1"] = service_worker("bot-1", etag="theirs")

    fake.before_write = someone_registers_it

    result = keeper.handle(deregistered())

    assert (result.outcome, result.status_code) == (RepairOutcome.CHANGED, 412)
    line = fleet_lines(caplog)[0]
    assert (line["outcome"], line["status"], line["action"], line["reason"]) == (
        "changed",
        "412",
        "leave",
        "registered",
    )


def test_an_event_line_times_the_invocation(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    original_get = fake.get

    def slow_get(worker_id: str, *, timeout: float) -> WorkerState:
        time.sleep(0.05)
        return original_get(worker_id, timeout=timeout)

    fake.get = slow_get  # type: ignore[method-assign]

    keeper.handle(deregistered())

    assert 50 <= float(fleet_lines(caplog)[0]["elapsed_ms"]) < 30_000


def test_an_event_gets_25_seconds_of_the_keepers_monotonic_clock(
    keeper: FleetKeeper, fake: FakeRegistrar, clock: Clock
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    original_get = fake.get

    def slow_get(worker_id: str, *, timeout: float) -> WorkerState:
        assert timeout == 25.0
        clock.advance(25)  # the read takes the whole budget: no time is left to write
        return original_get(worker_id, timeout=timeout)

    fake.get = slow_get  # type: ignore[method-assign]

    with pytest.raises(RetryableServiceError, match="time budget"):
        keeper.handle(deregistered())

    assert fake.writes() == []


def test_a_fleet_file_is_read_and_a_bad_one_names_fleet_file(
    fake: FakeRegistrar, clock: Clock, tmp_path: Path
) -> None:
    good, bad = tmp_path / "fleet.json", tmp_path / "bad.json"
    good.write_text(json.dumps(FLEET), encoding="utf-8")
    bad.write_text("{", encoding="utf-8")
    fake.workers["bot-1"] = service_worker("bot-1", available=False)

    def keeper_with_file(path: Path) -> FleetKeeper:
        settings = Settings(
            app_root=ROOT, connection_string="endpoint=http://x;accesskey=a2V5", fleet_file=path
        )
        return FleetKeeper(
            app_root=ROOT,
            settings_loader=lambda _root: settings,
            registrar_factory=lambda _settings: fake,
            clock=clock.wall,
            monotonic=clock.monotonic,
        )

    assert keeper_with_file(good).handle(deregistered()).outcome is RepairOutcome.REGISTERED
    with pytest.raises(ConfigurationError) as caught:
        keeper_with_file(bad).handle(deregistered())
    assert caught.value.setting == "FLEET_FILE"
    assert str(caught.value).startswith("FLEET_FILE: fleet: not valid JSON")


def test_an_injected_expiry_history_is_the_one_used(fake: FakeRegistrar, clock: Clock) -> None:
    history = ExpiryHistory()
    keeper = FleetKeeper(
        app_root=ROOT,
        settings_loader=lambda _root: Settings(
            app_root=ROOT, connection_string="endpoint=http://x;accesskey=a2V5", fleet_text=json.dumps(FLEET)
        ),
        registrar_factory=lambda _settings: fake,
        clock=clock.wall,
        monotonic=clock.monotonic,
        history=history,
    )
    fake.workers["bot-1"] = service_worker("bot-1")

    keeper.handle(expired("o1"))

    assert keeper.history is history
    assert history.times("bot-1") == (T0,)


def test_the_error_in_a_failed_events_detail_is_capped_at_4096_characters(
    keeper: FleetKeeper, fake: FakeRegistrar, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(TypeError("x" * 4097))

    with pytest.raises(TypeError):
        keeper.handle(deregistered())

    assert detail_records(caplog)[0].getMessage().endswith(" failed: " + "x" * 4096 + "...(+1 chars)")


def test_a_run_that_finished_lets_the_next_start_from_the_first_worker(
    keeper: FleetKeeper, fake: FakeRegistrar
) -> None:
    for worker_id in ("bot-1", "bot-2", "bot-off"):
        fake.workers[worker_id] = service_worker(worker_id, available=worker_id != "bot-off")

    keeper.reconcile()
    keeper.reconcile()

    assert [c.worker_id for c in fake.reads()] == ["bot-1", "bot-2", "bot-off"] * 2


def test_a_worker_that_fails_with_time_still_left_is_an_error_and_the_next_is_still_tried(
    keeper: FleetKeeper, fake: FakeRegistrar, clock: Clock
) -> None:
    fake.workers["bot-1"] = service_worker("bot-1", available=False)
    fake.workers["bot-2"] = service_worker("bot-2")
    fake.workers["bot-off"] = service_worker("bot-off", available=False)
    original_get = fake.get

    def slow_first_read(worker_id: str, *, timeout: float) -> WorkerState:
        if worker_id == "bot-1":
            clock.advance(39.5)  # half a second of the budget is left
            fake.fail_next(http_error(HttpResponseError, 503))  # for bot-1's write
        return original_get(worker_id, timeout=timeout)

    fake.get = slow_first_read  # type: ignore[method-assign]

    with pytest.raises(RetryableServiceError) as caught:
        keeper.reconcile("run-3")

    assert str(caught.value) == "reconciliation run-3: 1 of 3 workers failed; the next run retries them"
    assert [c.worker_id for c in fake.reads()] == ["bot-1", "bot-2", "bot-off"]


def test_elapsed_ms_of_each_line_is_its_perf_counter_interval_in_milliseconds(
    keeper: FleetKeeper,
    fake: FakeRegistrar,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for worker_id in ("bot-1", "bot-2", "bot-off"):
        fake.workers[worker_id] = service_worker(worker_id, available=worker_id != "bot-off")
    monkeypatch.setattr(offer_handlers.fleet_keeper, "time", SteppingTimer(0.5))

    keeper.handle(deregistered())
    keeper.reconcile()

    # One reading to start and one to end each line; the run's summary spans its three workers.
    assert [line["elapsed_ms"] for line in fleet_lines(caplog)] == ["500.0"] * 4 + ["3500.0"]
