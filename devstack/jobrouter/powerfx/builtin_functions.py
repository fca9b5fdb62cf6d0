"""Every eager function the evaluator supports, by name: text, math and the small logical ones.

``Not``, ``IsBlank`` and ``Blank`` live here; the lazy ``If``/``Switch``/``And``/``Or``/``Coalesce``
are special forms of the binder (``function_catalog.LAZY_FUNCTIONS``).
"""

from __future__ import annotations

from collections.abc import Sequence

from devstack.jobrouter.powerfx.function_catalog import FunctionSignature, FunctionSpec
from devstack.jobrouter.powerfx.fx_values import FxType, FxValue
from devstack.jobrouter.powerfx.math_functions import MATH_FUNCTIONS
from devstack.jobrouter.powerfx.text_functions import TEXT_FUNCTIONS

__all__ = ["SUPPORTED_FUNCTIONS"]


def _not(args: Sequence[FxValue], _: FxType) -> FxValue:
    return not args[0]  # Blank reads as false, so Not(Blank()) is true


def _is_blank(args: Sequence[FxValue], _: FxType) -> FxValue:
    return args[0] is None or args[0] == ""


def _blank(args: Sequence[FxValue], _: FxType) -> FxValue:
    return None


def _boolean_parameter(argument_types: tuple[FxType, ...]) -> FunctionSignature:
    return FunctionSignature((FxType.BOOLEAN,) * len(argument_types), FxType.BOOLEAN)


def _any_parameter(argument_types: tuple[FxType, ...]) -> FunctionSignature:
    return FunctionSignature(argument_types, FxType.BOOLEAN)


def _no_parameter(argument_types: tuple[FxType, ...]) -> FunctionSignature:
    return FunctionSignature((), FxType.BLANK)


_LOGICAL_FUNCTIONS = {
    spec.name: spec
    for spec in (
        FunctionSpec("Not", 1, 1, _boolean_parameter, _not),
        FunctionSpec("IsBlank", 1, 1, _any_parameter, _is_blank),
        FunctionSpec("Blank", 0, 0, _no_parameter, _blank),
    )
}

SUPPORTED_FUNCTIONS: dict[str, FunctionSpec] = {**_LOGICAL_FUNCTIONS, **TEXT_FUNCTIONS, **MATH_FUNCTIONS}
