"""The function app: Flex Consumption on Linux, Python 3.13, one user-assigned identity for everything."""

from __future__ import annotations

import pytest

from tests.infra.bicep import Resource, Template, app_settings, dotted, function_call

FUNCTION = "infra/app/function.bicep"
MONITORING = "infra/app/monitoring.bicep"
STORAGE = "infra/app/storage.bicep"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
# Settings Flex Consumption ignores or rejects; functionAppConfig replaces them.
FLEX_LEGACY_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}


@pytest.fixture(scope="module")
def function(templates: dict[str, Template]) -> Template:
    return templates[FUNCTION]


@pytest.fixture(scope="module")
def site(function: Template) -> Resource:
    (site,) = function.resources_of_type("Microsoft.Web/sites")
    return site


def _setting(function: Template, site: Resource, name: str) -> str:
    matches = [s for s in app_settings(function, site) if s.name == name]
    assert len(matches) == 1, f"{name} is set {len(matches)} times"
    assert matches[0].condition is None, f"{name} should be set unconditionally"
    value = matches[0].value
    assert isinstance(value, str)
    return value


def test_plan_is_flex_consumption_on_linux(function: Template) -> None:
    (plan,) = function.resources_of_type("Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.properties["reserved"] is True


def test_site_is_a_linux_function_app_running_python_313(
    function: Template, site: Resource, main: Template
) -> None:
    assert site.body["kind"] == "functionapp,linux"
    runtime = site.properties["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"
    assert function.is_parameter(runtime["version"])
    assert main.module_for("app/function.bicep").params[runtime["version"]] == "3.13"


def test_site_has_only_the_user_assigned_identity(site: Resource) -> None:
    assert site.body["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": {"'${functionIdentityId}'": {}},  # pycep keeps the key's quotes
    }


def test_deployment_package_is_pulled_with_the_user_assigned_identity(site: Resource) -> None:
    storage = site.properties["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "functionIdentityId",
    }


def test_azure_client_id_is_the_user_assigned_identitys_client_id(function: Template, site: Resource) -> None:
    assert _setting(function, site, "AZURE_CLIENT_ID") == "functionIdentityClientId"


def test_identity_module_outputs_feed_the_function(main: Template) -> None:
    params = main.module_for("app/function.bicep").params
    assert dotted(params["functionIdentityId"]) == "identities.outputs.functionIdentityId"
    assert dotted(params["functionIdentityClientId"]) == "identities.outputs.functionIdentityClientId"


def test_host_storage_is_identity_based(function: Template, site: Resource) -> None:
    names = {s.name for s in app_settings(function, site)}
    assert "AzureWebJobsStorage" not in names, "a connection string would need shared keys"
    assert _setting(function, site, "AzureWebJobsStorage__credential") == "managedidentity"
    assert _setting(function, site, "AzureWebJobsStorage__clientId") == "functionIdentityClientId"
    assert _setting(function, site, "AzureWebJobsStorage__accountName") == "storageAccountName"


def test_function_identity_owns_blob_data_on_its_storage(templates: dict[str, Template]) -> None:
    storage = templates[STORAGE]
    grants = [
        r
        for r in storage.resources_of_type("Microsoft.Authorization/roleAssignments")
        if r.properties["principalId"] == "functionIdentityPrincipalId"
    ]
    assert [(g.body["scope"], storage.role_definition_guid(g)) for g in grants] == [
        ("storage", STORAGE_BLOB_DATA_OWNER)
    ]


def test_application_insights_accepts_only_entra_id_telemetry(
    function: Template, site: Resource, templates: dict[str, Template]
) -> None:
    monitoring = templates[MONITORING]
    (component,) = monitoring.resources_of_type("Microsoft.Insights/components")
    assert component.properties["DisableLocalAuth"] is True
    auth = _setting(function, site, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
    assert auth == "ClientId=${functionIdentityClientId};Authorization=AAD"
    (grant,) = monitoring.resources_of_type("Microsoft.Authorization/roleAssignments")
    assert monitoring.role_definition_guid(grant) == MONITORING_METRICS_PUBLISHER
    assert grant.properties["principalId"] == "functionIdentityPrincipalId"


def test_no_legacy_setting_that_flex_consumption_rejects(function: Template, site: Resource) -> None:
    names = {s.name for s in app_settings(function, site)}
    assert names.isdisjoint(FLEX_LEGACY_SETTINGS)
    assert "linuxFxVersion" not in site.properties["siteConfig"]


def test_https_only_tls_12_and_no_basic_auth_publishing(function: Template, site: Resource) -> None:
    assert site.properties["httpsOnly"] is True
    assert site.properties["siteConfig"]["minTlsVersion"] == "1.2"
    policies = function.resources_of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {p.body["name"]: p.properties["allow"] for p in policies} == {"scm": False, "ftp": False}


def test_azd_finds_the_app_by_the_service_name_in_azure_yaml(
    site: Resource, main: Template, dumped: dict[str, object]
) -> None:
    merged = function_call(site.body["tags"], "union")
    assert merged is not None
    assert merged[0] == "tags"
    assert merged[1] == {"'azd-service-name'": "serviceName"}
    service = main.variable(main.module_for("app/function.bicep").params["serviceName"])
    services = dumped["azure_yaml"]["services"]  # type: ignore[index]
    assert service in services
    assert services[service] == {
        "project": ".",
        "language": "python",
        "host": "function",
        "remoteBuild": True,
    }
