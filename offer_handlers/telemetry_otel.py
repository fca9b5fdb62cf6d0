"""OpenTelemetry mode: a span per offer, decision fields as attributes, offer counts and offer age.

Imported only when ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY`` is true. Then the Functions worker
configures the Azure Monitor OpenTelemetry distro (``configure_azure_monitor``) before the app is
imported, so the global tracer and meter providers used here export to Application Insights; tests pass
providers with in-memory exporters instead. azure-core's tracing is switched to OpenTelemetry, so the
Job Router SDK's HTTP call is a child span of ours (a dependency in Application Insights).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Final

from offer_handlers.errors import ConfigurationError
from offer_handlers.settings import TELEMETRY
from offer_handlers.telemetry import AttributeValue

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = [
    "OFFERS_METRIC",
    "OFFER_AGE_METRIC",
    "OFFER_SPAN",
    "OpenTelemetryTelemetry",
]

OFFER_SPAN: Final = "offer_handlers.answer_offer"
OFFERS_METRIC: Final = "offer_handlers.offers"
OFFER_AGE_METRIC: Final = "offer_handlers.offer_age"
_INSTRUMENTATION: Final = "offer_handlers"
# The dimensions of the offer counter: a few values each (reasons are the policy's rule names).
_COUNTED_BY: Final = ("decision", "outcome", "reason", "error")
_AGED_BY: Final = ("decision", "outcome")
# Offers live seconds to a minute: finer buckets below 5 s than the SDK's default boundaries.
_AGE_BUCKETS_MS: Final = (50, 100, 250, 500, 1000, 2000, 3000, 4000, 5000, 7500, 10_000, 20_000, 60_000)


class OpenTelemetryTelemetry:
    """``Telemetry`` over the OpenTelemetry API (global providers unless given)."""

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as err:
            raise ConfigurationError(
                f"{TELEMETRY} is on but the OpenTelemetry packages are not installed "
                "(azure-monitor-opentelemetry in requirements.txt)",
                setting=TELEMETRY,
            ) from err
        _trace_azure_sdk_calls()
        self._tracer = trace.get_tracer(_INSTRUMENTATION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_INSTRUMENTATION, meter_provider=meter_provider)
        self._offers = meter.create_counter(
            OFFERS_METRIC, unit="{offer}", description="Offer-issued events handled, by decision and outcome"
        )
        self._offer_age = meter.create_histogram(
            OFFER_AGE_METRIC,
            unit="ms",
            description="Time from the offer being issued (offeredOn) to the function answering it",
            explicit_bucket_boundaries_advisory=list(_AGE_BUCKETS_MS),
        )

    def offer_span(self) -> AbstractContextManager[object]:
        """The current span while an offer is decided and answered; an escaping exception is recorded."""
        return self._span()

    @contextmanager
    def _span(self) -> Iterator[object]:
        with self._tracer.start_as_current_span(OFFER_SPAN) as span:
            yield span

    def record(self, attributes: Mapping[str, AttributeValue], span: object | None) -> None:
        """Set the decision fields on the span; count the offer; record its age when known."""
        if span is not None:
            otel_span: Span = span  # type: ignore[assignment]  # what offer_span yielded
            otel_span.set_attributes(dict(attributes))
        self._offers.add(1, {key: attributes[key] for key in _COUNTED_BY if key in attributes})
        age = attributes.get("offer_age_ms")
        if isinstance(age, int | float):
            self._offer_age.record(age, {key: attributes[key] for key in _AGED_BY if key in attributes})


def _trace_azure_sdk_calls() -> None:
    """Route azure-core's tracing (``@distributed_trace`` and the HTTP span) to OpenTelemetry.

    The Azure Monitor distro does the same when it configures itself; an implementation set already is kept.
    """
    from azure.core.settings import settings

    if settings.tracing_implementation() is None:
        settings.tracing_implementation = "opentelemetry"
        if settings.tracing_implementation() is None:
            raise ConfigurationError(
                f"{TELEMETRY} is on but azure-core-tracing-opentelemetry is not installed",
                setting=TELEMETRY,
            )
