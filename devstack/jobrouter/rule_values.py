"""What a rule yields, and whether that fits where the rule sits (pure).

``local_output`` runs the rules the emulator evaluates itself (``static``, ``directMap`` and Power Fx
``expression`` rules, through :mod:`devstack.jobrouter.powerfx`); ``function`` and ``webhook`` rules are
called over HTTP elsewhere and their JSON answer comes back here. ``as_priority``, ``as_condition``,
``as_selectors`` and ``as_score`` then read a rule's output for its position. Any failure is a
:class:`RuleFailure` naming the rule's position and what failed: the engine turns it into
``classificationFailed`` (docs/emulator-support-matrix.md, "Rules").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from devstack.jobrouter.powerfx import CompiledExpression, PowerFxError, compile_expression, to_json_value
from devstack.jobrouter.resource_fields import MAX_PRIORITY, MIN_PRIORITY
from devstack.jobrouter.wire import JsonObject, normalize_numbers

__all__ = [
    "RuleFailure",
    "as_condition",
    "as_priority",
    "as_score",
    "as_selectors",
    "describe",
    "local_output",
]


class RuleFailure(Exception):
    """A rule could not produce a value fit for its position (``target``, e.g. ``prioritizationRule``)."""

    def __init__(self, target: str, message: str, *, code: str = "RuleFailed") -> None:
        super().__init__(f"{target}: {message}")
        self.target = target
        self.code = code
        self.message = f"{target}: {message}"


def describe(value: Any) -> str:
    """A short, safe rendering of a rule's output for an error message."""
    if value is None:
        return "Blank (null)"
    text = repr(value) if not isinstance(value, str) else f'text "{value}"'
    return text if len(text) <= 80 else text[:77] + "..."


@functools.lru_cache(maxsize=1024)
def _compiled(text: str) -> CompiledExpression:
    return compile_expression(text)


def _expression_output(
    rule: Mapping[str, Any],
    target: str,
    job_labels: Mapping[str, Any],
    worker_labels: Mapping[str, Any] | None,
) -> Any:
    text = str(rule.get("expression", ""))
    try:
        value = _compiled(text).evaluate(job_labels=job_labels, worker_labels=worker_labels)
    except PowerFxError as error:
        construct = f" ({error.construct})" if error.construct else ""
        raise RuleFailure(
            target, f"Power Fx expression {text!r} failed{construct}: {error}", code="ExpressionRuleFailed"
        ) from error
    return to_json_value(value)


def local_output(
    rule: Mapping[str, Any],
    target: str,
    *,
    job_labels: Mapping[str, Any],
    worker_labels: Mapping[str, Any] | None = None,
) -> Any:
    """The output of a ``static``, ``directMap`` or ``expression`` rule for these labels.

    ``worker_labels`` is given for a best-worker scoring rule only (``worker.<label>`` is then bound).
    """
    match rule.get("kind"):
        case "static":
            return rule.get("value")
        case "directMap":
            return [{"key": k, "labelOperator": "equal", "value": v} for k, v in job_labels.items()]
        case "expression":
            return _expression_output(rule, target, job_labels, worker_labels)
        case kind:
            raise RuleFailure(target, f"a {kind} rule is not evaluated locally")


def _number(value: Any) -> Decimal | None:
    """A JSON number, or text holding one (a function may answer ``"10"``); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def as_priority(output: Any, target: str) -> int:
    """A prioritization rule's output as a priority: a whole number from -100 to 100 (or text holding one)."""
    number = _number(output)
    if number is None or number != number.to_integral_value():
        raise RuleFailure(
            target, f"yielded {describe(output)}; a priority must be a whole number", code="InvalidPriority"
        )
    if not MIN_PRIORITY <= number <= MAX_PRIORITY:
        raise RuleFailure(
            target,
            f"yielded {number}; a priority must be from {MIN_PRIORITY} to {MAX_PRIORITY}",
            code="InvalidPriority",
        )
    return int(number)


def as_condition(output: Any, target: str) -> bool:
    """A condition's output as a boolean: true/false (or that text, any case); Blank is false."""
    if output is None or isinstance(output, bool):
        return bool(output)
    if isinstance(output, str) and output.strip().lower() in ("true", "false"):
        return output.strip().lower() == "true"
    raise RuleFailure(
        target, f"yielded {describe(output)}; a condition must be true or false", code="InvalidCondition"
    )


def as_selectors(output: Any, target: str) -> list[JsonObject]:
    """A ``ruleEngine`` rule's output: a list of label selectors (checked later, like any selector)."""
    if isinstance(output, list) and all(isinstance(item, dict) for item in output):
        return [dict(normalize_numbers(item)) for item in output]
    raise RuleFailure(
        target,
        f"yielded {describe(output)}; a ruleEngine rule must yield a list of label selectors "
        "({key, labelOperator, value} objects)",
        code="InvalidSelectors",
    )


def as_score(output: Any, target: str) -> float:
    """A scoring rule's output as a worker's score: a finite number (or text holding one)."""
    number = _number(output)
    if number is None:
        raise RuleFailure(
            target, f"yielded {describe(output)}; a score must be a number", code="InvalidScore"
        )
    return float(number)
