"""Every rule kind is stored and echoed as the live service does, in every position a rule may take.

The recordings show ``expression`` and ``function`` prioritization rules (``language: "powerFx"`` added,
``credential.functionKey`` kept); the other positions and ``webhook`` follow the same REST model.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient
from azure.communication.jobrouter.models import (
    BestWorkerMode,
    ClassificationPolicy,
    ConditionalQueueSelectorAttachment,
    ConditionalWorkerSelectorAttachment,
    DistributionPolicy,
    ExpressionRouterRule,
    FunctionRouterRule,
    FunctionRouterRuleCredential,
    OAuth2WebhookClientCredential,
    RouterQueueSelector,
    RouterWorkerSelector,
    RuleEngineQueueSelectorAttachment,
    RuleEngineWorkerSelectorAttachment,
    ScoringRuleOptions,
    WebhookRouterRule,
)
from azure.core.exceptions import HttpResponseError

from tests.emulator.helpers import response_text, setup_queue

EXPRESSION = ExpressionRouterRule(expression="If(job.Escalated = true, 10, 1)")
FUNCTION = FunctionRouterRule(
    function_uri="https://fn.example/api/priority",
    credential=FunctionRouterRuleCredential(function_key="fn-key"),
)
APP_KEY_FUNCTION = FunctionRouterRule(
    function_uri="https://fn.example/api/priority",
    credential=FunctionRouterRuleCredential(app_key="app-key", client_id="default"),
)
WEBHOOK = WebhookRouterRule(
    authorization_server_uri="https://login.example/token",
    client_credential=OAuth2WebhookClientCredential(client_id="router", client_secret="s3cret"),
    webhook_uri="https://hook.example/score",
)
RULES = [EXPRESSION, FUNCTION, APP_KEY_FUNCTION, WEBHOOK]
RULE_IDS = ["expression", "function-key", "app-key", "webhook"]
RULE_CASES = list(zip(RULES, RULE_IDS, strict=True))
ECHOED: dict[str, dict[str, Any]] = {
    "expression": {
        "kind": "expression",
        "language": "powerFx",
        "expression": "If(job.Escalated = true, 10, 1)",
    },
    "function-key": {
        "kind": "function",
        "functionUri": "https://fn.example/api/priority",
        "credential": {"functionKey": "fn-key"},
    },
    "app-key": {
        "kind": "function",
        "functionUri": "https://fn.example/api/priority",
        "credential": {"appKey": "app-key", "clientId": "default"},
    },
    "webhook": {
        "kind": "webhook",
        "authorizationServerUri": "https://login.example/token",
        "clientCredential": {"clientId": "router", "clientSecret": "s3cret"},
        "webhookUri": "https://hook.example/score",
    },
}


@pytest.fixture
def queue(admin: JobRouterAdministrationClient) -> str:
    setup_queue(admin)
    return "q"


@pytest.mark.parametrize(("rule", "name"), RULE_CASES, ids=RULE_IDS)
def test_a_prioritization_rule_of_any_kind_is_stored_and_echoed(
    admin: JobRouterAdministrationClient, queue: str, rule: Any, name: str
) -> None:
    created = admin.upsert_classification_policy(
        "cp", ClassificationPolicy(fallback_queue_id=queue, prioritization_rule=rule)
    )
    assert created.as_dict()["prioritizationRule"] == ECHOED[name]
    assert admin.get_classification_policy("cp").as_dict()["prioritizationRule"] == ECHOED[name]
    listed = [p.as_dict() for p in admin.list_classification_policies()]
    assert [p["prioritizationRule"] for p in listed] == [ECHOED[name]]


@pytest.mark.parametrize(("rule", "name"), RULE_CASES, ids=RULE_IDS)
def test_a_condition_and_a_rule_engine_rule_of_any_kind_are_stored_and_echoed(
    admin: JobRouterAdministrationClient, queue: str, rule: Any, name: str
) -> None:
    selector = RouterQueueSelector(key="Id", label_operator="equal", value=queue)
    worker_selector = RouterWorkerSelector(key="skill", label_operator="equal", value="en")
    policy = admin.upsert_classification_policy(
        "cp",
        ClassificationPolicy(
            fallback_queue_id=queue,
            queue_selector_attachments=[
                ConditionalQueueSelectorAttachment(condition=rule, queue_selectors=[selector]),
                RuleEngineQueueSelectorAttachment(rule=rule),
            ],
            worker_selector_attachments=[
                ConditionalWorkerSelectorAttachment(condition=rule, worker_selectors=[worker_selector]),
                RuleEngineWorkerSelectorAttachment(rule=rule),
            ],
        ),
    ).as_dict()
    assert [a["condition"] for a in policy["queueSelectorAttachments"][:1]] == [ECHOED[name]]
    assert policy["queueSelectorAttachments"][1] == {"kind": "ruleEngine", "rule": ECHOED[name]}
    assert policy["workerSelectorAttachments"][0]["condition"] == ECHOED[name]
    assert policy["workerSelectorAttachments"][1] == {"kind": "ruleEngine", "rule": ECHOED[name]}


@pytest.mark.parametrize(("rule", "name"), RULE_CASES, ids=RULE_IDS)
def test_a_scoring_rule_of_any_kind_is_stored_with_its_batch_options(
    admin: JobRouterAdministrationClient, rule: Any, name: str
) -> None:
    options = ScoringRuleOptions(batch_size=5, is_batch_scoring_enabled=True, descending_order=False)
    policy = admin.upsert_distribution_policy(
        "dp",
        DistributionPolicy(
            offer_expires_after_seconds=60,
            mode=BestWorkerMode(scoring_rule=rule, scoring_rule_options=options),
        ),
    ).as_dict()
    assert policy["mode"] == {
        "kind": "bestWorker",
        "scoringRule": ECHOED[name],
        "scoringRuleOptions": {
            "batchSize": 5,
            "scoringParameters": ["jobLabels", "workerSelectors"],
            "isBatchScoringEnabled": True,
            "descendingOrder": False,
        },
        "minConcurrentOffers": 1,
        "maxConcurrentOffers": 1,
        "bypassSelectors": False,
    }
    assert admin.get_distribution_policy("dp").as_dict()["mode"]["scoringRule"] == ECHOED[name]


def test_an_expression_that_is_not_valid_power_fx_is_stored_all_the_same(
    admin: JobRouterAdministrationClient, queue: str
) -> None:
    # The service would only find out when the rule runs: a classification failure, not a 400.
    rule = ExpressionRouterRule(expression="DateDiff(")
    policy = admin.upsert_classification_policy(
        "cp", ClassificationPolicy(fallback_queue_id=queue, prioritization_rule=rule)
    )
    assert policy.as_dict()["prioritizationRule"]["expression"] == "DateDiff("


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"kind": "function"}, "prioritizationRule.functionUri"),
        ({"kind": "function", "functionUri": "/relative"}, "prioritizationRule.functionUri"),
        ({"kind": "function", "functionUri": "ftp://x/y"}, "prioritizationRule.functionUri"),
        (
            {"kind": "function", "functionUri": "https://x/y", "credential": {"functionkey": "k"}},
            "functionkey",
        ),
        ({"kind": "expression", "expression": ""}, "prioritizationRule.expression"),
        ({"kind": "expression", "expression": "1", "language": "jsonPath"}, "prioritizationRule.language"),
        ({"kind": "webhook", "webhookUri": 5}, "prioritizationRule.webhookUri"),
        ({"kind": "webhook", "clientCredential": {"clientSecret": ""}}, "clientCredential.clientSecret"),
        ({"kind": "powerFx", "expression": "1"}, "prioritizationRule.kind"),
        ({"kind": "static", "value": 1, "extra": True}, "extra"),
    ],
    ids=[
        "function-without-uri",
        "relative-uri",
        "not-http",
        "misspelt-credential",
        "empty-expression",
        "other-language",
        "uri-not-text",
        "empty-secret",
        "unknown-kind",
        "unknown-field",
    ],
)
def test_a_malformed_rule_is_a_bad_request_naming_the_field(
    admin: JobRouterAdministrationClient, queue: str, rule: dict[str, Any], named: str
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        admin.upsert_classification_policy("cp", {"fallbackQueueId": queue, "prioritizationRule": rule})
    assert raised.value.status_code == 400
    assert named in response_text(raised.value)


def test_a_bad_request_about_a_function_uri_never_echoes_its_key(
    admin: JobRouterAdministrationClient, queue: str
) -> None:
    rule = {"kind": "function", "functionUri": "ftp://fn.example/api?code=do-not-echo"}
    with pytest.raises(HttpResponseError) as raised:
        admin.upsert_classification_policy("cp", {"fallbackQueueId": queue, "prioritizationRule": rule})
    assert "do-not-echo" not in response_text(raised.value)
