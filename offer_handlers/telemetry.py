"""The seam between one invocation and an observability backend: spans, attributes and metrics.

``OfferHandler`` calls a ``Telemetry`` around deciding and answering each offer and once per decision
line. Classic Application Insights mode (the default) uses ``NO_TELEMETRY``, which does nothing and
imports nothing; OpenTelemetry mode (``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true``, README.md
"Logs") uses ``offer_handlers.telemetry_otel``, imported only then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Final, Protocol

__all__ = ["NO_TELEMETRY", "AttributeValue", "NoTelemetry", "Telemetry"]

type AttributeValue = str | int | float


class Telemetry(Protocol):
    """What the handler reports, besides the decision line itself."""

    def offer_span(self) -> AbstractContextManager[object]:
        """A span around deciding one offer and answering it (the Job Router call's spans are children)."""
        ...

    def record(self, attributes: Mapping[str, AttributeValue], span: object | None) -> None:
        """One decision line's fields: attributes of ``span`` (when there is one) and metric points."""
        ...


class NoTelemetry:
    """Classic mode: nothing beyond the decision line (which the host ships to Application Insights)."""

    def offer_span(self) -> AbstractContextManager[object]:
        """No span."""
        return contextlib.nullcontext(None)

    def record(self, attributes: Mapping[str, AttributeValue], span: object | None) -> None:
        """Nothing to record."""


NO_TELEMETRY: Final[Telemetry] = NoTelemetry()
