"""Carrying a repair out: read the worker once, decide, write with its ETag, under the outcome contract.

The SDK sits behind ``WorkerRegistrar``. The conflicts only a worker write has are handled here; every
other Azure SDK exception is mapped by ``offer_handlers.execute.map_sdk_error``:

    undeclared worker                -> no call at all (people's workers are never read or written)
    404 on the read                  -> the worker was deleted: the declaration wins, it is created again
                                        (create-only, If-None-Match: *)
    412 on the write (ETag changed,  -> events: read again once; if the fresh state still needs a write,
    or created/deleted meanwhile)       raise WorkerChangedError so Event Grid redelivers (a concurrent
                                        change is never overwritten blindly); reconciliation: left to
                                        the next run (one read per worker per run)
    400 on the write                 -> ConfigurationError naming the fleet setting (the declaration was
                                        refused)
    401, 403, other 4xx              -> ConfigurationError naming the auth settings
    408, 429, 5xx, timeouts,
    connection errors                -> RetryableServiceError, so Event Grid redelivers
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol, assert_never

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from offer_handlers.errors import (
    ConfigurationError,
    OfferHandlerError,
    RetryableServiceError,
    WorkerChangedError,
)
from offer_handlers.execute import map_sdk_error
from offer_handlers.fleet import BotWorker, FlapGuard
from offer_handlers.repair import (
    BackOff,
    Deregister,
    LeaveWorker,
    Register,
    RepairDecision,
    RepairTrigger,
    decide_repair,
)
from offer_handlers.worker_diff import WorkerPatch, WorkerState

__all__ = [
    "Deadline",
    "RepairOutcome",
    "RepairResult",
    "WorkerRegistrar",
    "repair_worker",
]

# The write conflicts: the ETag no longer matches (412), or the worker appeared (create-only 412, 409)
# or vanished (404) between the read and the write.
_CONFLICTS: Final = (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError)


class RepairOutcome(StrEnum):
    """What actually happened to a worker (the fleet log's ``outcome``)."""

    REGISTERED = "registered"  # registered again (and any drift repaired in the same write)
    CREATED = "created"  # it did not exist: created from the declaration
    REPAIRED = "repaired"  # registered already; its drift was repaired
    DEREGISTERED = "deregistered"  # disabled in the fleet: taken out of service
    BACKED_OFF = "backed-off"  # flapping: not registered before the guard's time
    LEFT = "left"  # nothing to do
    CHANGED = "changed"  # changed under us (412); nothing written
    SKIPPED = "skipped"  # the reconciliation's time budget ran out before this worker
    INVALID = "invalid"  # malformed event: acknowledged, no call
    IGNORED = "ignored"  # another event type, or no fleet declared: acknowledged, no call
    ERROR = "error"  # failed and raised


@dataclass(frozen=True, slots=True)
class RepairResult:
    """An outcome, the decision behind it (if one was made) and the service's status on a conflict."""

    outcome: RepairOutcome
    decision: RepairDecision | None = None
    status_code: int | None = None


class WorkerRegistrar(Protocol):
    """The two calls a repair needs. Implementations raise ``azure.core.exceptions`` types on failure.

    ``timeout`` is the time in seconds the call (retries included) may take.
    """

    def get(self, worker_id: str, *, timeout: float) -> WorkerState:
        """The worker as Job Router has it, with its ETag (``ResourceNotFoundError`` when it has none)."""
        ...

    def upsert(self, worker_id: str, patch: WorkerPatch, *, etag: str | None, timeout: float) -> WorkerState:
        """Write the worker conditionally.

        Merge-patch the worker only if its ETag is still ``etag`` (412: ``ResourceModifiedError``);
        with ``etag=None``, create it only if it does not exist (412: ``ResourceExistsError``).
        """
        ...


class Deadline:
    """A time budget on the monotonic clock; each call gets what is left of it."""

    def __init__(self, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._end = monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self._end - self._monotonic()

    def timeout(self) -> float:
        """The budget for the next call; raises ``RetryableServiceError`` when none is left."""
        left = self.remaining()
        if left <= 0:
            raise RetryableServiceError("the time budget ran out before the next Job Router call")
        return left


def repair_worker(
    trigger: RepairTrigger,
    declared: BotWorker | None,
    *,
    worker_id: str,
    registrar: Callable[[], WorkerRegistrar],
    expiries: Iterable[datetime],
    guard: FlapGuard,
    clock: Callable[[], datetime],
    deadline: Deadline,
    reread_on_conflict: bool,
    auth_settings: str,
    fleet_setting: str,
) -> RepairResult:
    """Read the worker, decide, carry the decision out; ``registrar`` is only called for a declared worker."""
    if declared is None:
        return RepairResult(RepairOutcome.LEFT, LeaveWorker("undeclared"))
    call = _Calls(registrar, worker_id, deadline, auth_settings=auth_settings, fleet_setting=fleet_setting)
    history = tuple(expiries)
    actual = call.read()
    decision = decide_repair(trigger, declared, actual, expiries=history, guard=guard, now=clock())
    try:
        return _carry_out(decision, actual, call)
    except _CONFLICTS as err:
        status = err.status_code
        if not reread_on_conflict:
            return RepairResult(RepairOutcome.CHANGED, decision, status)
        fresh = call.read()
        again = decide_repair(trigger, declared, fresh, expiries=history, guard=guard, now=clock())
        if isinstance(again, Register | Deregister):
            raise WorkerChangedError(
                f"worker {worker_id!r} changed while it was being repaired (HTTP {status}); read again, it "
                f"still needs a write ({again.reason}): raising so Event Grid redelivers",
                worker_id=worker_id,
                status_code=status,
            ) from err
        return RepairResult(RepairOutcome.CHANGED, again, status)


def _carry_out(decision: RepairDecision, actual: WorkerState | None, call: _Calls) -> RepairResult:
    match decision:
        case Register(patch=patch):
            call.write(patch, etag=None if actual is None else actual.etag)
            if actual is None:
                return RepairResult(RepairOutcome.CREATED, decision)
            if patch.available_for_offers:
                return RepairResult(RepairOutcome.REGISTERED, decision)
            return RepairResult(RepairOutcome.REPAIRED, decision)
        case Deregister(patch=patch):
            assert actual is not None  # only a worker that is registered is deregistered
            call.write(patch, etag=actual.etag)
            return RepairResult(RepairOutcome.DEREGISTERED, decision)
        case BackOff():
            return RepairResult(RepairOutcome.BACKED_OFF, decision)
        case LeaveWorker():
            return RepairResult(RepairOutcome.LEFT, decision)
        case _:
            assert_never(decision)


class _Calls:
    """The registrar's calls for one worker, each bounded by the deadline, SDK errors mapped."""

    __slots__ = ("_auth_settings", "_deadline", "_fleet_setting", "_registrar", "_worker_id")

    def __init__(
        self,
        registrar: Callable[[], WorkerRegistrar],
        worker_id: str,
        deadline: Deadline,
        *,
        auth_settings: str,
        fleet_setting: str,
    ) -> None:
        self._registrar = registrar
        self._worker_id = worker_id
        self._deadline = deadline
        self._auth_settings = auth_settings
        self._fleet_setting = fleet_setting

    def read(self) -> WorkerState | None:
        """The worker, or None when Job Router has none (404)."""
        try:
            return self._registrar().get(self._worker_id, timeout=self._deadline.timeout())
        except ResourceNotFoundError:
            return None
        except AzureError as err:
            raise self._mapped(err) from err

    def write(self, patch: WorkerPatch, *, etag: str | None) -> None:
        """Apply ``patch``; write conflicts (412/409/404) propagate as the SDK raised them."""
        try:
            self._registrar().upsert(self._worker_id, patch, etag=etag, timeout=self._deadline.timeout())
        except _CONFLICTS:
            raise
        except AzureError as err:
            raise self._mapped(err) from err

    def _mapped(self, err: AzureError) -> OfferHandlerError:
        if isinstance(err, HttpResponseError) and err.status_code == 400:
            return ConfigurationError(
                f"Job Router refused worker {self._worker_id!r} as declared (HTTP 400); check the fleet "
                f"({self._fleet_setting})",
                setting=self._fleet_setting,
                status_code=400,
            )
        mapped = map_sdk_error(err, auth_settings=self._auth_settings)
        if isinstance(mapped, OfferHandlerError):
            return mapped
        # A 404/409 outside a write (e.g. on a read through a proxy) is not an offer that is gone.
        return RetryableServiceError(
            f"Job Router answered HTTP {mapped.status_code} for worker {self._worker_id!r}; raising so the "
            "event is redelivered",
            status_code=mapped.status_code,
        )
