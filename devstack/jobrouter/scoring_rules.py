"""Best-worker scoring rules: what a scoring rule sees and how its answers become worker scores (pure).

The job's part of the input follows ``scoringRuleOptions.scoringParameters``: ``jobLabels`` sends the
job's labels as ``job``, ``workerSelectors`` its active worker selectors as ``selectors``; the worker's
labels always go, as ``worker`` (one worker per call) or, with ``isBatchScoringEnabled``, as ``workers``
(up to ``batchSize`` per call, answered by a list of scores in the same order). An ``expression`` rule
is evaluated here with ``job.<label>`` and ``worker.<label>`` bound; ``function``/``webhook`` rules are
called by the engine with these payloads. The contract and its sources: docs/emulator-support-matrix.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from devstack.jobrouter.rule_values import RuleFailure, as_score, describe, local_output
from devstack.jobrouter.wire import JsonObject

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "SCORING_TARGET",
    "batch_payload",
    "batch_scores",
    "batches",
    "expression_score",
    "fingerprint",
    "job_inputs",
    "worker_payload",
]

#: Where the scoring rule sits, for error messages.
SCORING_TARGET: Final = "mode.scoringRule"
#: ``scoringRuleOptions.batchSize`` when it is not set (REST API 2023-11-01).
DEFAULT_BATCH_SIZE: Final = 20
_DEFAULT_PARAMETERS: Final = ("jobLabels", "workerSelectors")


def _selector(selector: Mapping[str, Any]) -> JsonObject:
    return {
        "key": selector.get("key"),
        "labelOperator": selector.get("labelOperator"),
        "value": selector.get("value"),
        "expiresAfterSeconds": selector.get("expiresAfterSeconds"),
    }


def job_inputs(job: Mapping[str, Any], options: Mapping[str, Any]) -> JsonObject:
    """The job's part of every scoring payload for this job, per ``scoringParameters``."""
    parameters: Sequence[str] = options.get("scoringParameters") or _DEFAULT_PARAMETERS
    inputs: JsonObject = {}
    if "jobLabels" in parameters:
        inputs["job"] = dict(job.get("labels", {}))
    if "workerSelectors" in parameters:
        selectors = [*job.get("requestedWorkerSelectors", []), *job.get("attachedWorkerSelectors", [])]
        inputs["selectors"] = [_selector(s) for s in selectors if s.get("status", "active") == "active"]
    return inputs


def worker_payload(inputs: Mapping[str, Any], worker_labels: Mapping[str, Any]) -> JsonObject:
    """The body of a call scoring one worker."""
    return {**inputs, "worker": dict(worker_labels)}


def batch_payload(inputs: Mapping[str, Any], workers_labels: Sequence[Mapping[str, Any]]) -> JsonObject:
    """The body of a call scoring a batch of workers (``isBatchScoringEnabled``)."""
    return {**inputs, "workers": [dict(labels) for labels in workers_labels]}


def batches[T](items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive batches of at most ``size``."""
    step = max(size, 1)
    return [list(items[i : i + step]) for i in range(0, len(items), step)]


def batch_scores(answer: Any, count: int) -> list[float]:
    """The scores a batch call answered: a list of ``count`` numbers, in the order the workers were sent."""
    if not isinstance(answer, list) or len(answer) != count:
        raise RuleFailure(
            SCORING_TARGET,
            f"a batch of {count} worker(s) was answered with {describe(answer)}; a batch scoring rule must "
            f"answer a list of {count} scores in the order the workers were sent",
            code="InvalidScore",
        )
    return [as_score(item, f"{SCORING_TARGET}[{i}]") for i, item in enumerate(answer)]


def expression_score(
    rule: Mapping[str, Any], inputs: Mapping[str, Any], worker_labels: Mapping[str, Any]
) -> float:
    """An expression scoring rule's score for one worker (``job`` is what ``scoringParameters`` sends)."""
    output = local_output(rule, SCORING_TARGET, job_labels=inputs.get("job", {}), worker_labels=worker_labels)
    return as_score(output, SCORING_TARGET)


def fingerprint(value: Any) -> str:
    """A stable text of a JSON value: scores are reused only while what produced them is unchanged."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
