"""The end-of-run summary, computed from what the run recorded (pure: no I/O, no clock).

Inputs: the jobs the run planned, their final statuses (read through the SDK), the emulator's event log, the
function's decision lines, fleet lines and invocation counts, and the agent app's counters. Output: a frozen
:class:`Summary` with counts per outcome, offer-issued-to-answered latency percentiles (from the event times
of ``RouterWorkerOfferIssued`` and ``RouterWorkerOfferAccepted``/``Declined``), what the function did for the
bot fleet (re-registrations, back-offs, reconciliation runs), which scenario paths were exercised, and every
job that did not end in a status its template expects: the verdict.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from devstack.demo import demo_event as ev
from devstack.demo.agent import AgentStats
from devstack.demo.demo_event import DemoEvent
from devstack.demo.hostlog import FleetLine, HostSnapshot
from devstack.demo.scenario import Role
from offer_handlers.decision_log import DecisionRecord

__all__ = [
    "FLEET_ROWS",
    "Latency",
    "PathCheck",
    "PlannedJob",
    "Summary",
    "UnexpectedJob",
    "fleet_counts",
    "latency_of",
    "summarize",
]

#: The fleet rows of the summary: (label, the fleet-log ``outcome`` it counts), in display order.
FLEET_ROWS: Final = (
    ("bots registered again", "registered"),
    ("bots created (deleted before)", "created"),
    ("drift repaired (reconciliation)", "repaired"),
    ("bots deregistered (disabled)", "deregistered"),
    ("backed off (flapping)", "backed-off"),
    ("changed meanwhile (412)", "changed"),
    ("failed", "error"),
)


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """A job the run submits: its id, template and the final statuses that count as success."""

    job_id: str
    template: str
    expected: frozenset[str]


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles of a set of durations in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class PathCheck:
    """One path of the scenario: how often it happened, whether that is enough, and a note."""

    name: str
    count: int
    ok: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class UnexpectedJob:
    """A job whose final status is not one its template expects (``status`` None: never seen)."""

    job_id: str
    template: str
    status: str | None
    expected: frozenset[str]


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything the summary table shows, and the verdict."""

    jobs_planned: int
    jobs_submitted: int
    jobs_by_status: tuple[tuple[str, int], ...]
    unexpected: tuple[UnexpectedJob, ...]
    offers: tuple[tuple[str, int], ...]
    latency: tuple[tuple[str, Latency | None], ...]
    invocations_ok: int
    invocations_failed: int
    decision_outcomes: tuple[tuple[str, int], ...]
    decision_reasons: tuple[tuple[str, int], ...]
    agent: AgentStats
    paths: tuple[PathCheck, ...]
    elapsed_seconds: float
    #: What the function did for the bot fleet (``FLEET_ROWS``, then left alone and reconciliation runs);
    #: empty when the scenario has no fleet.
    fleet: tuple[tuple[str, int], ...] = ()
    fleet_invocations_ok: int = 0
    fleet_invocations_failed: int = 0

    @property
    def ok(self) -> bool:
        """Every planned job was submitted and ended in an expected status."""
        return not self.unexpected and self.jobs_submitted == self.jobs_planned

    @property
    def reason(self) -> str:
        """One line: why the run passed or failed."""
        if self.ok:
            statuses = ", ".join(f"{count} {status}" for status, count in self.jobs_by_status)
            return f"all {self.jobs_planned} jobs ended in an expected state ({statuses})"
        parts = []
        if self.jobs_submitted != self.jobs_planned:
            parts.append(f"only {self.jobs_submitted} of {self.jobs_planned} jobs were submitted")
        if self.unexpected:
            shown = ", ".join(
                f"{u.job_id} {u.status or 'missing'} (expected {'/'.join(sorted(u.expected))})"
                for u in self.unexpected[:5]
            )
            more = f" and {len(self.unexpected) - 5} more" if len(self.unexpected) > 5 else ""
            parts.append(
                f"{len(self.unexpected)} of {self.jobs_planned} jobs did not end in an expected state: "
                f"{shown}{more}"
            )
        return "; ".join(parts)


def latency_of(durations_ms: Iterable[float]) -> Latency | None:
    """p50/p95/p99/max of ``durations_ms`` (None when empty); inclusive quantiles, like numpy's default."""
    values = sorted(durations_ms)
    if not values:
        return None
    if len(values) == 1:
        only = values[0]
        return Latency(1, only, only, only, only)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return Latency(len(values), cuts[49], cuts[94], cuts[98], values[-1])


def summarize(
    *,
    planned: Sequence[PlannedJob],
    submitted: int,
    final_statuses: Mapping[str, str],
    events: Sequence[DemoEvent],
    host: HostSnapshot,
    agent: AgentStats,
    roles: Mapping[str, Role],
    wraps_up: bool,
    elapsed_seconds: float,
    declared: frozenset[str] = frozenset(),
    hand_edits: int = 0,
) -> Summary:
    """Build the summary of one run.

    ``declared``: the workers of the scenario's fleet (none: no fleet); ``hand_edits``: changes made to
    workers by hand during the run, which the reconciliation timer should have repaired.
    """
    by_type: dict[str, list[DemoEvent]] = {}
    for event in sorted(events, key=lambda e: e.time):
        by_type.setdefault(event.type, []).append(event)

    def of(kind: str) -> list[DemoEvent]:
        return by_type.get(kind, [])

    issued_at = {e.offer_id: e.time for e in of(ev.OFFER_ISSUED) if e.offer_id}
    accepted_ids = {e.offer_id for e in of(ev.OFFER_ACCEPTED) if e.offer_id}
    expired_ids = {e.offer_id for e in of(ev.OFFER_EXPIRED) if e.offer_id}

    decisions = host.decisions
    by_function = {d.offer_id for d in decisions if d.offer_id and d.outcome in ("accepted", "declined")}
    left = [d for d in decisions if d.outcome == "left" and d.offer_id]
    declined_retry = [d for d in decisions if d.outcome == "declined" and d.retry_at is not None]
    declined_for_good = [d for d in decisions if d.outcome == "declined" and d.retry_at is None]
    function_accepts = [d for d in decisions if d.outcome == "accepted"]

    offers = (
        ("issued", len(of(ev.OFFER_ISSUED))),
        ("accepted by the function", len(function_accepts)),
        ("accepted in the agent app", len(accepted_ids - by_function)),
        ("declined with retry (function)", len(declined_retry)),
        ("declined for good (function)", len(declined_for_good)),
        ("left by the function", len(left)),
        ("expired", len(of(ev.OFFER_EXPIRED))),
        ("revoked", len(of(ev.OFFER_REVOKED))),
        ("workers deregistered", len(of(ev.WORKER_DEREGISTERED))),
        ("workers registered again", _re_registrations(of(ev.WORKER_REGISTERED))),
    )

    answered: dict[str, list[float]] = {"all answers": [], "by the function": [], "in the agent app": []}
    for event in [*of(ev.OFFER_ACCEPTED), *of(ev.OFFER_DECLINED)]:
        started = issued_at.get(event.offer_id or "")
        if started is None:
            continue
        ms = (event.time - started).total_seconds() * 1000
        answered["all answers"].append(ms)
        answered["by the function" if event.offer_id in by_function else "in the agent app"].append(ms)

    statuses = Counter(final_statuses.get(job.job_id, "missing") for job in planned)
    unexpected = tuple(
        UnexpectedJob(job.job_id, job.template, final_statuses.get(job.job_id), job.expected)
        for job in planned
        if final_statuses.get(job.job_id) not in job.expected
    )
    outcomes = Counter(d.outcome or "-" for d in decisions)
    reasons = Counter(f"{d.reason or '-'} -> {d.outcome or '-'}" for d in decisions)
    return Summary(
        jobs_planned=len(planned),
        jobs_submitted=submitted,
        jobs_by_status=tuple(sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))),
        unexpected=unexpected,
        offers=offers,
        latency=tuple((label, latency_of(values)) for label, values in answered.items()),
        invocations_ok=host.invocations_ok,
        invocations_failed=host.invocations_failed,
        decision_outcomes=tuple(sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        decision_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        agent=agent,
        paths=_paths(
            by_type=by_type,
            roles=roles,
            function_accepts=function_accepts,
            declined_retry=declined_retry,
            declined_for_good=declined_for_good,
            left=left,
            accepted_ids=accepted_ids,
            expired_ids=expired_ids,
            wraps_up=wraps_up,
        )
        + (_fleet_paths(host.fleet_actions, by_type, declared, hand_edits) if declared else ()),
        elapsed_seconds=elapsed_seconds,
        fleet=fleet_counts(host.fleet_actions) if declared else (),
        fleet_invocations_ok=host.fleet_ok,
        fleet_invocations_failed=host.fleet_failed,
    )


def fleet_counts(lines: Sequence[FleetLine]) -> tuple[tuple[str, int], ...]:
    """The fleet rows: workers per outcome (``FLEET_ROWS``), left alone (by reason), reconciliation runs."""
    workers = [line for line in lines if not line.is_run]
    outcomes = Counter(line.outcome for line in workers)
    rows = [(label, outcomes.get(outcome, 0)) for label, outcome in FLEET_ROWS]
    left = Counter(line.reason or "-" for line in workers if line.outcome == "left")
    rows += [(f"left alone: {reason}", count) for reason, count in sorted(left.items())]
    rows.append(("reconciliation runs", sum(1 for line in lines if line.is_run)))
    return tuple(rows)


def _fleet_paths(
    lines: Sequence[FleetLine],
    by_type: Mapping[str, Sequence[DemoEvent]],
    declared: frozenset[str],
    hand_edits: int,
) -> tuple[PathCheck, ...]:
    """The fleet's paths: expiries repaired, drift repaired by the timer, no undeclared worker written."""
    expired_bots = sum(1 for e in by_type.get(ev.OFFER_EXPIRED, ()) if e.worker_id in declared)
    on_events = [line for line in lines if not line.is_run and line.trigger != "reconcile"]
    registered = sum(1 for line in on_events if line.outcome in ("registered", "created"))
    backed_off = sum(1 for line in on_events if line.outcome == "backed-off")
    touched = {
        line.worker_id
        for line in lines
        if line.outcome in ("registered", "created", "repaired", "deregistered") and line.worker_id
    }
    repaired = sum(1 for line in lines if line.outcome == "repaired")
    drift = (
        PathCheck(
            "bot changed by hand, repaired by the reconciliation timer",
            repaired,
            repaired >= hand_edits,
            f"{hand_edits} changes by hand; {sum(1 for line in lines if line.is_run)} reconciliation runs",
        ),
    )
    return drift * bool(hand_edits) + (
        PathCheck(
            "bot's offer expired, registered again by the function",
            registered,
            registered > 0,
            f"{expired_bots} offers to declared bots expired; {backed_off} back-offs (flapping guard)",
        ),
        PathCheck(
            "only declared bots written by the function",
            len(touched),
            touched <= declared,
            ", ".join(sorted(touched - declared)) or "no undeclared worker written",
        ),
    )


def _re_registrations(registered: Sequence[DemoEvent]) -> int:
    """Registrations of workers that had registered before (the first one is the scenario's)."""
    seen: set[str] = set()
    again = 0
    for event in registered:
        worker_id = event.worker_id or ""
        if worker_id in seen:
            again += 1
        seen.add(worker_id)
    return again


def _paths(
    *,
    by_type: Mapping[str, Sequence[DemoEvent]],
    roles: Mapping[str, Role],
    function_accepts: Sequence[DecisionRecord],
    declined_retry: Sequence[DecisionRecord],
    declined_for_good: Sequence[DecisionRecord],
    left: Sequence[DecisionRecord],
    accepted_ids: set[str],
    expired_ids: set[str],
    wraps_up: bool,
) -> tuple[PathCheck, ...]:
    declined_at = {e.offer_id: e.time for e in by_type.get(ev.OFFER_DECLINED, ()) if e.offer_id}
    issues = list(by_type.get(ev.OFFER_ISSUED, ()))
    registrations = list(by_type.get(ev.WORKER_REGISTERED, ()))
    re_offered, same_worker_after_retry = _re_offers(declined_retry, declined_at, issues)
    violations = _re_offers_after_for_good(declined_for_good, declined_at, issues, registrations)

    left_ids = {d.offer_id for d in left if d.offer_id is not None}
    bot_accepts = sum(1 for d in function_accepts if roles.get(d.worker_id or "") == "bot")
    expired_left = len(left_ids & expired_ids)
    left_accepted = left_ids & accepted_ids
    re_registered = _re_registrations(registrations)
    checks = [
        PathCheck("bot offer accepted by the function", bot_accepts, bot_accepts > 0),
        PathCheck(
            "declined with retry, then offered again",
            re_offered,
            re_offered > 0,
            f"{len(declined_retry)} declines; {same_worker_after_retry} re-offered to the same worker "
            "after the retry time",
        ),
        PathCheck(
            "declined for good, never re-offered to that worker",
            len(declined_for_good),
            bool(declined_for_good) and violations == 0,
            f"{violations} re-offers to the declining worker without a new registration",
        ),
        PathCheck(
            "left by the function, accepted in the agent app",
            len(left_accepted),
            bool(left_accepted),
        ),
        PathCheck(
            "left, expired, worker deregistered and registered again",
            expired_left,
            expired_left > 0 and re_registered > 0,
            f"{len(by_type.get(ev.WORKER_DEREGISTERED, ()))} deregistrations, "
            f"{re_registered} registrations again",
        ),
    ]
    if wraps_up:
        closed = len(by_type.get(ev.JOB_CLOSED, ()))
        checks.append(PathCheck("job wrapped up (completed and closed)", closed, closed > 0))
    return tuple(checks)


def _offered_after(
    issues: Sequence[DemoEvent], job_id: str | None, when: datetime, worker_id: str | None = None
) -> list[DemoEvent]:
    return [
        e
        for e in issues
        if e.job_id == job_id and e.time > when and (worker_id is None or e.worker_id == worker_id)
    ]


def _re_offers(
    declined_retry: Sequence[DecisionRecord], declined_at: Mapping[str, datetime], issues: Sequence[DemoEvent]
) -> tuple[int, int]:
    """Declines with retry whose job was offered again; those re-offered to that worker after retry_at."""
    re_offered = same_worker_after_retry = 0
    for line in declined_retry:
        when = declined_at.get(line.offer_id or "")
        if when is None:
            continue
        later = _offered_after(issues, line.job_id, when)
        if later:
            re_offered += 1
        retry_at = _parse_time(line.retry_at)
        if retry_at is not None and any(e.worker_id == line.worker_id and e.time >= retry_at for e in later):
            same_worker_after_retry += 1
    return re_offered, same_worker_after_retry


def _re_offers_after_for_good(
    declined_for_good: Sequence[DecisionRecord],
    declined_at: Mapping[str, datetime],
    issues: Sequence[DemoEvent],
    registrations: Sequence[DemoEvent],
) -> int:
    """Offers to a worker that declined the job for good, with no new registration of that worker between."""
    violations = 0
    for line in declined_for_good:
        when = declined_at.get(line.offer_id or "")
        if when is None:
            continue
        for again in _offered_after(issues, line.job_id, when, line.worker_id):
            registered_between = any(
                r.worker_id == line.worker_id and when < r.time < again.time for r in registrations
            )
            if not registered_between:
                violations += 1
    return violations


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
