"""How the emulator calls function and webhook rules over HTTP: headers, token, answer, failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.jobrouter.router_rules import FunctionRule, WebhookRule
from devstack.jobrouter.rule_http import HttpRuleCaller, RuleCallError
from tests.emulator.rule_endpoints import FUNCTION_KEY, RuleEndpointsThread


@pytest.fixture(scope="module")
def endpoints() -> Iterator[RuleEndpointsThread]:
    with RuleEndpointsThread(slow_seconds=3.0) as running:
        yield running


def call(rule: FunctionRule | WebhookRule, payload: dict[str, Any], *, timeout: float = 5.0) -> Any:
    async def main() -> Any:
        caller = HttpRuleCaller(timeout=timeout)
        try:
            return await caller.call(rule, payload)
        finally:
            await caller.close()

    return asyncio.run(main())


def test_a_function_rule_posts_the_payload_as_json_with_the_function_key(
    endpoints: RuleEndpointsThread,
) -> None:
    rule = FunctionRule(endpoints.url("/api/priority"), function_key=FUNCTION_KEY)
    assert call(rule, {"job": {"Escalated": True}}) == 10
    sent = endpoints.calls_to("/api/priority")[-1]
    assert sent.headers["x-functions-key"] == FUNCTION_KEY
    assert sent.headers["content-type"].startswith("application/json")
    assert sent.json() == {"job": {"Escalated": True}}


def test_an_app_key_goes_with_its_key_name_as_the_client_id(endpoints: RuleEndpointsThread) -> None:
    rule = FunctionRule(endpoints.url("/api/priority"), app_key="app-key", client_id="default")
    assert call(rule, {"job": {}}) == 1
    sent = endpoints.calls_to("/api/priority")[-1]
    assert (sent.headers["x-functions-key"], sent.headers["x-functions-clientid"]) == ("app-key", "default")


def test_a_wrong_function_key_is_a_call_error_naming_the_status_but_not_the_key(
    endpoints: RuleEndpointsThread,
) -> None:
    rule = FunctionRule(endpoints.url("/api/priority") + "?code=query-secret", function_key="wrong-key")
    with pytest.raises(RuleCallError) as raised:
        call(rule, {"job": {}})
    message = str(raised.value)
    assert "HTTP 401" in message
    assert endpoints.url("/api/priority") in message
    assert "wrong-key" not in message
    assert "query-secret" not in message


def test_a_webhook_rule_gets_a_client_credentials_token_first_and_sends_it_as_a_bearer(
    endpoints: RuleEndpointsThread,
) -> None:
    rule = WebhookRule(
        webhook_uri=endpoints.url("/hook/priority"),
        authorization_server_uri=endpoints.url("/oauth/token"),
        client_id="router",
        client_secret="s3cret",
    )
    assert call(rule, {"job": {"Escalated": True}}) == 10
    token_request = endpoints.calls_to("/oauth/token")[-1]
    assert token_request.form() == {
        "grant_type": "client_credentials",
        "client_id": "router",
        "client_secret": "s3cret",
    }
    hook = endpoints.calls_to("/hook/priority")[-1]
    assert hook.headers["authorization"] == f"Bearer {endpoints.tokens_issued[-1]}"


def test_a_webhook_token_is_reused_until_it_nears_expiry(endpoints: RuleEndpointsThread) -> None:
    rule = WebhookRule(
        webhook_uri=endpoints.url("/hook/priority"),
        authorization_server_uri=endpoints.url("/oauth/token"),
        client_id="router",
        client_secret="s3cret",
    )

    async def twice() -> list[Any]:
        caller = HttpRuleCaller()
        try:
            return [await caller.call(rule, {"job": {}}), await caller.call(rule, {"job": {}})]
        finally:
            await caller.close()

    before = len(endpoints.tokens_issued)
    assert asyncio.run(twice()) == [1, 1]
    assert len(endpoints.tokens_issued) == before + 1


def test_a_refused_token_request_is_a_call_error_without_the_secret(endpoints: RuleEndpointsThread) -> None:
    rule = WebhookRule(
        webhook_uri=endpoints.url("/hook/priority"),
        authorization_server_uri=endpoints.url("/oauth/token"),
        client_id="router",
        client_secret="not-the-secret",
    )
    with pytest.raises(RuleCallError) as raised:
        call(rule, {"job": {}})
    assert "token request" in str(raised.value)
    assert "HTTP 401" in str(raised.value)
    assert "not-the-secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/fail", "HTTP 500"), ("/not-json", "not JSON"), ("/missing", "HTTP 404")],
    ids=["server-error", "not-json", "not-found"],
)
def test_an_answer_that_is_not_a_2xx_json_body_is_a_call_error(
    endpoints: RuleEndpointsThread, path: str, expected: str
) -> None:
    with pytest.raises(RuleCallError, match=expected):
        call(FunctionRule(endpoints.url(path)), {"job": {}})


def test_a_function_that_does_not_answer_in_time_is_a_call_error_not_a_hang(
    endpoints: RuleEndpointsThread,
) -> None:
    started = time.monotonic()
    with pytest.raises(RuleCallError, match=r"did not answer within 0\.3 s"):
        call(FunctionRule(endpoints.url("/slow")), {"job": {}}, timeout=0.3)
    assert time.monotonic() - started < 2.5


def test_a_refused_connection_is_a_call_error() -> None:
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    with pytest.raises(RuleCallError, match="failed"):
        call(FunctionRule("http://127.0.0.1:9/api/priority"), {"job": {}})


def test_a_webhook_rule_without_a_uri_is_a_call_error() -> None:
    with pytest.raises(RuleCallError, match="no webhookUri"):
        call(WebhookRule(webhook_uri=None), {"job": {}})


def test_rule_secrets_never_show_in_a_repr() -> None:
    shown = repr(FunctionRule("https://f/api", function_key="k1", app_key="k2")) + repr(
        WebhookRule("https://h", client_secret="k3")
    )
    assert not any(secret in shown for secret in ("k1", "k2", "k3"))
