"""The health report, check by check: what each check says when it passes, what a failing one names, and
how the checks after a failure are skipped. Settings, policy loader and Job Router are fakes here;
tests/functional/test_health.py runs the same report through the worker and against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from offer_handlers.errors import ConfigurationError
from offer_handlers.execute import OfferResponder
from offer_handlers.health import HealthCheck, HealthReport, check_health
from offer_handlers.settings import Settings
from tests.fixtures.fakes import FakeResponder, http_error

CONNECTION_STRING = "JOBROUTER_CONNECTION_STRING"
SETTINGS = Settings(app_root=Path("/app"), connection_string="endpoint=http://127.0.0.1:9/;accesskey=a2V5")
SETTINGS_OK = HealthCheck("settings", True, "every setting reads and validates")
POLICY_OK = HealthCheck("policy", True, "no policy set: every offer is accepted")
JOBROUTER_OK = HealthCheck("jobrouter", True, "Job Router accepted the credentials")


def settings_loader(settings: Settings = SETTINGS) -> Callable[[], Settings]:
    return lambda: settings


def raising(error: Exception) -> Callable[[], NoReturn]:
    def load() -> NoReturn:
        raise error

    return load


def no_policy() -> object:
    return None


def answering(*failures: AzureError) -> Callable[[], OfferResponder]:
    """A responder whose access check raises ``failures`` (as the SDK would), then returns."""
    responder = FakeResponder(failures)
    return lambda: responder


def health(
    *,
    load_settings: Callable[[], Settings] | None = None,
    load_policy: Callable[[], object] = no_policy,
    responder: Callable[[], OfferResponder] | None = None,
) -> HealthReport:
    """The report with SETTINGS, no policy and a Job Router that answers, unless told otherwise."""
    return check_health(
        load_settings=load_settings or settings_loader(),
        load_policy=load_policy,
        responder=responder or answering(),
    )


def test_when_every_check_passes_each_says_what_it_checked() -> None:
    report = health()

    assert report.checks == (SETTINGS_OK, POLICY_OK, JOBROUTER_OK)
    assert (report.healthy, report.status_code) == (True, 200)


def test_the_access_check_is_one_probe_with_a_ten_second_budget() -> None:
    responder = FakeResponder()

    health(responder=lambda: responder)

    assert [(call.method, call.timeout) for call in responder.calls] == [("check_access", 10.0)]


@pytest.mark.parametrize(
    ("settings", "detail"),
    [
        (Settings(app_root=Path("/app"), decider="plugins.vip:decide"), "the OFFER_DECIDER plug-in loads"),
        (Settings(app_root=Path("/app"), policy_text="{}"), "the OFFER_POLICY policy loads"),
        (
            Settings(app_root=Path("/app"), policy_file=Path("/app/p.json")),
            "the OFFER_POLICY_FILE policy loads",
        ),
        (Settings(app_root=Path("/app")), "no policy set: every offer is accepted"),
        (
            Settings(app_root=Path("/app"), decider="plugins.vip:decide", policy_file=Path("/app/p.json")),
            "the OFFER_DECIDER plug-in loads",
        ),
        (
            Settings(app_root=Path("/app"), policy_text="{}", policy_file=Path("/app/p.json")),
            "the OFFER_POLICY policy loads",
        ),
    ],
    ids=["decider", "policy-text", "policy-file", "none", "decider-first", "policy-text-before-file"],
)
def test_the_policy_check_names_the_source_the_handler_decides_with(settings: Settings, detail: str) -> None:
    report = health(load_settings=settings_loader(settings))

    assert report.checks[1] == HealthCheck("policy", True, detail)


def test_a_404_from_the_probe_means_job_router_accepted_the_credentials() -> None:
    report = health(responder=answering(http_error(ResourceNotFoundError, 404)))

    assert report.checks == (SETTINGS_OK, POLICY_OK, JOBROUTER_OK)
    assert report.healthy


def test_a_refused_credential_fails_the_job_router_check_naming_the_setting() -> None:
    report = health(responder=answering(http_error(ClientAuthenticationError, 401)))

    assert report.checks[2] == HealthCheck(
        "jobrouter",
        False,
        f"Job Router refused the credentials (HTTP 401); check {CONNECTION_STRING}",
        CONNECTION_STRING,
    )
    assert (report.healthy, report.status_code) == (False, 503)


def test_a_server_error_fails_the_job_router_check_with_its_status_and_no_setting() -> None:
    report = health(responder=answering(http_error(HttpResponseError, 503)))

    assert report.checks[2] == HealthCheck(
        "jobrouter", False, "Job Router answered HTTP 503; try again later"
    )


def test_no_answer_at_all_fails_the_job_router_check_naming_the_endpoint_setting() -> None:
    report = health(responder=answering(ServiceRequestError("connection refused")))

    assert report.checks[2] == HealthCheck(
        "jobrouter",
        False,
        f"Job Router could not be reached; check the endpoint in {CONNECTION_STRING}",
        CONNECTION_STRING,
    )


def test_a_client_that_cannot_be_built_fails_the_job_router_check_with_its_message() -> None:
    missing = ConfigurationError("set JOBROUTER_CONNECTION_STRING", setting=CONNECTION_STRING)

    report = health(responder=raising(missing))  # the factory itself fails

    assert report.checks[2] == HealthCheck(
        "jobrouter", False, "set JOBROUTER_CONNECTION_STRING", CONNECTION_STRING
    )


def test_settings_that_do_not_validate_fail_first_and_skip_the_other_checks() -> None:
    error = ConfigurationError(
        "JOBROUTER_MAX_RETRIES must be a whole number", setting="JOBROUTER_MAX_RETRIES"
    )
    responder = FakeResponder()

    report = health(load_settings=raising(error), responder=lambda: responder)

    assert report.checks == (
        HealthCheck(
            "settings", False, "JOBROUTER_MAX_RETRIES must be a whole number", "JOBROUTER_MAX_RETRIES"
        ),
        HealthCheck("policy", False, "not run: the settings check failed"),
        HealthCheck("jobrouter", False, "not run: the settings check failed"),
    )
    assert responder.calls == []


def test_a_policy_that_does_not_load_skips_the_job_router_check() -> None:
    error = ConfigurationError("policy: not valid JSON", setting="OFFER_POLICY")

    report = health(load_policy=raising(error))

    assert report.checks == (
        SETTINGS_OK,
        HealthCheck("policy", False, "policy: not valid JSON", "OFFER_POLICY"),
        HealthCheck("jobrouter", False, "not run: the policy check failed"),
    )


def test_an_unexpected_error_is_reported_by_type_only_never_by_its_message() -> None:
    report = health(load_policy=raising(KeyError("secret-looking text")))

    assert report.checks[1] == HealthCheck("policy", False, "unexpected KeyError; see the function's log")
    assert "secret-looking text" not in report.to_json()
