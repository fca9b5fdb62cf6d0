"""What an operator gets: an action group, the workbook, and alerts on what loses offers or needs a person.

Log alerts (operations.bicep, on the Application Insights component): any configuration error, failed
invocations above a threshold, the share of offers expired on arrival above a threshold, p95 offer age at
answer above a threshold. Metric alerts (delivery-alerts.bicep, on the Event Grid system topic): any
dead-lettered event, any dropped event. Each rule deploys exactly one ``.kql`` file, with the decision-lines
prelude in front when the file calls it (tests/infra/deployed_queries.py), so what test_kql.py checks is what
Azure runs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.bicep import Resource, Template, conditional, dotted, function_call
from tests.infra.conftest import INFRA
from tests.infra.deployed_queries import QUERIES, alert_queries
from tests.infra.workbook_builder import APPLICATION_INSIGHTS_ID, SYSTEM_TOPIC_ID

OPERATIONS = "infra/app/operations.bicep"
DELIVERY_ALERTS = "infra/app/delivery-alerts.bicep"
PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]

# rule symbol -> (query file, aggregation, measure column or None, threshold: literal or main.bicep parameter)
LOG_ALERTS = {
    "configurationErrors": ("alerts/configuration-errors.kql", "Count", None, 0),
    "failedInvocations": ("alerts/failed-invocations.kql", "Count", None, "failedInvocationsThreshold"),
    "expiredShare": ("alerts/expired-share.kql", "Maximum", "ExpiredPercent", "expiredPercentThreshold"),
    "offerAgeP95": ("alerts/offer-age-p95.kql", "Maximum", "OfferAgeP95Ms", "offerAgeP95ThresholdMs"),
}
METRIC_ALERTS = {"deadLettered": "DeadLetteredCount", "dropped": "DroppedEventCount"}


@pytest.fixture(scope="module")
def operations(templates: dict[str, Template]) -> Template:
    return templates[OPERATIONS]


@pytest.fixture(scope="module")
def delivery(templates: dict[str, Template]) -> Template:
    return templates[DELIVERY_ALERTS]


def _criterion(rule: Resource) -> dict[str, Any]:
    (criterion,) = rule.properties["criteria"]["allOf"]
    assert isinstance(criterion, dict)
    return criterion


def _loaded_file(expr: Any) -> str:
    args = function_call(expr, "load_text_content")
    assert args, f"not loadTextContent(...): {expr!r}"
    path = args[0]
    assert isinstance(path, str)
    return path


def _deployed_query_file(operations: Template, query: Any) -> tuple[str, bool]:
    """(file under infra/app/queries, whether the decision-lines prelude is put in front)."""
    parts = function_call(query, "concat")
    if parts is None:
        return _loaded_file(query).removeprefix("queries/"), False
    prelude, body = parts
    assert _loaded_file(operations.variable(prelude)) == "queries/decision-lines.kql"
    return _loaded_file(body).removeprefix("queries/"), True


@pytest.mark.parametrize("symbol", sorted(LOG_ALERTS), ids=sorted(LOG_ALERTS))
def test_log_alert_queries_the_application_insights_component_with_its_kql_file(
    operations: Template, symbol: str
) -> None:
    rule = operations.resource(symbol)
    assert rule.type == "Microsoft.Insights/scheduledQueryRules"
    assert rule.body["kind"] == "LogAlert"
    assert rule.properties["scopes"] == ["applicationInsightsId"]
    file, with_prelude = _deployed_query_file(operations, _criterion(rule)["query"])
    assert file == LOG_ALERTS[symbol][0]
    query = (QUERIES / file).read_text(encoding="utf-8")
    assert with_prelude == ("DecisionLines()" in query), f"{file}: prelude use and Bicep disagree"


@pytest.mark.parametrize("symbol", sorted(LOG_ALERTS), ids=sorted(LOG_ALERTS))
def test_log_alert_fires_above_its_threshold_and_notifies_the_action_group(
    operations: Template, main: Template, symbol: str
) -> None:
    _, aggregation, measure, threshold = LOG_ALERTS[symbol]
    rule = operations.resource(symbol)
    criterion = _criterion(rule)
    assert criterion["timeAggregation"] == aggregation
    assert criterion.get("metricMeasureColumn") == measure
    assert criterion["operator"] == "GreaterThan"
    if isinstance(threshold, int):
        assert criterion["threshold"] == threshold
    else:
        assert isinstance(threshold, str)
        assert criterion["threshold"] == threshold, "the threshold is the module parameter of that name"
        assert main.module_for("app/operations.bicep").params[threshold] == threshold
        assert isinstance(main.param_default(threshold), int)
    notified = operations.resolve(rule.properties["actions"]["actionGroups"])
    assert [dotted(x) for x in notified] == ["actionGroup.id"]
    assert rule.properties["autoMitigate"] is True


def test_every_alert_query_file_is_deployed_by_exactly_one_rule(operations: Template) -> None:
    deployed = [
        _deployed_query_file(operations, _criterion(r)["query"])[0]
        for r in operations.resources_of_type("Microsoft.Insights/scheduledQueryRules")
    ]
    assert sorted(deployed) == sorted(q.name for q in alert_queries())


def test_any_configuration_error_alerts_at_high_severity(operations: Template) -> None:
    rule = operations.resource("configurationErrors")
    assert rule.properties["severity"] == 1
    query = (QUERIES / "alerts/configuration-errors.kql").read_text(encoding="utf-8")
    assert '"ConfigurationError"' in query
    assert '"InvalidDeciderError"' in query


@pytest.mark.parametrize("symbol", sorted(METRIC_ALERTS), ids=sorted(METRIC_ALERTS))
def test_any_dead_lettered_or_dropped_event_alerts(delivery: Template, symbol: str) -> None:
    rule = delivery.resource(symbol)
    assert rule.type == "Microsoft.Insights/metricAlerts"
    assert [dotted(s) for s in rule.properties["scopes"]] == ["systemTopic.id"]
    (criterion,) = rule.properties["criteria"]["allOf"]
    assert criterion["metricNamespace"] == "Microsoft.EventGrid/systemTopics"
    assert criterion["metricName"] == METRIC_ALERTS[symbol]
    assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) == (
        "Total",
        "GreaterThan",
        0,
    )
    # Split by subscription: on an adopted topic shared with others, the alert names the subscription.
    assert criterion["dimensions"] == [
        {"name": "EventSubscriptionName", "operator": "Include", "values": ["*"]}
    ]
    assert rule.properties["actions"] == [{"actionGroupId": "actionGroupId"}]


def test_delivery_alerts_live_beside_the_system_topic_and_notify_the_same_action_group(
    main: Template,
) -> None:
    alerts = main.module_for("app/delivery-alerts.bicep")
    events = main.module_for("app/events.bicep")
    assert alerts.body["scope"] == events.body["scope"]
    assert dotted(alerts.params["systemTopicName"]) == "events.outputs.systemTopicName"
    assert dotted(alerts.params["actionGroupId"]) == "operations.outputs.actionGroupId"


def test_system_topic_exists_before_its_alerts(delivery: Template) -> None:
    (topic,) = delivery.resources_of_type("Microsoft.EventGrid/systemTopics", existing=True)
    assert topic.body["name"] == "systemTopicName"


def test_action_group_mails_the_operator_only_when_an_address_is_given(
    operations: Template, main: Template
) -> None:
    (group,) = operations.resources_of_type("Microsoft.Insights/actionGroups")
    branches = conditional(group.properties["emailReceivers"])
    assert branches is not None
    condition, when_empty, when_given = branches
    assert function_call(condition, "empty") == ["alertEmail"]
    assert when_empty == []
    assert [r["emailAddress"] for r in when_given] == ["alertEmail"]
    assert main.param_default("alertEmail") == ""
    assert PARAMETERS["alertEmail"]["value"] == "${ALERT_EMAIL=}"


def test_workbook_is_loaded_from_the_json_file_with_both_resource_ids_filled_in(operations: Template) -> None:
    (workbook,) = operations.resources_of_type("Microsoft.Insights/workbooks")
    outer = function_call(workbook.properties["serializedData"], "replace")
    assert outer is not None
    inner_expr, topic_placeholder, topic_id = outer
    inner = function_call(inner_expr, "replace")
    assert inner is not None
    template, insights_placeholder, insights_id = inner
    assert _loaded_file(operations.variable(template)) == "workbook.json"
    assert (insights_placeholder, insights_id) == (APPLICATION_INSIGHTS_ID, "applicationInsightsId")
    assert (topic_placeholder, topic_id) == (SYSTEM_TOPIC_ID, "systemTopicId")
    assert function_call(workbook.properties["sourceId"], "to_lower") == ["applicationInsightsId"]


def test_operations_module_gets_the_component_and_the_system_topic(main: Template) -> None:
    params = main.module_for("app/operations.bicep").params
    assert dotted(params["applicationInsightsId"]) == "monitoring.outputs.applicationInsightsId"
    assert dotted(params["systemTopicId"]) == "events.outputs.systemTopicId"
