"""The functions this evaluator knows: their signatures, implementations, and which are not supported.

Control-flow functions that evaluate their arguments lazily (``If``, ``Switch``, ``And``, ``Or``,
``Coalesce``) are bound and evaluated as special forms; every other supported function is a
``FunctionSpec`` here, whose arguments are coerced to its parameter types before it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devstack.jobrouter.powerfx.fx_values import FxType, FxValue

__all__ = [
    "LAZY_FUNCTIONS",
    "UNSUPPORTED_FUNCTIONS",
    "FunctionSignature",
    "FunctionSpec",
    "numeric_type",
]


@dataclass(frozen=True, slots=True)
class FunctionSignature:
    """The parameter type each argument is coerced to, and the result type."""

    parameter_types: tuple[FxType, ...]
    return_type: FxType


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A supported eager function.

    ``signature`` maps the static types of the arguments to the parameter and result types (math
    functions follow their argument: Float if any argument is Float, else Decimal).
    ``implementation`` receives the coerced argument values and the result type.
    """

    name: str
    min_arguments: int
    max_arguments: int | None
    signature: Callable[[tuple[FxType, ...]], FunctionSignature]
    implementation: Callable[[Sequence[FxValue], FxType], FxValue]


def numeric_type(argument_types: Sequence[FxType]) -> FxType:
    """Float when any argument is a Float, else Decimal (Power Fx's default number type)."""
    return FxType.FLOAT if FxType.FLOAT in argument_types else FxType.DECIMAL


# Supported, but bound as special forms because they evaluate arguments lazily.
LAZY_FUNCTIONS = frozenset({"If", "Switch", "And", "Or", "Coalesce"})

# Power Fx functions (from Microsoft's Power Fx core library) this evaluator does not implement.
# Calling one is a PowerFxUnsupportedError naming it; any other unknown name is a PowerFxTypeError.
UNSUPPORTED_FUNCTIONS = frozenset(
    {
        # date and time: labels cannot carry dates and a rule evaluated against a clock is not
        # reproducible; see docs/powerfx.md
        "Date", "DateAdd", "DateDiff", "DateTime", "DateTimeValue", "DateValue", "Day", "EDate",
        "EOMonth", "Hour", "ISOWeekNum", "IsToday", "IsUTCToday", "Minute", "Month", "Now",
        "Second", "Time", "TimeValue", "TimeZoneOffset", "Today", "UTCNow", "UTCToday", "WeekNum",
        "Weekday", "Year", "Calendar", "Clock",
        # tables and records: a Job Router label is a single value
        "AddColumns", "Concat", "Count", "CountA", "CountIf", "CountRows", "Distinct", "DropColumns",
        "Filter", "First", "FirstN", "ForAll", "Index", "IsEmpty", "Last", "LastN", "LookUp",
        "RenameColumns", "Search", "Sequence", "ShowColumns", "Shuffle", "Sort", "SortByColumns",
        "Split", "Summarize", "Table", "With", "Column", "ColumnNames",
        # errors, types, JSON and everything else in the core library
        "AsType", "Boolean", "ColorFade", "ColorValue", "Dec2Hex", "Decimal", "EncodeHTML",
        "EncodeUrl", "Error", "Float", "GUID", "Hex2Dec", "IfError", "IsBlankOrError", "IsError",
        "IsMatch", "IsNumeric", "IsType", "JSON", "Language", "Match", "MatchAll", "ParseJSON",
        "PlainText", "RGBA", "Rand", "RandBetween", "Refresh", "StdevP", "Trace", "UniChar", "VarP",
        # trigonometry
        "Acos", "Acot", "Asin", "Atan", "Atan2", "Cos", "Cot", "Degrees", "Pi", "Radians", "Sin",
        "Tan",
    }
)  # fmt: skip
