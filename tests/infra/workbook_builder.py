"""Builds ``infra/app/workbook.json``, the operations workbook, from the layout below and the ``.kql`` files.

The Bicep loads the JSON with ``loadTextContent`` and puts in the two resource ids it cannot know in advance
(:data:`APPLICATION_INSIGHTS_ID`, :data:`SYSTEM_TOPIC_ID`). Edit a query's ``.kql`` file or the layout here,
then rebuild; ``tests/infra/test_workbook.py`` fails while the committed JSON differs from what this renders::

    .venv/bin/python -m tests.infra.workbook_builder
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any, Final

from tests.infra.deployed_queries import REPO, WORKBOOK_QUERIES, compose

WORKBOOK_JSON: Final = REPO / "infra" / "app" / "workbook.json"
APPLICATION_INSIGHTS_ID: Final = "__APPLICATION_INSIGHTS_ID__"
SYSTEM_TOPIC_ID: Final = "__SYSTEM_TOPIC_ID__"
DAY_MS: Final = 86_400_000
TOPIC_NAMESPACE: Final = "microsoft.eventgrid/systemtopics"

type Json = dict[str, Any]

INTRO = """## Job Router offers
One row per offer comes from the decision log (a line per invocation; nothing is sampled away). Every query
reads both telemetry modes. What each panel means and what to do about it: docs/deploy.md, "Operating it".
"""
DELIVERY_INTRO = """## Event Grid delivery (system topic)
Platform metrics of the Communication Services system topic, split by event subscription. Dead-lettered or
dropped events are offers the function never saw; the dead letters are in the `offer-dead-letters` container.
"""


def _stable_id(name: str) -> str:
    """A deterministic GUID for an item, so that rebuilding does not churn the JSON."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"offer-handler-workbook/{name}"))


def _text(name: str, markdown: str) -> Json:
    return {"type": 1, "content": {"json": markdown}, "name": name}


def _parameters() -> Json:
    return {
        "type": 9,
        "content": {
            "version": "KqlParameterItem/1.0",
            "parameters": [
                {
                    "id": _stable_id("TimeRange"),
                    "version": "KqlParameterItem/1.0",
                    "name": "TimeRange",
                    "label": "Time range",
                    "type": 4,
                    "isRequired": True,
                    "typeSettings": {
                        "selectableValues": [
                            {"durationMs": ms}
                            for ms in (3_600_000, 14_400_000, 43_200_000, DAY_MS, 3 * DAY_MS, 7 * DAY_MS)
                        ],
                        "allowCustom": True,
                    },
                    "value": {"durationMs": DAY_MS},
                }
            ],
            "style": "pills",
            "queryType": 0,
            "resourceType": "microsoft.insights/components",
        },
        "name": "parameters",
    }


def _query(stem: str, title: str, visualization: str, width: str = "50") -> Json:
    text = (WORKBOOK_QUERIES / f"{stem}.kql").read_text(encoding="utf-8")
    return {
        "type": 3,
        "content": {
            "version": "KqlItem/1.0",
            "query": compose(text),
            "size": 0,
            "title": title,
            "timeContextFromParameter": "TimeRange",
            "queryType": 0,
            "resourceType": "microsoft.insights/components",
            "crossComponentResources": [APPLICATION_INSIGHTS_ID],
            "visualization": visualization,
        },
        "customWidth": width,
        "name": stem,
    }


def _metric(name: str, title: str, metric: str, aggregation: int) -> Json:
    """A platform-metric chart of the system topic; aggregation 1 is Sum, 4 is Average."""
    return {
        "type": 10,
        "content": {
            "chartId": f"workbook{_stable_id(name)}",
            "version": "MetricsItem/2.0",
            "size": 0,
            "chartType": 2,
            "resourceType": TOPIC_NAMESPACE,
            "metricScope": 0,
            "resourceIds": [SYSTEM_TOPIC_ID],
            "timeContextFromParameter": "TimeRange",
            "timeContext": {"durationMs": DAY_MS},
            "metrics": [
                {
                    "namespace": TOPIC_NAMESPACE,
                    "metric": f"{TOPIC_NAMESPACE}--{metric}",
                    "aggregation": aggregation,
                    "splitBy": ["EventSubscriptionName"],
                }
            ],
            "title": title,
        },
        "customWidth": "50",
        "name": name,
    }


def render() -> Json:
    """The workbook, with the resource-id placeholders still in it."""
    items = [
        _text("intro", INTRO),
        _parameters(),
        _query("offers-by-decision", "Offers by decision", "timechart"),
        _query("offers-by-outcome", "Offers by outcome", "timechart"),
        _query("offer-age-percentiles", "Offer age at answer (ms): p50, p95, p99", "timechart"),
        _query("expired-and-gone-share", "Expired and gone offers (% of offers)", "timechart"),
        _query("offers-by-reason", "Decisions by reason", "table", width="100"),
        _query("failures-by-error", "Failures by error class and status", "table"),
        _query("failed-invocations-by-result", "Failed invocations (host's count)", "timechart"),
        _query("configuration-errors", "Configuration errors", "table", width="100"),
        _text("delivery", DELIVERY_INTRO),
        _metric("delivered", "Delivered events", "DeliverySuccessCount", 1),
        _metric("delivery-failures", "Failed delivery attempts", "DeliveryAttemptFailCount", 1),
        _metric("dead-lettered", "Dead-lettered events", "DeadLetteredCount", 1),
        _metric("dropped", "Dropped events", "DroppedEventCount", 1),
        _metric(
            "processing-time",
            "Destination processing time (ms, average)",
            "DestinationProcessingDurationInMs",
            4,
        ),
    ]
    return {
        "version": "Notebook/1.0",
        "items": items,
        "fallbackResourceIds": [APPLICATION_INSIGHTS_ID],
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json",
    }


def render_text() -> str:
    return json.dumps(render(), indent=2, ensure_ascii=False) + "\n"


def main(target: Path = WORKBOOK_JSON) -> int:
    target.write_text(render_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {target.relative_to(REPO)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
