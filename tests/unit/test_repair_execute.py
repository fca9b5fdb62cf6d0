"""The repair's outcome contract: one read, a conditional write, and every SDK failure mapped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseTimeoutError,
)

from offer_handlers.errors import ConfigurationError, RetryableServiceError, WorkerChangedError
from offer_handlers.events import OfferExpired, WorkerDeregistered
from offer_handlers.fleet import BotWorker, FlapGuard, WorkerChannel
from offer_handlers.repair import BackOff, Deregister, LeaveWorker, ReconcileRun, Register, RepairTrigger
from offer_handlers.repair_execute import Deadline, RepairOutcome, RepairResult, repair_worker
from offer_handlers.worker_diff import WorkerPatch, WorkerState
from tests.fixtures.fakes import FakeRegistrar, http_error

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
BOT = BotWorker(
    worker_id="bot-1",
    queues=("support-en",),
    capacity=3,
    channels=(WorkerChannel("chat", 1),),
    labels=MappingProxyType({"kind": "bot"}),
)
ACTIVE = WorkerState(
    worker_id="bot-1",
    etag="e1",
    available_for_offers=True,
    state="active",
    queues=("support-en",),
    capacity=3,
    channels=(WorkerChannel("chat", 1),),
    labels=MappingProxyType({"Id": "bot-1", "kind": "bot"}),
)
DEREGISTERED = replace(ACTIVE, available_for_offers=False, state="inactive")
EVENT = WorkerDeregistered(event_id="ev-1", worker_id="bot-1")
RUN = ReconcileRun("run-1")
AUTH = "JOBROUTER_CONNECTION_STRING"


def raising(error: Exception) -> Callable[[FakeRegistrar], None]:
    """A ``before_write`` hook that fails the write with ``error`` (after the read succeeded)."""

    def fail(registrar: FakeRegistrar) -> None:
        raise error

    return fail


def repair(
    fake: FakeRegistrar,
    *,
    declared: BotWorker | None = BOT,
    trigger: RepairTrigger = EVENT,
    expiries: tuple[datetime, ...] = (),
    reread: bool = True,
    deadline: Deadline | None = None,
) -> RepairResult:
    return repair_worker(
        trigger,
        declared,
        worker_id="bot-1",
        registrar=lambda: fake,
        expiries=expiries,
        guard=FlapGuard(),
        clock=lambda: NOW,
        deadline=deadline or Deadline(25.0),
        reread_on_conflict=reread,
        auth_settings=AUTH,
        fleet_setting="FLEET_FILE",
    )


# --- successes ------------------------------------------------------------------------------------


def test_a_deregistered_bot_is_registered_again_with_one_read_and_one_conditional_write() -> None:
    fake = FakeRegistrar([DEREGISTERED])

    result = repair(fake)

    assert result.outcome is RepairOutcome.REGISTERED
    assert [(c.method, c.etag) for c in fake.calls] == [("get", None), ("upsert", "e1")]
    assert fake.writes()[0].patch == WorkerPatch(available_for_offers=True)
    assert fake.workers["bot-1"].available_for_offers


def test_a_deleted_bot_is_created_again_from_its_declaration_create_only() -> None:
    fake = FakeRegistrar()

    result = repair(fake)

    assert result.outcome is RepairOutcome.CREATED
    (write,) = fake.writes()
    assert write.etag is None  # If-None-Match: *, so a worker created meanwhile is never overwritten
    created = fake.workers["bot-1"]
    assert (created.available_for_offers, created.queues, created.capacity) == (True, ("support-en",), 3)


def test_drift_on_a_registered_bot_is_repaired_by_a_reconciliation_run() -> None:
    fake = FakeRegistrar([replace(ACTIVE, queues=("support-fr",))])

    result = repair(fake, trigger=RUN)

    assert result.outcome is RepairOutcome.REPAIRED
    assert fake.writes()[0].patch == WorkerPatch(queues=("support-en",))
    assert fake.workers["bot-1"].queues == ("support-en",)


def test_a_disabled_bot_that_is_registered_is_deregistered() -> None:
    fake = FakeRegistrar([ACTIVE])

    result = repair(fake, declared=replace(BOT, enabled=False), trigger=RUN)

    assert result.outcome is RepairOutcome.DEREGISTERED
    assert isinstance(result.decision, Deregister)
    assert fake.workers["bot-1"].available_for_offers is False


@pytest.mark.parametrize(
    ("declared", "actual", "reason"),
    [(BOT, ACTIVE, "registered"), (replace(BOT, enabled=False), DEREGISTERED, "disabled")],
    ids=["already-registered", "disabled-and-deregistered"],
)
def test_nothing_to_do_reads_once_and_writes_nothing(
    declared: BotWorker, actual: WorkerState, reason: str
) -> None:
    fake = FakeRegistrar([actual])

    result = repair(fake, declared=declared)

    assert result == RepairResult(RepairOutcome.LEFT, LeaveWorker(reason))
    assert [c.method for c in fake.calls] == ["get"]


def test_an_undeclared_worker_is_never_read_or_written() -> None:
    fake = FakeRegistrar([DEREGISTERED])

    result = repair(fake, declared=None)

    assert result == RepairResult(RepairOutcome.LEFT, LeaveWorker("undeclared"))
    assert fake.calls == []


def test_a_flapping_bot_is_backed_off_without_a_write() -> None:
    fake = FakeRegistrar([DEREGISTERED])
    recent = tuple(NOW - timedelta(seconds=s) for s in (20, 15, 10))

    result = repair(fake, trigger=OfferExpired("ev-9", "bot-1", "o-9"), expiries=recent)

    assert result.outcome is RepairOutcome.BACKED_OFF
    assert result.decision == BackOff("flapping", NOW + timedelta(seconds=20), 3)
    assert fake.writes() == []


# --- 412: the worker changed between the read and the write --------------------------------------


def test_a_412_rereads_once_and_leaves_a_worker_someone_else_registered_meanwhile() -> None:
    fake = FakeRegistrar([DEREGISTERED])

    def someone_registers_it(registrar: FakeRegistrar) -> None:
        registrar.before_write = None
        registrar.workers["bot-1"] = replace(ACTIVE, etag="theirs")

    fake.before_write = someone_registers_it

    result = repair(fake)

    assert result.outcome is RepairOutcome.CHANGED
    assert result.decision == LeaveWorker("registered")
    assert result.status_code == 412
    assert [c.method for c in fake.calls] == ["get", "upsert", "get"]
    assert fake.workers["bot-1"].etag == "theirs"  # their write stands


def test_a_412_whose_fresh_state_still_needs_a_write_raises_so_event_grid_redelivers() -> None:
    fake = FakeRegistrar([DEREGISTERED])

    def someone_relabels_it(registrar: FakeRegistrar) -> None:
        registrar.before_write = None
        registrar.workers["bot-1"] = replace(DEREGISTERED, etag="theirs", labels={"kind": "human"})

    fake.before_write = someone_relabels_it

    with pytest.raises(WorkerChangedError) as caught:
        repair(fake)

    assert caught.value.worker_id == "bot-1"
    assert caught.value.status_code == 412
    assert isinstance(caught.value, RetryableServiceError)
    assert [c.method for c in fake.calls] == ["get", "upsert", "get"]  # re-read once, never a second write
    assert fake.workers["bot-1"].labels == {"kind": "human"}


def test_a_worker_created_by_someone_else_before_our_create_is_not_overwritten() -> None:
    fake = FakeRegistrar()

    def someone_creates_it(registrar: FakeRegistrar) -> None:
        registrar.before_write = None
        registrar.workers["bot-1"] = replace(ACTIVE, etag="theirs")

    fake.before_write = someone_creates_it

    result = repair(fake)

    assert (result.outcome, result.decision) == (RepairOutcome.CHANGED, LeaveWorker("registered"))
    assert fake.workers["bot-1"].etag == "theirs"


def test_a_412_during_reconciliation_is_left_to_the_next_run_without_a_second_read() -> None:
    fake = FakeRegistrar([replace(ACTIVE, capacity=1)])

    def someone_changes_it(registrar: FakeRegistrar) -> None:
        registrar.workers["bot-1"] = replace(ACTIVE, etag="theirs")

    fake.before_write = someone_changes_it

    result = repair(fake, trigger=RUN, reread=False)

    assert result.outcome is RepairOutcome.CHANGED
    assert isinstance(result.decision, Register)
    assert [c.method for c in fake.calls] == ["get", "upsert"]


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        http_error(HttpResponseError, 429),
        http_error(HttpResponseError, 500),
        http_error(HttpResponseError, 503),
        http_error(HttpResponseError, 408),
        ServiceResponseTimeoutError("read timed out"),
        ServiceRequestError("connection refused"),
    ],
    ids=["429", "500", "503", "408", "timeout", "connection-error"],
)
@pytest.mark.parametrize("failing", ["get", "upsert"])
def test_transient_failures_raise_a_retryable_error(failing: str, error: Exception) -> None:
    fake = FakeRegistrar([DEREGISTERED])
    if failing == "get":
        fake.fail_next(error)
    else:
        fake.before_write = raising(error)

    with pytest.raises(RetryableServiceError) as caught:
        repair(fake)

    assert not isinstance(caught.value, ConfigurationError)
    assert [c.method for c in fake.calls] == (["get"] if failing == "get" else ["get", "upsert"])
    assert fake.workers["bot-1"] == DEREGISTERED


@pytest.mark.parametrize(
    "error",
    [http_error(ClientAuthenticationError, 401), http_error(HttpResponseError, 403)],
    ids=["401", "403"],
)
def test_auth_failures_are_configuration_errors_naming_the_auth_setting(error: Exception) -> None:
    fake = FakeRegistrar([DEREGISTERED])
    fake.fail_next(error)

    with pytest.raises(ConfigurationError) as caught:
        repair(fake)

    assert caught.value.setting == AUTH
    assert AUTH in str(caught.value)


def test_a_400_on_the_write_names_the_fleet_setting_and_the_worker() -> None:
    fake = FakeRegistrar([DEREGISTERED])
    fake.before_write = raising(http_error(HttpResponseError, 400))

    with pytest.raises(ConfigurationError) as caught:
        repair(fake)

    assert (caught.value.setting, caught.value.status_code) == ("FLEET_FILE", 400)
    assert str(caught.value) == (
        "Job Router refused worker 'bot-1' as declared (HTTP 400); check the fleet (FLEET_FILE)"
    )


def test_a_409_on_a_read_is_retryable_not_an_offer_gone() -> None:
    fake = FakeRegistrar([DEREGISTERED])
    fake.fail_next(http_error(ResourceExistsError, 409))

    with pytest.raises(RetryableServiceError) as caught:
        repair(fake)

    assert caught.value.status_code == 409
    assert str(caught.value) == (
        "Job Router answered HTTP 409 for worker 'bot-1'; raising so the event is redelivered"
    )


def test_every_call_is_bounded_by_what_is_left_of_the_deadline() -> None:
    ticks = iter([0.0, 1.0, 4.0])
    fake = FakeRegistrar([DEREGISTERED])

    repair(fake, deadline=Deadline(10.0, monotonic=lambda: next(ticks)))

    assert [c.timeout for c in fake.calls] == [9.0, 6.0]


def test_no_call_is_made_once_the_deadline_has_passed() -> None:
    fake = FakeRegistrar([DEREGISTERED])
    ticks = iter([0.0, 11.0])

    with pytest.raises(RetryableServiceError, match="time budget"):
        repair(fake, deadline=Deadline(10.0, monotonic=lambda: next(ticks)))

    assert fake.calls == []


def test_a_conflict_during_reconciliation_reports_its_status() -> None:
    fake = FakeRegistrar([replace(ACTIVE, capacity=1)])
    fake.before_write = raising(http_error(ResourceExistsError, 409))

    result = repair(fake, trigger=RUN, reread=False)

    assert (result.outcome, result.status_code) == (RepairOutcome.CHANGED, 409)


def test_a_conflict_that_still_needs_a_write_raises_with_the_services_status() -> None:
    fake = FakeRegistrar()  # missing: the app creates it, create-only
    fake.before_write = raising(http_error(ResourceExistsError, 409))  # ...and the service says 409

    with pytest.raises(WorkerChangedError) as caught:
        repair(fake)

    assert (caught.value.worker_id, caught.value.status_code) == ("bot-1", 409)
    assert str(caught.value) == (
        "worker 'bot-1' changed while it was being repaired (HTTP 409); read again, it still needs a write "
        "(missing): raising so Event Grid redelivers"
    )


@pytest.mark.parametrize(
    ("elapsed", "left"),
    [(0.0, 10.0), (9.5, 0.5), (9.999, 0.001)],
    ids=["all", "half-a-second", "a-millisecond"],
)
def test_a_deadline_gives_each_call_what_is_left_of_it(elapsed: float, left: float) -> None:
    ticks = iter([0.0, elapsed])

    assert Deadline(10.0, monotonic=lambda: next(ticks)).timeout() == pytest.approx(left)


@pytest.mark.parametrize("elapsed", [10.0, 12.0], ids=["exactly-spent", "overspent"])
def test_a_spent_deadline_allows_no_further_call(elapsed: float) -> None:
    ticks = iter([0.0, elapsed, elapsed])
    deadline = Deadline(10.0, monotonic=lambda: next(ticks))

    with pytest.raises(
        RetryableServiceError, match=r"^the time budget ran out before the next Job Router call$"
    ):
        deadline.timeout()

    assert deadline.remaining() == 10.0 - elapsed
