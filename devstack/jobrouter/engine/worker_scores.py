"""Best-worker scoring with a scoring rule: each eligible worker's score for a job, kept while it holds.

An ``expression`` rule is evaluated during the matching pass; a ``function``/``webhook`` rule is called
(one worker per call, or ``batchSize`` workers per call with ``isBatchScoringEnabled``) and the job waits
for the answers: it gets no offer in that pass, and its candidates are held back from jobs ranked below it
so that priority order still decides who gets a worker. When the answers arrive the job and those workers
count as changed, and the next pass offers the job in score order (ties to the worker idle longest).

A score is reused while the job's scoring input (labels, selectors) and the worker's labels are unchanged.
A worker whose score cannot be had (the rule failed, timed out or answered something that is not a
number) is not offered the job; that is logged, and retried after ``RETRY_FAILED_AFTER_SECONDS``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from devstack.jobrouter.engine.matching_index import SortKey, matching_order
from devstack.jobrouter.matching import Candidate
from devstack.jobrouter.router_rules import REMOTE_RULE_KINDS, remote_rule
from devstack.jobrouter.rule_call_tasks import RuleCall, RuleCallResult
from devstack.jobrouter.rule_http import RuleCallError
from devstack.jobrouter.rule_values import RuleFailure, as_score
from devstack.jobrouter.scoring_rules import (
    DEFAULT_BATCH_SIZE,
    SCORING_TARGET,
    batch_payload,
    batch_scores,
    batches,
    expression_score,
    fingerprint,
    job_inputs,
    worker_payload,
)
from devstack.jobrouter.store import Record

if TYPE_CHECKING:
    from devstack.jobrouter.engine.engine_context import EngineContext

__all__ = ["RETRY_FAILED_AFTER_SECONDS", "ScoreBooks", "scored_candidates"]

log = logging.getLogger(__name__)

#: A worker whose score could not be had is scored again after this long (if still eligible).
RETRY_FAILED_AFTER_SECONDS: Final = 10.0


@dataclass(slots=True)
class _Score:
    worker_fingerprint: str
    score: float | None
    failed_at: datetime | None = None


@dataclass(slots=True)
class _JobScores:
    job_fingerprint: str
    order: SortKey
    scores: dict[str, _Score] = field(default_factory=dict)
    #: worker id -> the labels fingerprint being scored by a call in flight
    pending: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ScoreBooks:
    """Scores per queued job (in memory: after a restart the rules run again)."""

    books: dict[str, _JobScores] = field(default_factory=dict)

    def held_back(self, order: SortKey) -> set[str]:
        """Workers waiting to be scored for jobs ranked before ``order``."""
        return {w for book in self.books.values() if book.order < order for w in book.pending}

    def prune(self, is_queued: Callable[[str], bool]) -> None:
        """Forget the books of jobs that are no longer queued."""
        for job_id in [j for j in self.books if not is_queued(j)]:
            del self.books[job_id]


def _job_fingerprint(job: Record, mode: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    options = mode.get("scoringRuleOptions", {})
    inputs = job_inputs(job.body, options)
    return fingerprint([inputs, mode.get("scoringRule"), options]), inputs


def _book(ctx: EngineContext, job: Record, mode: Mapping[str, Any]) -> tuple[_JobScores, Mapping[str, Any]]:
    job_id = str(job.body["id"])
    job_fp, inputs = _job_fingerprint(job, mode)
    book = ctx.scores.books.get(job_id)
    if book is None or book.job_fingerprint != job_fp:
        book = _JobScores(job_fp, matching_order(job))
        ctx.scores.books[job_id] = book
    book.order = matching_order(job)
    return book, inputs


def _usable(entry: _Score | None, worker_fp: str, now: datetime) -> bool:
    if entry is None or entry.worker_fingerprint != worker_fp:
        return False
    retry_at = entry.failed_at + timedelta(seconds=RETRY_FAILED_AFTER_SECONDS) if entry.failed_at else None
    return retry_at is None or retry_at > now


def _failed(ctx: EngineContext, job: Record, worker_id: str, worker_fp: str, reason: str) -> _Score:
    log.warning("job %s: worker %s not offered: its score failed: %s", job.body["id"], worker_id, reason)
    now = ctx.now()
    job_id = str(job.body["id"])
    ctx.timers.at(
        ("rescore", job_id),
        now + timedelta(seconds=RETRY_FAILED_AFTER_SECONDS),
        functools.partial(_rescore, ctx, job_id),
    )
    return _Score(worker_fp, None, failed_at=now)


def scored_candidates(
    ctx: EngineContext, job: Record, mode: Mapping[str, Any], candidates: Sequence[Candidate]
) -> list[Candidate] | None:
    """The candidates with their scores under the mode's scoring rule; None while scores are fetched.

    Without a scoring rule, or with a ``static`` one, the candidates are returned as they are.
    """
    rule = mode.get("scoringRule")
    if rule is None or rule.get("kind") not in ("expression", *REMOTE_RULE_KINDS):
        return list(candidates)
    book, inputs = _book(ctx, job, mode)
    now = ctx.now()
    scored: list[Candidate] = []
    missing: list[tuple[str, str, Mapping[str, Any]]] = []
    for c in candidates:
        worker = ctx.store.get("workers", c.worker_id)
        labels: Mapping[str, Any] = worker.body.get("labels", {}) if worker is not None else {}
        worker_fp = fingerprint(labels)
        entry = book.scores.get(c.worker_id)
        if not _usable(entry, worker_fp, now) and rule["kind"] == "expression":
            try:
                entry = _Score(worker_fp, expression_score(rule, inputs, labels))
            except RuleFailure as failure:
                entry = _failed(ctx, job, c.worker_id, worker_fp, failure.message)
            book.scores[c.worker_id] = entry
        if entry is not None and _usable(entry, worker_fp, now):
            if entry.score is not None:
                scored.append(dataclasses.replace(c, score=entry.score))
        elif book.pending.get(c.worker_id) != worker_fp:
            missing.append((c.worker_id, worker_fp, labels))
    if missing:
        _start_scoring(ctx, job, mode, book, inputs=inputs, missing=missing)
    return None if book.pending else scored


def _start_scoring(
    ctx: EngineContext,
    job: Record,
    mode: Mapping[str, Any],
    book: _JobScores,
    *,
    inputs: Mapping[str, Any],
    missing: Sequence[tuple[str, str, Mapping[str, Any]]],
) -> None:
    rule = mode["scoringRule"]
    target = remote_rule(rule)
    assert target is not None
    options = mode.get("scoringRuleOptions", {})
    if options.get("isBatchScoringEnabled"):
        groups = batches(list(missing), int(options.get("batchSize") or DEFAULT_BATCH_SIZE))
        calls = [RuleCall(SCORING_TARGET, target, batch_payload(inputs, [m[2] for m in g])) for g in groups]
    else:
        groups = [[m] for m in missing]
        calls = [RuleCall(SCORING_TARGET, target, worker_payload(inputs, m[2])) for m in missing]
    for worker_id, worker_fp, _ in missing:
        book.pending[worker_id] = worker_fp
    ids = [[(worker_id, worker_fp) for worker_id, worker_fp, _ in group] for group in groups]
    answered = functools.partial(_scores_arrived, ctx, str(job.body["id"]), book.job_fingerprint, ids)
    if ctx.rule_calls is None or ctx.loop is None:
        answered([RuleCallError("the emulator makes no rule calls until it is started")] * len(calls))
        return
    ctx.rule_calls.start(ctx.loop, calls, answered)


def _group_scores(group: Sequence[tuple[str, str]], result: RuleCallResult) -> list[float] | str:
    """One call's scores for its workers, or why there are none."""
    if isinstance(result, RuleCallError):
        return str(result)
    try:
        if len(group) == 1 and not isinstance(result, list):
            return [as_score(result, SCORING_TARGET)]
        return batch_scores(result, len(group))
    except RuleFailure as failure:
        return failure.message


def _scores_arrived(
    ctx: EngineContext,
    job_id: str,
    job_fp: str,
    groups: Sequence[Sequence[tuple[str, str]]],
    results: Sequence[RuleCallResult],
) -> None:
    """Record the answers; the job and its candidates count as changed for the next pass."""
    book = ctx.scores.books.get(job_id)
    job = ctx.store.get("jobs", job_id)
    if book is None or job is None or book.job_fingerprint != job_fp:
        return
    now = ctx.now()
    for group, result in zip(groups, results, strict=True):
        scores = _group_scores(group, result)
        for i, (worker_id, worker_fp) in enumerate(group):
            if book.pending.get(worker_id) == worker_fp:
                del book.pending[worker_id]
            if isinstance(scores, str):
                book.scores[worker_id] = _failed(ctx, job, worker_id, worker_fp, scores)
            else:
                book.scores[worker_id] = _Score(worker_fp, scores[i])
            ctx.store.touch("workers", worker_id, now, changed=False)
    _rescore(ctx, job_id)


def _rescore(ctx: EngineContext, job_id: str) -> None:
    """Make the next matching pass look at the job again, and ask for one."""
    ctx.store.touch("jobs", job_id, ctx.now(), changed=False)
    ctx.request_dispatch()
    ctx.commit()
