"""Power Fx text functions (``Len``, ``Left``, ``Mid``, ``Substitute``, ``Text``, ``Value``...).

Each follows Microsoft's interpreter: Blank text reads as "", positions and counts are truncated
numbers, lengths count UTF-16 code units as .NET strings do, ``StartsWith``/``EndsWith``/``in`` ignore
case and ``Find``/``Substitute`` do not. Sources per function are in docs/powerfx.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from devstack.jobrouter.powerfx.exceptions import PowerFxEvaluationError
from devstack.jobrouter.powerfx.function_catalog import FunctionSignature, FunctionSpec
from devstack.jobrouter.powerfx.fx_values import FxType, FxValue, to_decimal, to_text

__all__ = ["TEXT_FUNCTIONS", "contains_ignoring_case", "utf16_length"]

_T, _F, _D = FxType.TEXT, FxType.FLOAT, FxType.DECIMAL
_INT_MAX = 2**31 - 1
type Implementation = Callable[[Sequence[FxValue], FxType], FxValue]


def utf16_length(text: str) -> int:
    """The length .NET reports for ``text`` (characters outside the BMP count twice)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _utf16_slice(text: str, start: int, end: int | None = None) -> str:
    if all(ord(ch) <= 0xFFFF for ch in text):
        return text[start:end]
    units = text.encode("utf-16-le", "surrogatepass")
    stop = None if end is None else 2 * end
    return units[2 * start : stop].decode("utf-16-le", "surrogatepass")


def _fold(text: str) -> str:
    # .NET OrdinalIgnoreCase compares code units upper-cased one by one (no expansion like "ß"->"SS").
    return "".join(ch.upper() if len(ch.upper()) == 1 else ch for ch in text)


def contains_ignoring_case(needle: str, haystack: str) -> bool:
    """``needle in haystack`` ignoring case the way .NET's OrdinalIgnoreCase does."""
    return _fold(needle) in _fold(haystack)


def _text(value: FxValue) -> str:
    return value if isinstance(value, str) else ""


def _whole(value: FxValue) -> int:
    """A count or position argument: Blank is 0, the number is truncated and clamped to an int."""
    number = value if isinstance(value, float) else 0.0
    if math.isnan(number):
        return 0
    if number >= _INT_MAX:
        return _INT_MAX
    if number <= -_INT_MAX - 1:
        return -_INT_MAX - 1
    return int(number)


def _out_of_range(function: str) -> PowerFxEvaluationError:
    return PowerFxEvaluationError(
        f"An argument to {function} is out of range.",
        kind="InvalidArgument",
        construct=f"function '{function}'",
    )


def _len(args: Sequence[FxValue], _: FxType) -> FxValue:
    return Decimal(utf16_length(_text(args[0])))


def _left(args: Sequence[FxValue], _: FxType) -> FxValue:
    if args[1] is None:
        return ""
    count = _whole(args[1])
    if count < 0:
        raise _out_of_range("Left")
    return _utf16_slice(_text(args[0]), 0, count)


def _right(args: Sequence[FxValue], _: FxType) -> FxValue:
    if args[1] is None:
        return ""
    text, count = _text(args[0]), _whole(args[1])
    if count < 0:
        raise _out_of_range("Right")
    length = utf16_length(text)
    return text if count >= length else _utf16_slice(text, length - count)


def _mid(args: Sequence[FxValue], _: FxType) -> FxValue:
    text = _text(args[0])
    start = _whole(args[1])
    count = _whole(args[2]) if len(args) > 2 else _INT_MAX
    if start <= 0 or count < 0:
        raise _out_of_range("Mid")
    begin = start - 1
    length = utf16_length(text)
    if begin >= length:
        return ""
    return _utf16_slice(text, begin, begin + min(count, length - begin))


def _upper(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _text(args[0]).upper()


def _lower(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _text(args[0]).lower()


def _proper(args: Sequence[FxValue], _: FxType) -> FxValue:
    # .NET TextInfo.ToTitleCase over the lower-cased text: a letter after a non-letter starts a word,
    # except after an apostrophe inside a word ("o'neil" -> "O'neil").
    out: list[str] = []
    previous = ""
    before_previous = ""
    for ch in _text(args[0]).lower():
        starts_word = ch.isalpha() and not (
            previous.isalpha() or (previous in "'\u2019" and before_previous.isalpha())
        )
        out.append(ch.upper() if starts_word and len(ch.upper()) == 1 else ch)
        before_previous, previous = previous, ch
    return "".join(out)


_INNER_SPACES = re.compile(r"[^\S\xa0\n\v\f\r]+")


def _trim(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _INNER_SPACES.sub(" ", _text(args[0])).strip()


def _trim_ends(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _text(args[0]).strip()


def _concatenate(args: Sequence[FxValue], _: FxType) -> FxValue:
    return "".join(_text(a) for a in args)


def _substitute(args: Sequence[FxValue], _: FxType) -> FxValue:
    source, match, replacement = _text(args[0]), _text(args[1]), _text(args[2])
    if len(args) > 3:
        if args[3] is None or _whole(args[3]) < 1:
            raise _out_of_range("Substitute")
        instance = _whole(args[3])
        if instance > utf16_length(source) or not match:
            return source
        index = 0
        while index < len(source):
            index = source.find(match, index)
            if index < 0:
                break
            instance -= 1
            if instance == 0:
                return source[:index] + replacement + source[index + len(match) :]
            index += len(match)
        return source
    return source.replace(match, replacement) if match else source


def _replace(args: Sequence[FxValue], _: FxType) -> FxValue:
    source, replacement = _text(args[0]), _text(args[3])
    start, count = _whole(args[1]), _whole(args[2])
    if start <= 0 or count < 0:
        raise _out_of_range("Replace")
    begin = start - 1
    length = utf16_length(source)
    prefix = _utf16_slice(source, 0, begin) if begin < length else source
    suffix = _utf16_slice(source, begin + count) if begin + count < length else ""
    return prefix + replacement + suffix


def _find(args: Sequence[FxValue], _: FxType) -> FxValue:
    needle, haystack = _text(args[0]), _text(args[1])
    start = _whole(args[2]) if len(args) > 2 else 1
    if start < 1 or start > utf16_length(haystack) + 1:
        raise _out_of_range("Find")
    index = haystack.find(needle, start - 1)
    return None if index < 0 else Decimal(utf16_length(haystack[:index]) + 1)


def _starts_with(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _fold(_text(args[0])).startswith(_fold(_text(args[1])))


def _ends_with(args: Sequence[FxValue], _: FxType) -> FxValue:
    return _fold(_text(args[0])).endswith(_fold(_text(args[1])))


def _text_function(args: Sequence[FxValue], _: FxType) -> FxValue:
    return to_text(args[0])


def _value_function(args: Sequence[FxValue], _: FxType) -> FxValue:
    return to_decimal(args[0], "function 'Value'")


def _char(args: Sequence[FxValue], _: FxType) -> FxValue:
    code = args[0] if isinstance(args[0], float) else 0.0  # Blank reads as 0, which is out of range
    if not code >= 1 or code >= 256:
        raise _out_of_range("Char")
    return chr(int(code))


def _spec(
    name: str, arity: tuple[int, int | None], params: Sequence[FxType], returns: FxType, impl: Implementation
) -> FunctionSpec:
    """A function with fixed parameter types (the last one repeats for variadic functions)."""

    def signature(argument_types: tuple[FxType, ...]) -> FunctionSignature:
        parameter_types = tuple(params[min(i, len(params) - 1)] for i in range(len(argument_types)))
        return FunctionSignature(parameter_types, returns)

    return FunctionSpec(name, arity[0], arity[1], signature, impl)


def _as_is(returns: FxType) -> Callable[[tuple[FxType, ...]], FunctionSignature]:
    """Text() and Value() take any scalar as it is and convert it themselves."""

    def signature(argument_types: tuple[FxType, ...]) -> FunctionSignature:
        return FunctionSignature(argument_types, returns)

    return signature


TEXT_FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        _spec("Len", (1, 1), [_T], _D, _len),
        _spec("Left", (2, 2), [_T, _F], _T, _left),
        _spec("Right", (2, 2), [_T, _F], _T, _right),
        _spec("Mid", (2, 3), [_T, _F, _F], _T, _mid),
        _spec("Upper", (1, 1), [_T], _T, _upper),
        _spec("Lower", (1, 1), [_T], _T, _lower),
        _spec("Proper", (1, 1), [_T], _T, _proper),
        _spec("Trim", (1, 1), [_T], _T, _trim),
        _spec("TrimEnds", (1, 1), [_T], _T, _trim_ends),
        _spec("Concatenate", (1, None), [_T], _T, _concatenate),
        _spec("Substitute", (3, 4), [_T, _T, _T, _F], _T, _substitute),
        _spec("Replace", (4, 4), [_T, _F, _F, _T], _T, _replace),
        _spec("Find", (2, 3), [_T, _T, _F], _D, _find),
        _spec("StartsWith", (2, 2), [_T], FxType.BOOLEAN, _starts_with),
        _spec("EndsWith", (2, 2), [_T], FxType.BOOLEAN, _ends_with),
        _spec("Char", (1, 1), [_F], _T, _char),
        FunctionSpec("Text", 1, 1, _as_is(_T), _text_function),
        FunctionSpec("Value", 1, 1, _as_is(_D), _value_function),
    )
}
