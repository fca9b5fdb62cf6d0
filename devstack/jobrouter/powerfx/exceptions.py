"""The one error tree of the Power Fx evaluator: every failure to compile or evaluate an expression.

Hierarchy (``construct`` names the function, operator or syntax at fault, for an error message such
as a ``classificationFailed`` event's)::

    PowerFxError                   base: message, expression, position, construct
    ├── PowerFxSyntaxError         the text is not a Power Fx expression (a parse error)
    ├── PowerFxUnsupportedError    valid Power Fx this evaluator does not implement ("unsupported
    │                              function 'DateDiff'"); docs/powerfx.md lists what is supported
    ├── PowerFxTypeError           Power Fx would reject the expression before running it: unknown
    │                              name or function, wrong argument count, incompatible types
    └── PowerFxEvaluationError     the expression ran and produced a Power Fx error value (``kind``
                                   is Power Fx's ErrorKind name: Div0, InvalidArgument, Numeric)
"""

from __future__ import annotations

__all__ = [
    "PowerFxError",
    "PowerFxEvaluationError",
    "PowerFxSyntaxError",
    "PowerFxTypeError",
    "PowerFxUnsupportedError",
]


class PowerFxError(Exception):
    """Any failure compiling or evaluating a Power Fx expression."""

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        construct: str | None = None,
        expression: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.construct = construct
        self.expression = expression

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (at character {self.position + 1})"


class PowerFxSyntaxError(PowerFxError):
    """The text does not parse as a Power Fx expression."""


class PowerFxUnsupportedError(PowerFxError):
    """Valid Power Fx that this evaluator does not implement; ``construct`` says which."""

    def __init__(self, construct: str, *, position: int | None = None, expression: str | None = None) -> None:
        super().__init__(
            f"unsupported {construct}", position=position, construct=construct, expression=expression
        )


class PowerFxTypeError(PowerFxError):
    """Power Fx would reject the expression at compile time (name, arity or type error)."""


class PowerFxEvaluationError(PowerFxError):
    """Evaluation produced a Power Fx error value; ``kind`` is its ErrorKind (e.g. ``"Div0"``)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        position: int | None = None,
        construct: str | None = None,
        expression: str | None = None,
    ) -> None:
        super().__init__(message, position=position, construct=construct, expression=expression)
        self.kind = kind
