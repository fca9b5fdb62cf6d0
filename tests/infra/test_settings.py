"""The app settings the function reads (offer_handlers.settings.SETTING_NAMES) are what the template sets.

Every name in SETTING_NAMES must be classified below, so a setting added to the app without a deployment
decision fails here. How the template handles each:

- always set: AZURE_CLIENT_ID (selects the user-assigned identity for DefaultAzureCredential).
- set by auth mode (jobRouterAuth): JOBROUTER_ENDPOINT in managedIdentity mode, JOBROUTER_CONNECTION_STRING
  (a Key Vault reference, never the value) in accessKey mode. Never both.
- set only when the deployer asks (empty parameter = unset): OFFER_POLICY_FILE, OFFER_POLICY (inline, passed
  base64-encoded), OFFER_DECIDER (a custom decider shipped in the package). With no policy the app accepts
  every offer, as docs/deploy.md says. Likewise the bot fleet: FLEET_FILE, FLEET (inline, passed
  base64-encoded) and FLEET_RECONCILE_SCHEDULE. With no fleet the app touches no worker, and unset the
  reconciliation timer runs every minute.
- left to the app's defaults: JOBROUTER_REQUEST_TIMEOUT_SECONDS, JOBROUTER_MAX_RETRIES (sized for offers that
  live seconds; tune with `az functionapp config appsettings set`, see docs/deploy.md).
- set by telemetry mode (telemetryMode): PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY, only in OpenTelemetry
  mode (the Python worker reads it, and the app turns its own OpenTelemetry on with it).
"""

from __future__ import annotations

import re

import pytest

from offer_handlers.settings import SETTING_NAMES
from tests.infra.bicep import AppSetting, Resource, Template, app_settings, dotted, function_call

FUNCTION = "infra/app/function.bicep"
KEYVAULT = "infra/app/keyvault.bicep"
COMMUNICATION = "infra/app/communication.bicep"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
COMMUNICATION_AND_EMAIL_SERVICE_OWNER = "09976791-48a7-449e-bb21-39d1a415f350"

ALWAYS = {"AZURE_CLIENT_ID": "selects the user-assigned identity"}
BY_AUTH_MODE = {
    "JOBROUTER_ENDPOINT": True,  # identityMode == true
    "JOBROUTER_CONNECTION_STRING": False,  # identityMode == false (access-key mode)
}
WHEN_REQUESTED = {
    "OFFER_POLICY_FILE": "offerPolicyFile",
    "OFFER_POLICY": "offerPolicyBase64",
    "OFFER_DECIDER": "offerDecider",
    "FLEET_FILE": "fleetFile",
    "FLEET": "fleetBase64",
    "FLEET_RECONCILE_SCHEDULE": "fleetReconcileSchedule",
}
# JSON settings passed base64-encoded (azd substitutes parameters into a JSON file as raw text).
BASE64_ENCODED = {"OFFER_POLICY": "offerPolicyBase64", "FLEET": "fleetBase64"}
APP_DEFAULTS = {
    "JOBROUTER_REQUEST_TIMEOUT_SECONDS": "the app's per-call budget (5 s) is sized for offers",
    "JOBROUTER_MAX_RETRIES": "the app's retry budget (2) is sized for offers",
}
BY_TELEMETRY_MODE = {"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": True}  # useOpenTelemetry == true
# Settings the platform reads (the Functions host, the Python worker, the OpenTelemetry exporters), not the
# app; anything else the template sets must be in SETTING_NAMES.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_THREADPOOL_THREAD_COUNT",
    "AzureFunctionsJobHost__telemetryMode",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
}
KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=\$\{\w+\}\)$")


@pytest.fixture(scope="module")
def function(templates: dict[str, Template]) -> Template:
    return templates[FUNCTION]


@pytest.fixture(scope="module")
def settings(function: Template) -> list[AppSetting]:
    (site,) = function.resources_of_type("Microsoft.Web/sites")
    return app_settings(function, site)


def _named(settings: list[AppSetting], name: str) -> list[AppSetting]:
    return [s for s in settings if s.name == name]


@pytest.mark.parametrize("name", SETTING_NAMES, ids=SETTING_NAMES)
def test_every_setting_the_app_reads_has_a_deployment_decision(name: str) -> None:
    classified = (
        ALWAYS.keys()
        | BY_AUTH_MODE.keys()
        | WHEN_REQUESTED.keys()
        | APP_DEFAULTS.keys()
        | BY_TELEMETRY_MODE.keys()
    )
    assert name in classified, (
        f"{name} is new in SETTING_NAMES: decide how infra/ sets it, then classify it here"
    )


@pytest.mark.parametrize("name", sorted(ALWAYS), ids=sorted(ALWAYS))
def test_always_needed_settings_are_set_unconditionally(settings: list[AppSetting], name: str) -> None:
    (setting,) = _named(settings, name)
    assert setting.condition is None


@pytest.mark.parametrize("name", sorted(BY_AUTH_MODE), ids=sorted(BY_AUTH_MODE))
def test_auth_settings_are_set_in_exactly_their_mode(
    settings: list[AppSetting], function: Template, name: str
) -> None:
    (setting,) = _named(settings, name)
    assert setting.condition == "identityMode"
    assert setting.when is BY_AUTH_MODE[name]
    assert function_call(function.variable("identityMode"), "empty") == ["jobRouterConnectionStringSecretUri"]


@pytest.mark.parametrize("name", sorted(BY_TELEMETRY_MODE), ids=sorted(BY_TELEMETRY_MODE))
def test_telemetry_settings_are_set_in_exactly_their_mode(settings: list[AppSetting], name: str) -> None:
    (setting,) = _named(settings, name)
    assert setting.condition == "useOpenTelemetry"
    assert setting.when is BY_TELEMETRY_MODE[name]


@pytest.mark.parametrize("name", sorted(WHEN_REQUESTED), ids=sorted(WHEN_REQUESTED))
def test_optional_settings_are_set_only_from_their_non_empty_parameter(
    settings: list[AppSetting], function: Template, main: Template, name: str
) -> None:
    (setting,) = _named(settings, name)
    param = WHEN_REQUESTED[name]
    assert function_call(setting.condition, "empty") == [param]
    assert setting.when is False
    assert main.module_for("app/function.bicep").params[param] == param
    assert main.param_default(param) == ""


@pytest.mark.parametrize("name", sorted(APP_DEFAULTS), ids=sorted(APP_DEFAULTS))
def test_settings_left_to_app_defaults_are_not_set(settings: list[AppSetting], name: str) -> None:
    assert _named(settings, name) == []


def test_template_sets_no_app_setting_the_app_does_not_read(settings: list[AppSetting]) -> None:
    unknown = {s.name for s in settings} - set(SETTING_NAMES) - PLATFORM_SETTINGS
    assert unknown == set(), f"set by the template but read by nobody (typo?): {unknown}"


@pytest.mark.parametrize("name", sorted(BASE64_ENCODED), ids=sorted(BASE64_ENCODED))
def test_inline_json_settings_are_decoded_from_base64(settings: list[AppSetting], name: str) -> None:
    (setting,) = _named(settings, name)
    assert function_call(setting.value, "base64_to_string") == [BASE64_ENCODED[name]]


def test_managed_identity_mode_sets_the_resources_endpoint_without_trailing_slash(
    settings: list[AppSetting], templates: dict[str, Template], main: Template
) -> None:
    (endpoint,) = _named(settings, "JOBROUTER_ENDPOINT")
    assert endpoint.value == "jobRouterEndpoint"
    passed = main.module_for("app/function.bicep").params["jobRouterEndpoint"]
    assert passed["operator"]["operands"]["condition"] == "useManagedIdentity"
    assert dotted(passed["operator"]["operands"]["true_value"]) == "communication.outputs.endpoint"
    communication = templates[COMMUNICATION]
    assert (
        communication.outputs["endpoint"]["value"] == "https://${communicationServices.properties.hostName}"
    )


def test_access_key_mode_sets_a_key_vault_reference_never_the_value(settings: list[AppSetting]) -> None:
    (connection,) = _named(settings, "JOBROUTER_CONNECTION_STRING")
    assert KEY_VAULT_REFERENCE.match(connection.value), connection.value


def test_key_vault_references_resolve_with_the_user_assigned_identity(function: Template) -> None:
    (site,) = function.resources_of_type("Microsoft.Web/sites")
    assert site.properties["keyVaultReferenceIdentity"] == "functionIdentityId"


def test_connection_string_secret_is_copied_from_the_resources_keys(templates: dict[str, Template]) -> None:
    keyvault = templates[KEYVAULT]
    (secret,) = keyvault.resources_of_type("Microsoft.KeyVault/vaults/secrets")
    value = secret.properties["value"]
    (acs,) = keyvault.resources_of_type("Microsoft.Communication/communicationServices", existing=True)
    list_keys = {
        "operator": {
            "type": "function_accessor",
            "operands": {"operand_1": acs.symbol, "func_name": "listKeys"},
        }
    }
    assert value["operator"]["operands"]["operand_1"] == list_keys
    assert value["operator"]["operands"]["operand_2"] == "primaryConnectionString"


def test_key_vault_uses_rbac_and_the_identity_may_read_only_that_secret(
    templates: dict[str, Template],
) -> None:
    keyvault = templates[KEYVAULT]
    (vault,) = keyvault.resources_of_type("Microsoft.KeyVault/vaults")
    assert vault.properties["enableRbacAuthorization"] is True
    assert "accessPolicies" not in vault.properties
    (grant,) = keyvault.resources_of_type("Microsoft.Authorization/roleAssignments")
    assert grant.body["scope"] == "connectionString"
    assert keyvault.role_definition_guid(grant) == KEY_VAULT_SECRETS_USER


def test_key_vault_exists_only_in_access_key_mode(main: Template) -> None:
    keyvault = main.module_for("app/keyvault.bicep")
    assert keyvault.condition == {
        "operator": {"type": "not", "operands": {"bool_value": "useManagedIdentity"}}
    }


def test_managed_identity_mode_grants_the_job_router_role_on_the_resource_only(
    templates: dict[str, Template], main: Template
) -> None:
    communication = templates[COMMUNICATION]
    (grant,) = communication.resources_of_type("Microsoft.Authorization/roleAssignments")
    grant_resource: Resource = grant
    assert grant_resource.condition == "grantJobRouterRole"
    assert grant_resource.body["scope"] == "communicationServices"
    assert grant_resource.properties["principalType"] == "ServicePrincipal"
    call = main.module_for("app/communication.bicep")
    assert call.params["grantJobRouterRole"] == "useManagedIdentity"
    assert (
        main.param_default(call.params["jobRouterRoleDefinitionId"]) == COMMUNICATION_AND_EMAIL_SERVICE_OWNER
    )
