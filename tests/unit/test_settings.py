"""Settings: one module reads the environment; SETTING_NAMES lists every setting; values stay out of reprs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from offer_handlers.errors import ConfigurationError
from offer_handlers.settings import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RECONCILE_SCHEDULE,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    SETTING_NAMES,
    load_settings,
    reconcile_schedule,
)
from tests.fixtures import REPO_ROOT

ROOT = Path("/app")
SECRET = "endpoint=https://acs.communication.azure.com/;accesskey=c2VjcmV0LWtleQ=="


def test_setting_names_lists_every_setting_the_function_reads() -> None:
    assert set(SETTING_NAMES) == {
        "JOBROUTER_CONNECTION_STRING",
        "JOBROUTER_ENDPOINT",
        "AZURE_CLIENT_ID",
        "OFFER_POLICY",
        "OFFER_POLICY_FILE",
        "OFFER_DECIDER",
        "JOBROUTER_REQUEST_TIMEOUT_SECONDS",
        "JOBROUTER_MAX_RETRIES",
        "FLEET",
        "FLEET_FILE",
        "FLEET_RECONCILE_SCHEDULE",
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    }
    assert len(SETTING_NAMES) == len(set(SETTING_NAMES))


def test_the_sample_local_settings_name_every_setting() -> None:
    import json

    values = json.loads((REPO_ROOT / "local.settings.sample.json").read_text())["Values"]

    assert set(SETTING_NAMES) <= set(values)
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"


def test_only_the_settings_module_reads_os_environ() -> None:
    readers = []
    for path in [REPO_ROOT / "function_app.py", *(REPO_ROOT / "offer_handlers").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                readers.append(path.name)
    assert set(readers) == {"settings.py"}


def test_defaults_when_nothing_is_set() -> None:
    settings = load_settings(ROOT, {})

    assert (settings.connection_string, settings.endpoint, settings.policy_text, settings.policy_file) == (
        None,
        None,
        None,
        None,
    )
    assert (settings.request_timeout, settings.max_retries) == (
        DEFAULT_REQUEST_TIMEOUT_SECONDS,
        DEFAULT_MAX_RETRIES,
    )


def test_empty_values_count_as_unset() -> None:
    settings = load_settings(
        ROOT, {"JOBROUTER_CONNECTION_STRING": "  ", "OFFER_POLICY": "", "OFFER_POLICY_FILE": ""}
    )

    assert (settings.connection_string, settings.policy_text, settings.policy_file) == (None, None, None)


def test_a_relative_policy_file_is_read_from_the_app_root_and_an_absolute_one_as_is() -> None:
    assert (
        load_settings(ROOT, {"OFFER_POLICY_FILE": "policies/p.json"}).policy_file == ROOT / "policies/p.json"
    )
    assert load_settings(ROOT, {"OFFER_POLICY_FILE": "/etc/p.json"}).policy_file == Path("/etc/p.json")


def test_a_relative_fleet_file_is_read_from_the_app_root_and_the_inline_fleet_stays_out_of_the_repr() -> None:
    assert load_settings(ROOT, {"FLEET_FILE": "fleet/bots.json"}).fleet_file == ROOT / "fleet/bots.json"
    inline = load_settings(ROOT, {"FLEET": '{"version": 1, "workers": []}'})
    assert inline.fleet_text == '{"version": 1, "workers": []}'
    assert "workers" not in repr(inline)


def test_inline_and_file_fleet_together_are_read_and_left_for_the_fleet_loader_to_refuse() -> None:
    settings = load_settings(ROOT, {"FLEET": "{}", "FLEET_FILE": "f.json"})  # offers keep working

    assert (settings.fleet_text, settings.fleet_file) == ("{}", ROOT / "f.json")


@pytest.mark.parametrize(
    ("env", "schedule"),
    [
        ({}, DEFAULT_RECONCILE_SCHEDULE),
        ({"FLEET_RECONCILE_SCHEDULE": "  "}, DEFAULT_RECONCILE_SCHEDULE),
        ({"FLEET_RECONCILE_SCHEDULE": "*/30 * * * * *"}, "%FLEET_RECONCILE_SCHEDULE%"),
    ],
    ids=["unset", "empty", "set"],
)
def test_the_reconcile_schedule_is_the_setting_expression_only_when_the_setting_has_a_value(
    env: dict[str, str], schedule: str
) -> None:
    assert reconcile_schedule(env) == schedule


def test_the_default_reconcile_schedule_is_every_minute_at_second_zero() -> None:
    assert DEFAULT_RECONCILE_SCHEDULE == "0 * * * * *"


def test_inline_and_file_policy_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="OFFER_POLICY or OFFER_POLICY_FILE, not both"):
        load_settings(ROOT, {"OFFER_POLICY": "{}", "OFFER_POLICY_FILE": "p.json"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOBROUTER_REQUEST_TIMEOUT_SECONDS", "0"),
        ("JOBROUTER_REQUEST_TIMEOUT_SECONDS", "26"),
        ("JOBROUTER_REQUEST_TIMEOUT_SECONDS", "fast"),
        ("JOBROUTER_REQUEST_TIMEOUT_SECONDS", "nan"),
        ("JOBROUTER_MAX_RETRIES", "-1"),
        ("JOBROUTER_MAX_RETRIES", "6"),
        ("JOBROUTER_MAX_RETRIES", "2.5"),
    ],
)
def test_out_of_range_budgets_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(ROOT, {name: value})

    assert caught.value.setting == name
    assert name in str(caught.value)


def test_budgets_are_read() -> None:
    settings = load_settings(ROOT, {"JOBROUTER_REQUEST_TIMEOUT_SECONDS": "2.5", "JOBROUTER_MAX_RETRIES": "0"})

    assert (settings.request_timeout, settings.max_retries) == (2.5, 0)


def test_the_connection_string_never_appears_in_the_settings_repr() -> None:
    settings = load_settings(ROOT, {"JOBROUTER_CONNECTION_STRING": SECRET})

    assert settings.connection_string == SECRET
    assert SECRET not in repr(settings)
    assert "c2VjcmV0LWtleQ" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"JOBROUTER_CONNECTION_STRING": SECRET}, "JOBROUTER_CONNECTION_STRING"),
        ({"JOBROUTER_ENDPOINT": "https://acs"}, "JOBROUTER_ENDPOINT and AZURE_CLIENT_ID"),
        ({}, "JOBROUTER_CONNECTION_STRING or JOBROUTER_ENDPOINT"),
    ],
    ids=["key", "entra", "none"],
)
def test_auth_settings_names_what_to_check_on_a_401(env: dict[str, str], names: str) -> None:
    assert load_settings(ROOT, env).auth_settings.startswith(names)


def test_opentelemetry_mode_is_off_unless_the_worker_setting_turns_it_on() -> None:
    assert load_settings(ROOT, {}).opentelemetry is False


@pytest.mark.parametrize(
    ("value", "on"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("no", False),
    ],
)
def test_the_telemetry_switch_reads_the_values_the_worker_reads(value: str, on: bool) -> None:
    settings = load_settings(ROOT, {"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": value})

    assert settings.opentelemetry is on


def test_an_unreadable_telemetry_switch_names_the_setting() -> None:
    with pytest.raises(
        ConfigurationError, match="PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY must be true or false"
    ) as caught:
        load_settings(ROOT, {"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "maybe"})

    assert caught.value.setting == "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"


@pytest.mark.parametrize(
    ("env", "timeout", "retries"),
    [
        ({"JOBROUTER_REQUEST_TIMEOUT_SECONDS": "25", "JOBROUTER_MAX_RETRIES": "5"}, 25.0, 5),
        ({"JOBROUTER_REQUEST_TIMEOUT_SECONDS": "0.5", "JOBROUTER_MAX_RETRIES": "1"}, 0.5, 1),
    ],
    ids=["the-largest", "under-a-second-and-one-retry"],
)
def test_budgets_are_read_up_to_and_including_their_limits(
    env: dict[str, str], timeout: float, retries: int
) -> None:
    settings = load_settings(ROOT, env)

    assert (settings.request_timeout, settings.max_retries) == (timeout, retries)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "JOBROUTER_REQUEST_TIMEOUT_SECONDS",
            "25.5",
            "JOBROUTER_REQUEST_TIMEOUT_SECONDS must be a number of seconds above 0 and at most 25",
        ),
        ("JOBROUTER_MAX_RETRIES", "9", "JOBROUTER_MAX_RETRIES must be a whole number from 0 to 5"),
    ],
    ids=["timeout", "retries"],
)
def test_an_out_of_range_budget_says_what_is_allowed(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(ROOT, {name: value})

    assert str(caught.value) == message


def test_inline_and_file_policy_together_name_both_settings() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(ROOT, {"OFFER_POLICY": "{}", "OFFER_POLICY_FILE": "p.json"})

    assert caught.value.setting == "OFFER_POLICY, OFFER_POLICY_FILE"


def test_azure_client_id_is_read_for_a_user_assigned_identity() -> None:
    settings = load_settings(ROOT, {"JOBROUTER_ENDPOINT": "https://acs", "AZURE_CLIENT_ID": " 5b1e-client "})

    assert (settings.endpoint, settings.client_id) == ("https://acs", "5b1e-client")
    assert load_settings(ROOT, {}).client_id is None
