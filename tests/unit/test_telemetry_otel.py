"""OpenTelemetry mode: one span over deciding and answering an offer, with the Job Router HTTP call as a
child (a dependency in Application Insights), the decision fields as attributes, and offer counts and
ages as metric points. The SDK runs for real over a fake HTTP layer; OpenTelemetry's in-memory exporters
collect what would be sent to Application Insights."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.settings import convert_tracing_impl
from azure.core.settings import settings as azure_settings
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from offer_handlers.client import build_responder
from offer_handlers.decision_log import parse_fields
from offer_handlers.errors import ConfigurationError, RetryableServiceError
from offer_handlers.handler import DECISION_LOGGER, OfferHandler
from offer_handlers.settings import TELEMETRY, Settings, load_settings
from offer_handlers.telemetry import AttributeValue
from offer_handlers.telemetry_otel import OFFER_AGE_METRIC, OFFER_SPAN, OFFERS_METRIC, OpenTelemetryTelemetry
from tests.fixtures import envelope, load_event, offered_at, single, with_data
from tests.fixtures.http import ACCESS_KEY, Answer, FakeJobRouter
from tests.fixtures.otel import OtelCapture, otel_capture

EG = single(load_event("offer_issued.eventgrid"))
NOW = offered_at(EG) + timedelta(milliseconds=1500)
ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "version": 1,
    "rules": [
        {"name": "chat-leave", "when": {"channels": ["chat"]}, "then": {"action": "leave"}},
        {"name": "never-w9", "when": {"workers": ["w9"]}, "then": {"action": "decline", "retry": "never"}},
    ],
    "default": {"action": "accept"},
}
OTEL_ON = {
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
    "JOBROUTER_CONNECTION_STRING": f"endpoint=http://127.0.0.1:9;accesskey={ACCESS_KEY}",
    "JOBROUTER_MAX_RETRIES": "0",
    "OFFER_POLICY": json.dumps(POLICY),
}


@pytest.fixture
def otel() -> Iterator[OtelCapture]:
    with otel_capture() as capture:
        yield capture


def handler(env: Mapping[str, str], router: FakeJobRouter) -> OfferHandler:
    """The handler with the real SDK client over ``router`` and a clock 1.5 s after the offer was issued."""

    def responder(settings: Settings) -> Any:
        return build_responder(settings, transport=router.transport())

    return OfferHandler(
        app_root=ROOT,
        settings_loader=lambda root: load_settings(root, env),
        responder_factory=responder,
        clock=lambda: NOW,
    )


def by_name(otel: OtelCapture) -> dict[str, Any]:
    return {span.name: span for span in otel.spans()}


def ancestors(span: Any, spans: dict[int, Any]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in spans:
        span = spans[span.parent.span_id]
        names.append(span.name)
    return names


def test_one_span_covers_the_decision_and_the_job_router_http_call_is_its_child(otel: OtelCapture) -> None:
    handler(OTEL_ON, FakeJobRouter()).handle(envelope(EG))

    spans = otel.spans()
    (ours,) = [s for s in spans if s.name == OFFER_SPAN]
    (http,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert ours.kind == SpanKind.INTERNAL
    assert OFFER_SPAN in ancestors(http, {s.context.span_id: s for s in spans})
    assert http.attributes is not None
    assert http.attributes["http.response.status_code"] == 200
    assert ":accept" in str(http.attributes["url.full"])
    assert ours.start_time <= http.start_time  # type: ignore[operator]
    assert http.end_time <= ours.end_time  # type: ignore[operator]


def test_the_decision_fields_are_the_spans_attributes_and_the_log_records(
    otel: OtelCapture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=DECISION_LOGGER)

    handler(OTEL_ON, FakeJobRouter()).handle(envelope(EG))

    (record,) = [r for r in caplog.records if r.name == DECISION_LOGGER]
    attributes = dict(by_name(otel)[OFFER_SPAN].attributes)
    line = parse_fields(record.getMessage())
    assert {k: str(v) for k, v in attributes.items()} == {k: v for k, v in line.items() if v is not None}
    assert {k: getattr(record, k) for k in attributes} == attributes
    assert (attributes["decision"], attributes["outcome"], attributes["offer_age_ms"]) == (
        "accept",
        "accepted",
        1500,
    )
    assert attributes["time_left_ms"] == 58_500
    assert attributes["offer_id"] == EG["data"]["offerId"]


def test_offers_are_counted_by_decision_outcome_and_reason(otel: OtelCapture) -> None:
    h = handler(OTEL_ON, FakeJobRouter())

    h.handle(envelope(EG))
    h.handle(envelope(with_data(EG, offerId="o-2")))
    h.handle(envelope(with_data(EG, offerId="o-3", channelId="chat")))
    h.handle(envelope(with_data(EG, offerId="o-4", workerId="w9")))

    counts = {
        (a["decision"], a["outcome"], a["reason"]): point.value  # type: ignore[attr-defined]
        for a, point in otel.metric_points(OFFERS_METRIC)
    }
    assert counts == {
        ("accept", "accepted", "default"): 2,
        ("leave", "left", "chat-leave"): 1,
        ("decline", "declined", "never-w9"): 1,
    }


def test_the_offer_age_when_answered_is_a_histogram_point(otel: OtelCapture) -> None:
    handler(OTEL_ON, FakeJobRouter()).handle(envelope(EG))

    ((attributes, point),) = otel.metric_points(OFFER_AGE_METRIC)
    assert attributes == {"decision": "accept", "outcome": "accepted"}
    assert (point.count, point.sum, point.min, point.max) == (1, 1500, 1500, 1500)  # type: ignore[attr-defined]


def test_a_failed_call_ends_the_span_in_error_and_counts_the_error_class(otel: OtelCapture) -> None:
    h = handler(OTEL_ON, FakeJobRouter([Answer(503, '{"error": "busy"}')]))

    with pytest.raises(RetryableServiceError):
        h.handle(envelope(EG))

    ours = by_name(otel)[OFFER_SPAN]
    assert ours.status.status_code == StatusCode.ERROR
    assert [event.name for event in ours.events] == ["exception"]
    assert ours.attributes["error"] == "RetryableServiceError"
    assert ours.attributes["status"] == 503
    ((attributes, _),) = otel.metric_points(OFFERS_METRIC)
    assert attributes == {
        "decision": "accept",
        "outcome": "error",
        "reason": "default",
        "error": "RetryableServiceError",
    }


def test_events_that_are_not_offers_are_counted_without_a_span_once_settings_are_loaded(
    otel: OtelCapture,
) -> None:
    h = handler(OTEL_ON, FakeJobRouter())
    h.handle(envelope(EG))
    otel.spans_exporter.clear()
    otel.metric_reader.get_metrics_data()

    h.handle(envelope(single(load_event("offer_revoked.eventgrid"))))

    assert otel.spans() == ()
    ((attributes, _),) = otel.metric_points(OFFERS_METRIC)
    assert attributes == {"decision": "none", "outcome": "ignored", "reason": "not-an-offer-event"}


def test_classic_mode_makes_no_span_and_no_metric_point(otel: OtelCapture) -> None:
    env = {k: v for k, v in OTEL_ON.items() if k != "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"}

    handler(env, FakeJobRouter()).handle(envelope(EG))

    assert otel.spans() == ()
    assert otel.metric_points(OFFERS_METRIC) == []


# --- the telemetry object itself ------------------------------------------------------------------

ATTRIBUTES: dict[str, AttributeValue] = {
    "decision": "accept",
    "outcome": "accepted",
    "reason": "default",
    "offer_id": "o-1",
    "offer_age_ms": 1500,
}


def metrics_by_name(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    assert data is not None
    return {m.name: m for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}


def test_given_providers_receive_the_span_and_the_metric_points_instead_of_the_global_ones(
    otel: OtelCapture,
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    telemetry = OpenTelemetryTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)

    with telemetry.offer_span() as span:
        telemetry.record(ATTRIBUTES, span)

    (ours,) = exporter.get_finished_spans()
    assert (ours.name, dict(ours.attributes or {})) == (OFFER_SPAN, ATTRIBUTES)
    assert sorted(metrics_by_name(reader)) == [OFFER_AGE_METRIC, OFFERS_METRIC]
    assert otel.spans() == ()
    assert (otel.metric_points(OFFERS_METRIC), otel.metric_points(OFFER_AGE_METRIC)) == ([], [])
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_the_offer_counter_and_the_age_histogram_declare_their_unit_description_and_buckets(
    otel: OtelCapture,
) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    telemetry = OpenTelemetryTelemetry(meter_provider=meter_provider)

    telemetry.record(ATTRIBUTES, None)

    found = metrics_by_name(reader)
    offers, age = found[OFFERS_METRIC], found[OFFER_AGE_METRIC]
    assert (offers.unit, offers.description) == (
        "{offer}",
        "Offer-issued events handled, by decision and outcome",
    )
    assert (age.unit, age.description) == (
        "ms",
        "Time from the offer being issued (offeredOn) to the function answering it",
    )
    (point,) = age.data.data_points
    assert tuple(point.explicit_bounds) == (  # type: ignore[union-attr]
        50,
        100,
        250,
        500,
        1000,
        2000,
        3000,
        4000,
        5000,
        7500,
        10_000,
        20_000,
        60_000,
    )
    meter_provider.shutdown()


def test_without_the_opentelemetry_packages_telemetry_is_a_configuration_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # what an import finds when it is not installed

    with pytest.raises(ConfigurationError) as raised:
        OpenTelemetryTelemetry()

    assert raised.value.setting == TELEMETRY
    assert str(raised.value) == (
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY is on but the OpenTelemetry packages are not installed "
        "(azure-monitor-opentelemetry in requirements.txt)"
    )


def test_without_azure_cores_tracing_plugin_telemetry_is_a_configuration_error_naming_the_setting(
    otel: OtelCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    azure_settings.tracing_implementation.unset_value()
    monkeypatch.setitem(sys.modules, "azure.core.tracing.ext.opentelemetry_span", None)  # not installed
    convert_tracing_impl.cache_clear()  # azure-core caches the plug-in it found for "opentelemetry"

    try:
        with pytest.raises(ConfigurationError) as raised:
            OpenTelemetryTelemetry()
    finally:
        convert_tracing_impl.cache_clear()  # forget the missing plug-in: later tests have it

    assert raised.value.setting == TELEMETRY
    assert str(raised.value) == (
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY is on "
        "but azure-core-tracing-opentelemetry is not installed"
    )
