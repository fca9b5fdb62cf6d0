"""The Event Grid subscription: only offers, to the function, briefly, and keeps what it can't deliver."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.infra.bicep import Resource, Template, dotted
from tests.infra.conftest import INFRA

OFFER_ISSUED = "Microsoft.Communication.RouterWorkerOfferIssued"
EVENTS = "infra/app/events.bicep"
STORAGE = "infra/app/storage.bicep"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@pytest.fixture(scope="module")
def events(templates: dict[str, Template]) -> Template:
    return templates[EVENTS]


@pytest.fixture(scope="module")
def subscription(events: Template) -> Resource:
    subs = events.resources_of_type("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    assert len(subs) == 1, "expected exactly one event subscription"
    return subs[0]


def _main_param_behind(main: Template, module_path: str, module_param: str) -> str:
    """The main.bicep parameter a module parameter is passed straight from (fails if it is anything else)."""
    value = main.module_for(module_path).params[module_param]
    assert main.is_parameter(value), (
        f"{module_path}:{module_param} is not passed a main.bicep parameter: {value!r}"
    )
    return str(value)


def _parameters_json_default(env_name: str) -> str:
    raw = (INFRA / "main.parameters.json").read_text(encoding="utf-8")
    match = re.search(r"\$\{" + env_name + r"=([^}]*)\}", raw)
    assert match, f"main.parameters.json maps no ${{{env_name}=default}}"
    return match[1]


def test_filter_holds_exactly_the_offer_issued_event_type(subscription: Resource) -> None:
    event_filter = subscription.properties["filter"]
    assert event_filter["includedEventTypes"] == [OFFER_ISSUED]


def test_filter_has_no_subject_or_advanced_filters_that_could_drop_offers(subscription: Resource) -> None:
    assert set(subscription.properties["filter"]) == {"includedEventTypes"}


def test_destination_is_the_azure_function_endpoint_type_with_no_url(subscription: Resource) -> None:
    destination = subscription.properties["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert "endpointUrl" not in destination["properties"]
    assert not any("code=" in str(v) or "http" in str(v) for v in destination["properties"].values())


def test_destination_is_the_on_offer_issued_function_of_the_deployed_app(
    subscription: Resource, events: Template, main: Template
) -> None:
    resource_id = subscription.properties["destination"]["properties"]["resourceId"]
    assert resource_id == "${functionAppId}/functions/${functionName}"
    assert (
        dotted(main.module_for("app/events.bicep").params["functionAppId"])
        == "functionApp.outputs.functionAppId"
    )
    function_name = main.module_for("app/events.bicep").params["functionName"]
    assert main.variable(function_name) == "on_offer_issued"


def test_the_subscribed_function_name_is_the_one_function_app_py_registers(main: Template) -> None:
    app = importlib.import_module("function_app").app
    names = {f.get_function_name() for f in app.get_functions()}
    assert main.variable("functionName") in names


def test_one_event_per_delivery_because_a_failed_batch_is_redelivered_whole(subscription: Resource) -> None:
    assert subscription.properties["destination"]["properties"]["maxEventsPerBatch"] == 1


def test_retry_ttl_is_a_parameter_defaulting_to_a_few_minutes(subscription: Resource, main: Template) -> None:
    assert subscription.properties["retryPolicy"]["eventTimeToLiveInMinutes"] == "eventTimeToLiveInMinutes"
    param = _main_param_behind(main, "app/events.bicep", "eventTimeToLiveInMinutes")
    default = main.param_default(param)
    assert isinstance(default, int)
    assert 1 <= default <= 15, "an offer lives minutes, not Event Grid's default 24 hours"
    assert main.decorator(param, "min_value") == 1
    assert main.decorator(param, "max_value") == 1440
    assert _parameters_json_default("EVENT_TTL_MINUTES") == str(default)


def test_max_delivery_attempts_is_set_from_a_bounded_parameter(
    subscription: Resource, main: Template
) -> None:
    assert subscription.properties["retryPolicy"]["maxDeliveryAttempts"] == "maxDeliveryAttempts"
    param = _main_param_behind(main, "app/events.bicep", "maxDeliveryAttempts")
    default = main.param_default(param)
    assert isinstance(default, int)
    assert 1 <= default <= 30
    assert main.decorator(param, "max_value") == 30
    assert _parameters_json_default("EVENT_MAX_DELIVERY_ATTEMPTS") == str(default)


def test_schema_is_selectable_between_event_grid_and_cloud_events(
    subscription: Resource, main: Template
) -> None:
    assert subscription.properties["eventDeliverySchema"] == "eventDeliverySchema"
    param = _main_param_behind(main, "app/events.bicep", "eventDeliverySchema")
    assert set(main.decorator(param, "allowed")) == {"EventGridSchema", "CloudEventSchemaV1_0"}
    assert main.param_default(param) in {"EventGridSchema", "CloudEventSchemaV1_0"}


def test_dead_letters_go_to_a_blob_container_written_by_a_managed_identity(subscription: Resource) -> None:
    # deadLetterDestination alone would need storage keys; they are off, so the identity form is the only one.
    assert "deadLetterDestination" not in subscription.properties
    dead_letter = subscription.properties["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "UserAssigned", "userAssignedIdentity": "eventGridIdentityId"}
    destination = dead_letter["deadLetterDestination"]
    assert destination["endpointType"] == "StorageBlob"
    assert destination["properties"] == {
        "resourceId": "deadLetterStorageAccountId",
        "blobContainerName": "deadLetterContainerName",
    }


def test_dead_letter_container_is_the_storage_modules_container(main: Template) -> None:
    params = main.module_for("app/events.bicep").params
    assert dotted(params["deadLetterContainerName"]) == "storage.outputs.deadLetterContainerName"
    assert dotted(params["deadLetterStorageAccountId"]) == "storage.outputs.storageAccountId"


def test_system_topic_carries_the_dead_letter_identity(events: Template) -> None:
    (topic,) = events.resources_of_type("Microsoft.EventGrid/systemTopics")
    assert topic.body["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": {"'${eventGridIdentityId}'": {}},  # pycep keeps the key's quotes
    }


def test_dead_letter_identity_may_write_only_the_dead_letter_container(
    templates: dict[str, Template],
) -> None:
    storage = templates[STORAGE]
    grants = [
        r
        for r in storage.resources_of_type("Microsoft.Authorization/roleAssignments")
        if r.properties["principalId"] == "eventGridIdentityPrincipalId"
    ]
    assert len(grants) == 1
    grant = grants[0]
    assert grant.body["scope"] == "deadLetterContainer"
    assert storage.role_definition_guid(grant) == STORAGE_BLOB_DATA_CONTRIBUTOR


def test_system_topic_is_the_communication_services_resources_topic(events: Template) -> None:
    (topic,) = events.resources_of_type("Microsoft.EventGrid/systemTopics")
    assert topic.properties["topicType"] == "Microsoft.Communication.CommunicationServices"
    assert topic.body["location"] == "global"
    (acs,) = events.resources_of_type("Microsoft.Communication/communicationServices", existing=True)
    assert dotted(topic.properties["source"]) == f"{acs.symbol}.id"


def test_subscription_waits_for_the_function_to_exist(subscription: Resource, main: Template) -> None:
    """Event Grid validates an AzureFunction endpoint at creation: the first provision must not create it."""
    assert subscription.condition == "createEventSubscription"
    param = _main_param_behind(main, "app/events.bicep", "createEventSubscription")
    assert main.param_default(param) is False
    assert _parameters_json_default("EVENT_SUBSCRIPTION_ENABLED") == "false"
