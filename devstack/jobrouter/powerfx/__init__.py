"""A pure Power Fx evaluator for the Job Router emulator's ``expression`` rules.

Parse once, evaluate per job or worker::

    from devstack.jobrouter.powerfx import compile_expression, to_json_value

    rule = compile_expression("If(job.Escalated = true, 10, 1)")
    priority = to_json_value(rule.evaluate(job_labels={"Escalated": True}))  # 10

Pipeline: ``tokenizer`` -> ``syntax_parser`` (``syntax_tree``) -> ``type_binder`` (``bound_tree``)
-> ``evaluator``. Every failure is a ``PowerFxError``; the subset and its sources are in
docs/powerfx.md.
"""

from devstack.jobrouter.powerfx.exceptions import (
    PowerFxError,
    PowerFxEvaluationError,
    PowerFxSyntaxError,
    PowerFxTypeError,
    PowerFxUnsupportedError,
)
from devstack.jobrouter.powerfx.expression import (
    CompiledExpression,
    JsonValue,
    compile_expression,
    evaluate,
    to_json_value,
)
from devstack.jobrouter.powerfx.fx_values import FxType, FxValue, type_of_value

__all__ = [
    "CompiledExpression",
    "FxType",
    "FxValue",
    "JsonValue",
    "PowerFxError",
    "PowerFxEvaluationError",
    "PowerFxSyntaxError",
    "PowerFxTypeError",
    "PowerFxUnsupportedError",
    "compile_expression",
    "evaluate",
    "to_json_value",
    "type_of_value",
]
