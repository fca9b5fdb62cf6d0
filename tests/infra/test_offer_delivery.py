"""What keeps offers from being lost in Azure: sampling, cold starts, deploys, the thread pool, dead letters.

- No decision line is sampled away: host.json keeps every request, trace and exception out of adaptive
  sampling, the decision logger's category logs at Information, and ingestion sampling is pinned to 100 %.
  In OpenTelemetry mode host.json's Application Insights section does not apply, so the template pins the
  exporters' samplers to 100 % instead.
- on_offer_issued keeps always-ready instances (default 1).
- Deploys and setting changes roll instance by instance (RollingUpdate, with an API version that has it).
- PYTHON_THREADPOOL_THREAD_COUNT is set from a parameter.
- The telemetry mode is chosen per environment, classic by default.
- The deploying principal may read the dead-letter container, and nothing more.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep import AppSetting, Resource, Template, app_settings, function_call
from tests.infra.conftest import INFRA, REPO

FUNCTION = "infra/app/function.bicep"
STORAGE = "infra/app/storage.bicep"
MONITORING = "infra/app/monitoring.bicep"
HOST_JSON = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
OPEN_TELEMETRY_SETTINGS = {
    "AzureFunctionsJobHost__telemetryMode": "OpenTelemetry",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
    "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
    "OTEL_TRACES_SAMPLER_ARG": "1.0",
}
LOG_LEVELS = ["Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"]


@pytest.fixture(scope="module")
def function(templates: dict[str, Template]) -> Template:
    return templates[FUNCTION]


@pytest.fixture(scope="module")
def site(function: Template) -> Resource:
    (site,) = function.resources_of_type("Microsoft.Web/sites")
    return site


@pytest.fixture(scope="module")
def settings(function: Template, site: Resource) -> list[AppSetting]:
    return app_settings(function, site)


def _function_param(main: Template, name: str) -> object:
    """The value main.bicep passes to function.bicep's parameter ``name``."""
    return main.module_for("app/function.bicep").params[name]


def _env_default(name: str) -> str:
    match = re.fullmatch(r"\$\{[A-Z0-9_]+=(?P<default>[^}]*)\}", PARAMETERS[name]["value"])
    assert match, f"{name} has no azd default"
    return match["default"]


# --- sampling ---------------------------------------------------------------------------------------------


def test_host_json_never_samples_requests_traces_or_exceptions() -> None:
    sampling = HOST_JSON["logging"]["applicationInsights"]["samplingSettings"]
    if sampling.get("isEnabled", True):
        excluded = {t.strip() for t in sampling["excludedTypes"].split(";")}
        assert {"Request", "Trace", "Exception"} <= excluded
        assert "includedTypes" not in sampling, "includedTypes would sample only the listed types"


def test_decision_lines_and_request_telemetry_are_logged_at_information() -> None:
    levels = HOST_JSON["logging"]["logLevel"]
    # Python user logs arrive in category Function.<name>.User; the host's request telemetry in Host.Results.
    for category in ("Function.on_offer_issued.User", "Host.Results"):
        assert LOG_LEVELS.index(levels[category]) <= LOG_LEVELS.index("Information"), category


def test_host_json_leaves_the_telemetry_mode_to_the_app_setting() -> None:
    assert "telemetryMode" not in HOST_JSON


def test_application_insights_ingestion_sampling_is_off(templates: dict[str, Template]) -> None:
    (component,) = templates[MONITORING].resources_of_type("Microsoft.Insights/components")
    assert component.properties["SamplingPercentage"] == 100


# --- telemetry mode -----------------------------------------------------------------------------------------


def test_telemetry_mode_is_classic_unless_asked(main: Template) -> None:
    assert main.param_default("telemetryMode") == "classic"
    assert main.decorator("telemetryMode", "allowed") == ["classic", "openTelemetry"]
    assert _function_param(main, "telemetryMode") == "telemetryMode"
    assert _env_default("telemetryMode") == "classic"


def test_open_telemetry_mode_sets_the_host_mode_the_worker_switch_and_full_sampling(
    function: Template, settings: list[AppSetting]
) -> None:
    telemetry = {s.name: s for s in settings if s.name in OPEN_TELEMETRY_SETTINGS}
    assert {name: s.value for name, s in telemetry.items()} == OPEN_TELEMETRY_SETTINGS
    for setting in telemetry.values():
        assert (setting.condition, setting.when) == ("useOpenTelemetry", True)
    condition = function.variable("useOpenTelemetry")
    assert condition["operator"]["type"] == "equals"
    assert condition["operator"]["operands"] == {"operand_1": "telemetryMode", "operand_2": "openTelemetry"}


def test_both_modes_send_to_the_same_application_insights_with_entra_id(settings: list[AppSetting]) -> None:
    unconditional = {s.name for s in settings if s.condition is None}
    assert {
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    } <= unconditional


# --- cold starts and deploys ----------------------------------------------------------------------------


def test_on_offer_issued_keeps_one_always_ready_instance_by_default(site: Resource, main: Template) -> None:
    scale = site.properties["functionAppConfig"]["scaleAndConcurrency"]
    assert scale["alwaysReady"] == [
        {"name": "function:${functionName}", "instanceCount": "alwaysReadyInstanceCount"}
    ]
    assert main.variable(str(_function_param(main, "functionName"))) == "on_offer_issued"
    assert _function_param(main, "alwaysReadyInstanceCount") == "alwaysReadyInstanceCount"
    assert main.param_default("alwaysReadyInstanceCount") == 1
    assert main.decorator("alwaysReadyInstanceCount", "min_value") == 0


def test_deploys_roll_so_in_flight_offers_finish(function: Template, site: Resource, main: Template) -> None:
    strategy = site.properties["functionAppConfig"]["siteUpdateStrategy"]
    assert strategy == {"type": "siteUpdateStrategy"}
    assert function.decorator("siteUpdateStrategy", "allowed") == ["RollingUpdate", "Recreate"]
    assert _function_param(main, "siteUpdateStrategy") == "siteUpdateStrategy"
    assert main.param_default("siteUpdateStrategy") == "RollingUpdate"
    # siteUpdateStrategy is in the Microsoft.Web REST schema from 2025-05-01 on (docs/deploy.md).
    assert site.api_version >= "2025-05-01"


# --- thread pool ----------------------------------------------------------------------------------------


def test_thread_pool_size_is_set_from_its_parameter(settings: list[AppSetting], main: Template) -> None:
    (pool,) = [s for s in settings if s.name == "PYTHON_THREADPOOL_THREAD_COUNT"]
    assert pool.condition is None
    assert function_call(pool.value, "string") == ["pythonThreadpoolThreadCount"]
    assert _function_param(main, "pythonThreadpoolThreadCount") == "pythonThreadpoolThreadCount"
    assert main.param_default("pythonThreadpoolThreadCount") == 32
    assert _env_default("pythonThreadpoolThreadCount") == "32"


# --- dead letters ---------------------------------------------------------------------------------------


def test_deploying_principal_may_read_the_dead_letter_container_only(
    templates: dict[str, Template], main: Template
) -> None:
    storage = templates[STORAGE]
    grant = storage.resource("deadLetterReader")
    assert grant.body["scope"] == "deadLetterContainer"
    assert storage.role_definition_guid(grant) == STORAGE_BLOB_DATA_READER
    assert grant.properties["principalId"] == "deadLetterReaderPrincipalId"
    assert grant.condition == {
        "operator": {
            "type": "not",
            "operands": {
                "bool_value": {
                    "function": {
                        "type": "empty",
                        "parameters": {"item_to_test": "deadLetterReaderPrincipalId"},
                    }
                }
            },
        }
    }
    assert main.module_for("app/storage.bicep").params["deadLetterReaderPrincipalId"] == "principalId"
    assert main.param_default("principalId") == ""
    assert PARAMETERS["principalId"]["value"] == "${AZURE_PRINCIPAL_ID=}"
