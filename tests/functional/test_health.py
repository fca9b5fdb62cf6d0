"""The health function through the worker library and through the host stand-in, against the emulator:
healthy with the right key; unhealthy, naming JOBROUTER_CONNECTION_STRING, with a wrong key or an
endpoint nothing listens on; never a secret in the body."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from devstack.functions_host import FunctionsHost
from devstack.functions_worker import HttpRequestData, WorkerApp
from devstack.jobrouter import EmulatorConfig, EmulatorThread
from offer_handlers.settings import SETTING_NAMES
from tests.fixtures import REPO_ROOT

WRONG_KEY = base64.b64encode(b"not-the-emulator-key-but-well-formed").decode()
FUNCTION_KEY = "local-test-function-key"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig()) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


def connection_string(endpoint: str, key: str) -> str:
    return f"endpoint={endpoint}/;accesskey={key}"


def health_through_the_worker(monkeypatch: pytest.MonkeyPatch, **settings: str) -> tuple[int, dict[str, Any]]:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    app = WorkerApp.load(REPO_ROOT)  # a fresh function_app, so a fresh handler
    try:
        request = HttpRequestData("GET", "http://127.0.0.1/api/health", headers={})
        result = asyncio.run(app.invoke_http("health", request))
    finally:
        app.close()
    assert result.ok, result.error
    assert result.response is not None
    assert result.response.headers["content-type"].startswith("application/json")
    return result.response.status, json.loads(result.response.body)


def failing(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(c["name"], c["setting"]) for c in body["checks"] if not c["ok"]]


def test_the_worker_indexes_health_as_a_get_http_function_behind_a_function_key() -> None:
    app = WorkerApp.load(REPO_ROOT)
    try:
        trigger = app.functions["health"].trigger
    finally:
        app.close()
    assert (trigger["type"], trigger["route"], trigger["methods"], trigger["authLevel"]) == (
        "httpTrigger",
        "health",
        ["GET"],
        "FUNCTION",
    )


def test_with_the_right_key_every_check_passes(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = health_through_the_worker(
        monkeypatch,
        JOBROUTER_CONNECTION_STRING=connection_string(emulator.endpoint, emulator.emulator.config.access_key),
    )

    assert status == 200
    assert body["status"] == "healthy"
    assert [(c["name"], c["ok"]) for c in body["checks"]] == [
        ("settings", True),
        ("policy", True),
        ("jobrouter", True),
    ]


def test_a_wrong_access_key_is_unhealthy_naming_the_connection_string_setting(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = health_through_the_worker(
        monkeypatch, JOBROUTER_CONNECTION_STRING=connection_string(emulator.endpoint, WRONG_KEY)
    )

    assert status == 503
    assert body["status"] == "unhealthy"
    assert failing(body) == [("jobrouter", "JOBROUTER_CONNECTION_STRING")]
    (check,) = [c for c in body["checks"] if c["name"] == "jobrouter"]
    assert "HTTP 401" in check["detail"]
    assert WRONG_KEY not in json.dumps(body)


def test_an_unreachable_endpoint_is_unhealthy_naming_the_setting_to_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, body = health_through_the_worker(
        monkeypatch,
        JOBROUTER_CONNECTION_STRING=connection_string("http://127.0.0.1:9", WRONG_KEY),
        JOBROUTER_MAX_RETRIES="0",
    )

    assert status == 503
    assert failing(body) == [("jobrouter", "JOBROUTER_CONNECTION_STRING")]
    assert "could not be reached" in body["checks"][2]["detail"]


def test_a_bad_policy_fails_the_policy_check_and_skips_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = health_through_the_worker(
        monkeypatch,
        JOBROUTER_CONNECTION_STRING=connection_string("http://127.0.0.1:9", WRONG_KEY),
        OFFER_POLICY='{"version": 1, "rules": [{"name": "r"}], "default": {"action": "accept"}}',
    )

    assert status == 503
    assert failing(body) == [("policy", "OFFER_POLICY"), ("jobrouter", None)]
    assert body["checks"][2]["detail"] == "not run: the policy check failed"


def test_a_missing_connection_setting_names_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = health_through_the_worker(monkeypatch)

    assert status == 503
    assert failing(body) == [("jobrouter", "JOBROUTER_CONNECTION_STRING, JOBROUTER_ENDPOINT")]


# --- through the host stand-in, over loopback HTTP ---------------------------------------------------------


def health_over_http(settings: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    async def run() -> tuple[int, str]:
        host = FunctionsHost(REPO_ROOT, {"DEVSTACK_FUNCTION_KEY": FUNCTION_KEY, **settings})
        async with (
            host,
            aiohttp.ClientSession() as session,
            session.get(host.http_url("health"), headers=headers) as response,
        ):
            return response.status, await response.text()

    return asyncio.run(run())


def test_the_host_serves_health_to_a_caller_with_the_function_key(emulator: EmulatorThread) -> None:
    good = connection_string(emulator.endpoint, emulator.emulator.config.access_key)

    status, text = health_over_http({"JOBROUTER_CONNECTION_STRING": good}, {"x-functions-key": FUNCTION_KEY})

    assert status == 200
    assert json.loads(text)["status"] == "healthy"


def test_the_host_reports_a_wrong_access_key_as_503(emulator: EmulatorThread) -> None:
    wrong = connection_string(emulator.endpoint, WRONG_KEY)

    status, text = health_over_http({"JOBROUTER_CONNECTION_STRING": wrong}, {"x-functions-key": FUNCTION_KEY})

    assert status == 503
    assert failing(json.loads(text)) == [("jobrouter", "JOBROUTER_CONNECTION_STRING")]


def test_the_host_reports_an_unreachable_endpoint_as_503() -> None:
    settings = {
        "JOBROUTER_CONNECTION_STRING": connection_string("http://127.0.0.1:9", WRONG_KEY),
        "JOBROUTER_MAX_RETRIES": "0",
    }

    status, text = health_over_http(settings, {"x-functions-key": FUNCTION_KEY})

    assert status == 503
    assert failing(json.loads(text)) == [("jobrouter", "JOBROUTER_CONNECTION_STRING")]


@pytest.mark.parametrize("headers", [{}, {"x-functions-key": "wrong"}], ids=["no-key", "wrong-key"])
def test_the_host_refuses_health_without_the_function_key(
    emulator: EmulatorThread, headers: dict[str, str]
) -> None:
    good = connection_string(emulator.endpoint, emulator.emulator.config.access_key)

    status, text = health_over_http({"JOBROUTER_CONNECTION_STRING": good}, headers)

    assert (status, text) == (401, "")
