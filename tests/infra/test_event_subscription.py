"""The Event Grid subscriptions: only their events, to their function, briefly; what fails is kept.

Two subscriptions on the Communication Services system topic: offers to ``on_offer_issued``, and the two
worker lifecycle events the bot fleet needs to ``on_worker_lifecycle``. Both deliver the same way (one event
per request, the same TTL, attempts, schema and dead-lettering); only the function and the event types differ.
"""

from __future__ import annotations

import importlib
import re

import pytest

from tests.infra.bicep import Resource, Template, dotted
from tests.infra.conftest import INFRA

OFFER_ISSUED = "Microsoft.Communication.RouterWorkerOfferIssued"
OFFER_EXPIRED = "Microsoft.Communication.RouterWorkerOfferExpired"
WORKER_DEREGISTERED = "Microsoft.Communication.RouterWorkerDeregistered"
EVENTS = "infra/app/events.bicep"
STORAGE = "infra/app/storage.bicep"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@pytest.fixture(scope="module")
def events(templates: dict[str, Template]) -> Template:
    return templates[EVENTS]


# By symbol in events.bicep: (what names the function there, the function, the event types it lets through).
SUBSCRIPTIONS = {
    "offerIssuedSubscription": ("functionName", "on_offer_issued", [OFFER_ISSUED]),
    "workerLifecycleSubscription": (
        "lifecycleFunctionName",
        "on_worker_lifecycle",
        [OFFER_EXPIRED, WORKER_DEREGISTERED],
    ),
}


def _subscriptions(events: Template) -> dict[str, Resource]:
    subs = events.resources_of_type("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    return {s.symbol: s for s in subs}


def test_there_are_exactly_the_offer_and_the_worker_lifecycle_subscriptions(events: Template) -> None:
    assert set(_subscriptions(events)) == set(SUBSCRIPTIONS)


@pytest.fixture(scope="module", params=sorted(SUBSCRIPTIONS))
def subscription(request: pytest.FixtureRequest, events: Template) -> Resource:
    """Each subscription in turn: what every subscription must do is checked for both."""
    symbol: str = request.param
    return _subscriptions(events)[symbol]


@pytest.fixture(scope="module")
def offer_subscription(events: Template) -> Resource:
    return _subscriptions(events)["offerIssuedSubscription"]


@pytest.fixture(scope="module")
def lifecycle_subscription(events: Template) -> Resource:
    return _subscriptions(events)["workerLifecycleSubscription"]


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


def test_filter_holds_exactly_the_event_types_its_function_handles(subscription: Resource) -> None:
    event_filter = subscription.properties["filter"]
    assert event_filter["includedEventTypes"] == SUBSCRIPTIONS[subscription.symbol][2]


def test_the_offer_subscription_holds_exactly_offer_issued(offer_subscription: Resource) -> None:
    assert offer_subscription.properties["filter"]["includedEventTypes"] == [OFFER_ISSUED]


def test_the_lifecycle_subscription_holds_exactly_offer_expired_and_deregistered(
    lifecycle_subscription: Resource,
) -> None:
    types = lifecycle_subscription.properties["filter"]["includedEventTypes"]
    assert sorted(types) == sorted([OFFER_EXPIRED, WORKER_DEREGISTERED])


def test_filter_has_no_subject_or_advanced_filters_that_could_drop_events(subscription: Resource) -> None:
    assert set(subscription.properties["filter"]) == {"includedEventTypes"}


def test_destination_is_the_azure_function_endpoint_type_with_no_url(subscription: Resource) -> None:
    destination = subscription.properties["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert "endpointUrl" not in destination["properties"]
    assert not any("code=" in str(v) or "http" in str(v) for v in destination["properties"].values())


def _subscribed_function(main: Template, events: Template, name: str) -> str:
    """The function ``name`` stands for in events.bicep: a parameter main.bicep passes, or a variable."""
    if events.is_parameter(name):
        value = main.variable(main.module_for("app/events.bicep").params[name])
    else:
        value = events.variable(name)
    assert isinstance(value, str)
    return value


def test_destination_is_its_function_of_the_deployed_app(
    subscription: Resource, events: Template, main: Template
) -> None:
    param, function, _ = SUBSCRIPTIONS[subscription.symbol]
    resource_id = subscription.properties["destination"]["properties"]["resourceId"]
    assert resource_id == f"${{functionAppId}}/functions/${{{param}}}"
    assert (
        dotted(main.module_for("app/events.bicep").params["functionAppId"])
        == "functionApp.outputs.functionAppId"
    )
    assert _subscribed_function(main, events, param) == function


@pytest.fixture(scope="module")
def event_grid_functions() -> set[str]:
    """The functions function_app.py registers with an Event Grid trigger (indexed once: not idempotent)."""
    app = importlib.import_module("function_app").app
    return {
        f.get_function_name()
        for f in app.get_functions()
        if any(b.type == "eventGridTrigger" for b in f.get_bindings())
    }


def test_the_subscribed_function_names_are_ones_function_app_py_registers_for_event_grid(
    subscription: Resource, events: Template, main: Template, event_grid_functions: set[str]
) -> None:
    param = SUBSCRIPTIONS[subscription.symbol][0]
    assert _subscribed_function(main, events, param) in event_grid_functions


def test_the_fleet_subscription_needs_no_parameter_the_offer_subscription_does_not(
    lifecycle_subscription: Resource, events: Template
) -> None:
    """Its function and name are the module's own variables: a redeployment of events.bicep with the offer
    subscription's parameters only (the postdeploy hook's) creates it exactly the same way."""
    assert lifecycle_subscription.body["name"] == "lifecycleSubscriptionName"
    for name in ("lifecycleFunctionName", "lifecycleSubscriptionName"):
        assert events.is_variable(name)
        assert not events.is_parameter(name)


def test_the_two_subscriptions_deliver_with_the_same_settings(
    offer_subscription: Resource, lifecycle_subscription: Resource
) -> None:
    """Only the function and the event types differ: same schema, batching, TTL, attempts, dead letters."""

    def delivery(sub: Resource) -> dict[str, object]:
        props = dict(sub.properties)
        props.pop("filter")
        destination = dict(props.pop("destination"))
        destination["properties"] = {k: v for k, v in destination["properties"].items() if k != "resourceId"}
        return {**props, "destination": destination, "condition": sub.condition}

    assert delivery(lifecycle_subscription) == delivery(offer_subscription)


def test_the_subscriptions_are_named_after_the_function_app_they_deliver_to(
    events: Template, main: Template
) -> None:
    assert main.module_for("app/events.bicep").params["eventSubscriptionName"] == (
        "offer-issued-to-${functionAppName}"
    )
    assert main.variable("functionAppName") == "func-${resourceToken}"
    # The app's name is the last segment of its resource id.
    assert events.variable("lifecycleSubscriptionName") == (
        "worker-lifecycle-to-${last(split(functionAppId, '/'))}"
    )


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
    """Event Grid validates an AzureFunction endpoint at creation: the first provision must not create it.

    Both functions are in the one app, indexed together: the same switch creates both subscriptions.
    """
    assert subscription.condition == "createEventSubscription"
    param = _main_param_behind(main, "app/events.bicep", "createEventSubscription")
    assert main.param_default(param) is False
    assert _parameters_json_default("EVENT_SUBSCRIPTION_ENABLED") == "false"
