"""Calls ``function`` and ``webhook`` rules over HTTP, as Job Router does, and reads their JSON answer.

A ``function`` rule is a POST of the rule's payload (JSON) to ``functionUri`` with the Azure Functions key
headers: ``x-functions-key: <functionKey>``, or ``x-functions-key: <appKey>`` with
``x-functions-clientid: <clientId>`` (the key's name). A ``webhook`` rule first gets a token from
``authorizationServerUri`` with the OAuth 2.0 client-credentials grant (form fields ``grant_type``,
``client_id``, ``client_secret``), caches it until shortly before ``expires_in``, then POSTs the payload to
``webhookUri`` with ``Authorization: Bearer <token>``. The answer must be a 2xx whose body is JSON (``10``,
``true``, ``[...]``); anything else, a redirect, a timeout or a refused connection is a
:class:`RuleCallError`. Errors and logs name the URL without its query, never a key, secret or token.
Where each detail comes from: docs/emulator-support-matrix.md, "Function and webhook rules".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Final, Protocol

import aiohttp

from devstack.jobrouter.router_rules import FunctionRule, RemoteRule, WebhookRule, redacted_url

__all__ = [
    "DEFAULT_RULE_TIMEOUT_SECONDS",
    "HttpRuleCaller",
    "RuleCallError",
    "RuleCaller",
]

_log = logging.getLogger(__name__)

#: How long one rule call (token request included) may take before it counts as failed (inferred).
DEFAULT_RULE_TIMEOUT_SECONDS: Final = 10.0
#: A cached webhook token is renewed this long before it expires.
_TOKEN_MARGIN_SECONDS: Final = 30.0
#: Tokens without ``expires_in`` are reused for this long.
_TOKEN_DEFAULT_LIFETIME_SECONDS: Final = 300.0
#: At most this much of an answer is read (a rule's answer is a number, a boolean or a short list).
_MAX_ANSWER_BYTES: Final = 1_048_576


class RuleCallError(Exception):
    """A function or webhook rule call failed; the message says which URL and why, without secrets."""


class RuleCaller(Protocol):
    """Calls one remote rule with a JSON payload and returns its decoded JSON answer."""

    async def call(self, rule: RemoteRule, payload: Mapping[str, Any]) -> Any:
        """POST ``payload`` to the rule's URL; raises :class:`RuleCallError`."""
        ...


def _function_headers(rule: FunctionRule) -> dict[str, str]:
    if rule.function_key is not None:
        return {"x-functions-key": rule.function_key}
    if rule.app_key is not None:
        headers = {"x-functions-key": rule.app_key}
        if rule.client_id is not None:
            headers["x-functions-clientid"] = rule.client_id
        return headers
    return {}


class HttpRuleCaller:
    """:class:`RuleCaller` over one aiohttp session (opened on first use; ``close()`` it)."""

    def __init__(self, *, timeout: float = DEFAULT_RULE_TIMEOUT_SECONDS) -> None:
        if timeout <= 0:
            raise ValueError(f"the rule call timeout must be > 0, got {timeout}")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        # (token URL, client id, client secret) -> (token, monotonic time it stops being used)
        self._tokens: dict[tuple[str, str | None, str | None], tuple[str, float]] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(raise_for_status=False)
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def call(self, rule: RemoteRule, payload: Mapping[str, Any]) -> Any:
        """POST ``payload`` to the rule's URL and return its JSON answer, within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                if isinstance(rule, FunctionRule):
                    return await self._post(rule.function_uri, payload, _function_headers(rule), "function")
                return await self._webhook(rule, payload)
        except TimeoutError:
            url = rule.function_uri if isinstance(rule, FunctionRule) else (rule.webhook_uri or "")
            raise RuleCallError(
                f"the call to {redacted_url(url)} did not answer within {self.timeout:g} s"
            ) from None

    async def _webhook(self, rule: WebhookRule, payload: Mapping[str, Any]) -> Any:
        if rule.webhook_uri is None:
            raise RuleCallError("the webhook rule has no webhookUri")
        headers: dict[str, str] = {}
        if rule.authorization_server_uri is not None:
            headers["Authorization"] = f"Bearer {await self._token(rule)}"
        return await self._post(rule.webhook_uri, payload, headers, "webhook")

    async def _token(self, rule: WebhookRule) -> str:
        assert rule.authorization_server_uri is not None
        key = (rule.authorization_server_uri, rule.client_id, rule.client_secret)
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        form = {"grant_type": "client_credentials"}
        if rule.client_id is not None:
            form["client_id"] = rule.client_id
        if rule.client_secret is not None:
            form["client_secret"] = rule.client_secret
        where = redacted_url(rule.authorization_server_uri)
        answer = await self._exchange(rule.authorization_server_uri, where, "token request", data=form)
        token, lifetime = _read_token(answer, where)
        self._tokens[key] = (token, time.monotonic() + max(lifetime - _TOKEN_MARGIN_SECONDS, 0.0))
        return token

    async def _post(self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str], what: str) -> Any:
        where = redacted_url(url)
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        sent = {"Content-Type": "application/json; charset=utf-8", **headers}
        return await self._exchange(url, where, f"{what} rule call", data=body.encode("utf-8"), headers=sent)

    async def _exchange(
        self,
        url: str,
        where: str,
        what: str,
        *,
        data: bytes | Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST and decode the JSON answer; every failure is a RuleCallError naming ``where``."""
        try:
            async with self._client().post(
                url, data=data, headers=headers, allow_redirects=False
            ) as response:
                raw = await response.content.read(_MAX_ANSWER_BYTES + 1)
                status = response.status
        except aiohttp.ClientError as error:
            raise RuleCallError(f"the {what} to {where} failed: {type(error).__name__}") from None
        _log.debug("%s to %s answered %s (%d bytes)", what, where, status, len(raw))
        if not 200 <= status < 300:
            raise RuleCallError(f"the {what} to {where} answered HTTP {status}")
        if len(raw) > _MAX_ANSWER_BYTES:
            raise RuleCallError(f"the {what} to {where} answered more than {_MAX_ANSWER_BYTES} bytes")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            shown = raw[:40].decode("utf-8", "replace")
            raise RuleCallError(
                f"the {what} to {where} answered a body that is not JSON: {shown!r}"
            ) from None


def _read_token(answer: Any, where: str) -> tuple[str, float]:
    """The access token and its lifetime in seconds from an OAuth 2.0 token response."""
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise RuleCallError(f"the token response from {where} has no access_token")
    token_type = answer.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise RuleCallError(f"the token response from {where} is not a bearer token ({token_type!r})")
    lifetime = answer.get("expires_in", _TOKEN_DEFAULT_LIFETIME_SECONDS)
    try:
        seconds = float(lifetime)
    except (TypeError, ValueError):
        seconds = _TOKEN_DEFAULT_LIFETIME_SECONDS
    return answer["access_token"], seconds
