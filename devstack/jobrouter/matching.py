"""Pure matching rules: label selectors, worker capacity, and the three distribution modes' orderings.

Nothing here touches the store, the clock or the event loop; the engine passes in plain values.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Candidate",
    "best_worker_score",
    "capacity_left",
    "label_matches",
    "order_candidates",
    "selectors_match",
]


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "greaterThan": operator.gt,
    "greaterThanOrEqual": operator.ge,
    "lessThan": operator.lt,
    "lessThanOrEqual": operator.le,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Equality that never treats ``True`` as ``1`` (labels keep their JSON types)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is None and b is None


def label_matches(labels: Mapping[str, Any], key: str, op: str, value: Any) -> bool:
    """Does a label map satisfy ``key <op> value``?

    A missing label satisfies only ``notEqual``; ordering operators need two numbers.
    """
    if key not in labels:
        return op == "notEqual"
    actual = labels[key]
    if op in ("equal", "notEqual"):
        return _same(actual, value) == (op == "equal")
    compare = _ORDERING.get(op)
    return compare is not None and _is_number(actual) and _is_number(value) and compare(actual, value)


def selectors_match(labels: Mapping[str, Any], selectors: Iterable[Mapping[str, Any]]) -> bool:
    """All active selectors hold for the labels (expired selectors no longer constrain)."""
    return all(
        label_matches(labels, str(s["key"]), str(s["labelOperator"]), s.get("value"))
        for s in selectors
        if s.get("status", "active") == "active"
    )


def capacity_left(worker: Mapping[str, Any]) -> int:
    """Total capacity minus what assigned jobs and pending offers hold."""
    used = sum(int(o.get("capacityCost", 0)) for o in worker.get("offers", []))
    used += sum(int(a.get("capacityCost", 0)) for a in worker.get("assignedJobs", []))
    return int(worker.get("capacity", 0)) - used


def best_worker_score(
    *,
    worker_labels: Mapping[str, Any],
    job_labels: Mapping[str, Any],
    selectors: Sequence[Mapping[str, Any]],
    parameters: Sequence[str],
) -> float:
    """The default bestWorker score (distribution-concepts.md).

    ``jobLabels``: the fraction of the job's labels the worker has with the same value.
    ``workerSelectors``: 1 per equal/notEqual selector the worker meets; for ordering operators the
    logistic ``1/(1+e^-x)`` with ``x = (label - value)/value`` (sign reversed for less-than).
    """
    score = 0.0
    if "jobLabels" in parameters and job_labels:
        matched = sum(1 for k, v in job_labels.items() if k in worker_labels and _same(worker_labels[k], v))
        score += matched / len(job_labels)
    if "workerSelectors" in parameters:
        for sel in selectors:
            if sel.get("status", "active") != "active":
                continue
            key, op = str(sel["key"]), str(sel["labelOperator"])
            value: Any = sel.get("value")
            if op in ("equal", "notEqual"):
                if label_matches(worker_labels, key, op, value):
                    score += 1.0
                continue
            actual: Any = worker_labels.get(key)
            if not (_is_number(actual) and _is_number(value)) or value == 0:
                continue
            x = (float(actual) - float(value)) / float(value)
            if op in ("lessThan", "lessThanOrEqual"):
                x = -x
            score += 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))
    return score


@dataclass(frozen=True, slots=True)
class Candidate:
    """An eligible worker as the orderings see it."""

    worker_id: str
    load_ratio: float
    idle_since: datetime
    score: float = 0.0


def order_candidates(
    mode: str, candidates: Sequence[Candidate], *, last_offered: str | None, descending: bool = True
) -> list[Candidate]:
    """Eligible workers in offer order for a distribution mode.

    - ``longestIdle``: lowest load ratio first, ties to the worker idle longest, then by id;
    - ``roundRobin``: by worker id, starting after the worker offered last in this queue;
    - ``bestWorker``: highest score first (lowest when not ``descending``), ties to the longest idle.
    """
    if mode == "roundRobin":
        by_id = sorted(candidates, key=lambda c: c.worker_id)
        if last_offered is None:
            return by_id
        after = [c for c in by_id if c.worker_id > last_offered]
        return after + [c for c in by_id if c.worker_id <= last_offered]
    if mode == "bestWorker":
        sign = -1.0 if descending else 1.0
        return sorted(candidates, key=lambda c: (sign * c.score, c.idle_since, c.worker_id))
    return sorted(candidates, key=lambda c: (c.load_ratio, c.idle_since, c.worker_id))
