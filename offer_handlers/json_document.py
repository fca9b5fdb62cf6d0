"""A strict JSON reader for the documents people write by hand: the offer policy, the demo's scenario.

``parse_json_text`` refuses what ``json.loads`` lets through silently: a key given twice in one object
(the last would win) and ``NaN``/``Infinity`` (not JSON). ``JsonObject`` reads one object of the decoded
document and fails naming the field's path (``rules[2].when.priority``). Both raise the exception the
caller's ``ErrorFactory`` builds, so each document keeps its own error type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import NoReturn, Self

__all__ = ["ErrorFactory", "JsonObject", "parse_json_text"]

#: Builds the exception to raise from a message and the field's path (``None``: the document as a whole).
type ErrorFactory = Callable[[str, str | None], Exception]


class _RefusedError(Exception):
    """Raised inside the decoder's hooks; not a ValueError, so it is never taken for a syntax error."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_json_text(text: str, error: ErrorFactory) -> object:
    """Decode ``text``; duplicate keys, NaN, Infinity, bad syntax or deep nesting raise ``error(...)``."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except _RefusedError as err:
        raise error(err.message, err.field) from None
    except ValueError as err:
        raise error(f"not valid JSON: {err}", None) from None
    except RecursionError:
        raise error("not valid JSON: nested too deeply", None) from None


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            # The decoder's hook sees one object at a time, so the key is all it can name.
            raise _RefusedError("appears twice in the same object", key)
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise _RefusedError(f"{name} is not a JSON number", None)


class JsonObject:
    """One JSON object of a decoded document, at ``path``, with reads that fail naming the field's path.

    Subclasses add the typed reads their document needs; ``child`` and ``item`` return the subclass.
    """

    __slots__ = ("_error", "_raw", "path")

    def __init__(self, raw: object, *, path: str = "", error: ErrorFactory) -> None:
        self.path = path
        self._error = error
        if not isinstance(raw, dict):
            raise error("expected a JSON object", path or None)
        self._raw: Mapping[str, object] = raw

    def field(self, key: str | None) -> str | None:
        """The path of ``key`` in this object (``None``: of the object itself; the root has no path)."""
        if key is None:
            return self.path or None
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | None, message: str) -> NoReturn:
        """Raise the document's error for ``key`` (``None``: for this object as a whole)."""
        raise self._error(message, self.field(key))

    def get(self, key: str, default: object = None) -> object:
        """The raw value of ``key``, or ``default`` when it is absent."""
        return self._raw.get(key, default)

    def only(self, allowed: set[str]) -> None:
        """Fail on the first key that is not in ``allowed``."""
        for key in self._raw:
            if key not in allowed:
                self.fail(key, f"unknown field; expected one of {', '.join(sorted(allowed))}")

    def child(self, key: str) -> Self:
        """The object under ``key`` (fails unless it is a JSON object)."""
        return type(self)(self._raw.get(key), path=self.field(key) or key, error=self._error)

    def item(self, key: str, index: int) -> Self:
        """The object at ``index`` of the array under ``key`` (the caller has checked it is an array)."""
        items = self._raw[key]
        assert isinstance(items, list)
        return type(self)(items[index], path=f"{self.field(key)}[{index}]", error=self._error)
