"""The configuration document: what export keeps and drops, how secrets become named placeholders, and how
import fills them from the environment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.jobrouter.config_document import (
    FORMAT,
    ConfigDocumentError,
    build_document,
    parse_document,
    secret_name,
)

FUNCTION = {
    "kind": "function",
    "functionUri": "https://f/api",
    "credential": {"appKey": "app-secret", "clientId": "default"},
}
WEBHOOK = {
    "kind": "webhook",
    "clientCredential": {"clientId": "c", "clientSecret": "hook-secret"},
    "webhookUri": "https://h",
}


@pytest.mark.parametrize(
    ("kind", "resource_id", "path", "name"),
    [
        (
            "classificationPolicies",
            "cp-1",
            ["prioritizationRule", "credential", "functionKey"],
            "JOBROUTER_SECRET_CLASSIFICATION_POLICY_CP_1_PRIORITIZATION_RULE_CREDENTIAL_FUNCTION_KEY",
        ),
        (
            "distributionPolicies",
            "Best Worker.v2",
            ["mode", "scoringRule", "clientCredential", "clientSecret"],
            "JOBROUTER_SECRET_DISTRIBUTION_POLICY_BEST_WORKER_V2_MODE_SCORING_RULE_CLIENT_CREDENTIAL_CLIENT_SECRET",
        ),
        (
            "classificationPolicies",
            "x",
            ["workerSelectorAttachments", 3, "rule", "credential", "appKey"],
            "JOBROUTER_SECRET_CLASSIFICATION_POLICY_X_WORKER_SELECTOR_ATTACHMENTS_3_RULE_CREDENTIAL_APP_KEY",
        ),
    ],
    ids=["function-key", "punctuation-and-spaces", "attachment-index"],
)
def test_a_secret_is_named_after_the_resource_and_the_field(
    kind: str, resource_id: str, path: list[str | int], name: str
) -> None:
    assert secret_name(kind, resource_id, path) == name


def document_of(**resources: list[dict[str, Any]]) -> dict[str, Any]:
    return build_document(resources, exported_from="http://127.0.0.1:1")


def test_export_drops_etags_and_a_workers_state_but_keeps_what_can_be_written() -> None:
    worker = {
        "id": "w",
        "state": "active",
        "queues": ["q"],
        "labels": {"Id": "w"},
        "offers": [],
        "assignedJobs": [],
        "loadRatio": 0,
        "availableForOffers": True,
        "etag": "e",
    }
    document = document_of(queues=[{"id": "q", "labels": {"Id": "q"}, "etag": "e"}], workers=[worker])
    assert document["queues"] == [{"id": "q", "labels": {"Id": "q"}}]
    assert document["workers"] == [
        {"id": "w", "queues": ["q"], "labels": {"Id": "w"}, "availableForOffers": True}
    ]


def test_two_ids_that_give_the_same_name_get_numbered_names() -> None:
    document = document_of(
        classificationPolicies=[
            {"id": "cp-1", "prioritizationRule": FUNCTION},
            {"id": "cp_1", "prioritizationRule": FUNCTION},
        ]
    )
    base = "JOBROUTER_SECRET_CLASSIFICATION_POLICY_CP_1_PRIORITIZATION_RULE_CREDENTIAL_APP_KEY"
    assert sorted(document["secrets"]) == [base, f"{base}_2"]
    assert (
        document["secrets"][f"{base}_2"] == "classificationPolicies/cp_1 prioritizationRule.credential.appKey"
    )


def round_trip(document: dict[str, Any]) -> Any:
    return parse_document(json.dumps(document))


def test_import_fills_every_placeholder_from_the_environment_and_leaves_the_rest_alone() -> None:
    policy = {
        "id": "cp",
        "prioritizationRule": FUNCTION,
        "workerSelectorAttachments": [{"kind": "ruleEngine", "rule": WEBHOOK}],
    }
    document = document_of(classificationPolicies=[policy])
    assert "app-secret" not in json.dumps(document)
    assert "hook-secret" not in json.dumps(document)
    environ = {name: "app-secret" if "APP_KEY" in name else "hook-secret" for name in document["secrets"]}
    [filled] = round_trip(document).with_secrets(environ)["classificationPolicies"]
    assert filled == policy


def test_import_names_every_variable_it_misses() -> None:
    document = document_of(
        classificationPolicies=[
            {"id": "a", "prioritizationRule": FUNCTION},
            {"id": "b", "prioritizationRule": WEBHOOK},
        ]
    )
    with pytest.raises(ConfigDocumentError) as raised:
        round_trip(document).with_secrets({})
    assert all(name in str(raised.value) for name in document["secrets"])


def test_a_literal_secret_in_a_hand_written_document_is_used_as_it_is() -> None:
    text = json.dumps(
        {"format": FORMAT, "classificationPolicies": [{"id": "cp", "prioritizationRule": FUNCTION}]}
    )
    [policy] = parse_document(text).with_secrets({})["classificationPolicies"]
    assert policy["prioritizationRule"]["credential"]["appKey"] == "app-secret"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"format": "jobrouter-configuration/1", "secrets": []}', "secrets"),
        ('{"format": "jobrouter-configuration/1", "queues": [{"name": "no id"}]}', "queues[0].id"),
        ('{"format": "jobrouter-configuration/1", "queues": [1]}', "queues[0]"),
        ("[]", None),
        ('{"format": "jobrouter-configuration/1", "x": NaN}', None),
    ],
    ids=["secrets-not-an-object", "no-id", "not-an-object", "not-an-object-at-all", "nan"],
)
def test_a_malformed_document_is_refused_naming_the_field(text: str, field: str | None) -> None:
    with pytest.raises(ConfigDocumentError) as raised:
        parse_document(text)
    assert raised.value.field == field
