"""The operations workbook: built from the .kql files, it shows what the README's "Operating it" talks about.

Panels from the decision log (both telemetry modes): offers by decision, by outcome and by reason; offer
age at answer p50/p95/p99; expired and gone shares; failures by error class and status; configuration errors;
plus the host's count of failed invocations. Panels from the Event Grid system topic's platform metrics:
delivered, failed attempts, dead-lettered, dropped, destination processing time.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.deployed_queries import compose, workbook_queries
from tests.infra.workbook_builder import (
    APPLICATION_INSIGHTS_ID,
    SYSTEM_TOPIC_ID,
    WORKBOOK_JSON,
    render_text,
)

WORKBOOK = json.loads(WORKBOOK_JSON.read_text(encoding="utf-8"))
QUERY_ITEMS = {i["name"]: i["content"] for i in WORKBOOK["items"] if i["type"] == 3}
METRIC_ITEMS = {i["name"]: i["content"] for i in WORKBOOK["items"] if i["type"] == 10}


def _query(name: str) -> str:
    query: str = QUERY_ITEMS[name]["query"]
    return query


def test_committed_workbook_is_what_the_builder_renders_from_the_kql_files() -> None:
    assert WORKBOOK_JSON.read_text(encoding="utf-8") == render_text(), (
        "infra/app/workbook.json is stale: run .venv/bin/python -m tests.infra.workbook_builder"
    )


def test_every_workbook_kql_file_is_one_panel_deployed_as_composed() -> None:
    files = {q.path.stem: q for q in workbook_queries()}
    assert set(files) == set(QUERY_ITEMS)
    for name, query in files.items():
        assert _query(name) == compose(query.source)


def test_decision_log_panels_cover_decision_outcome_reason_age_shares_failures_and_configuration() -> None:
    assert "by decision," in _query("offers-by-decision")
    assert "by outcome," in _query("offers-by-outcome")
    assert "by decision, reason" in _query("offers-by-reason")
    age = _query("offer-age-percentiles")
    for p in (50, 95, 99):
        assert f"percentile(offer_age_ms, {p})" in age
    shares = _query("expired-and-gone-share")
    assert 'outcome == "expired"' in shares
    assert 'outcome == "gone"' in shares
    assert "by error, status" in _query("failures-by-error")
    assert '"ConfigurationError"' in _query("configuration-errors")
    for name in QUERY_ITEMS:
        if name != "failed-invocations-by-result":
            assert "DecisionLines()" in _query(name), f"{name} should read the decision log"


def test_log_panels_run_against_the_application_insights_component() -> None:
    assert WORKBOOK["fallbackResourceIds"] == [APPLICATION_INSIGHTS_ID]
    for name, content in QUERY_ITEMS.items():
        assert content["crossComponentResources"] == [APPLICATION_INSIGHTS_ID], name
        assert content["resourceType"] == "microsoft.insights/components", name
        assert content["timeContextFromParameter"] == "TimeRange", name


def test_event_grid_panels_chart_the_system_topic_delivery_metrics() -> None:
    charted: dict[str, Any] = {}
    for name, content in METRIC_ITEMS.items():
        assert content["resourceIds"] == [SYSTEM_TOPIC_ID], name
        for metric in content["metrics"]:
            namespace, _, metric_name = metric["metric"].partition("--")
            assert namespace == "microsoft.eventgrid/systemtopics"
            assert metric["splitBy"] == ["EventSubscriptionName"]
            charted[metric_name] = metric["aggregation"]
    # Aggregation 1 is Sum (counts), 4 is Average (a duration).
    assert charted == {
        "DeliverySuccessCount": 1,
        "DeliveryAttemptFailCount": 1,
        "DeadLetteredCount": 1,
        "DroppedEventCount": 1,
        "DestinationProcessingDurationInMs": 4,
    }
