"""RouterRule on the wire: every rule kind validated and echoed as the service stores it (pure).

``normalize_rule`` checks one rule where the API allows one (a prioritization rule, a condition, a
``ruleEngine`` attachment's rule, a best-worker scoring rule) and returns it with the service's defaults
and key order (``expression`` gains ``language: "powerFx"``, as recorded). ``remote_rule`` reads a stored
``function`` or ``webhook`` rule into the frozen target the rule caller needs; its secrets never appear in
a ``repr``. What a rule *yields* is decided later, when it runs (docs/emulator-support-matrix.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.resource_fields import json_integer
from devstack.jobrouter.wire import JsonObject, normalize_numbers

__all__ = [
    "REMOTE_RULE_KINDS",
    "RULE_KINDS",
    "FunctionRule",
    "RemoteRule",
    "RulePosition",
    "WebhookRule",
    "normalize_rule",
    "redacted_url",
    "remote_rule",
]

#: Where a rule sits, which decides what it must yield.
type RulePosition = Literal["priority", "condition", "selectors", "scoring"]

RULE_KINDS: Final = ("directMap", "expression", "function", "static", "webhook")
#: Rule kinds the emulator runs by calling out over HTTP.
REMOTE_RULE_KINDS: Final = frozenset({"function", "webhook"})
_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "directMap": frozenset({"kind"}),
    "expression": frozenset({"kind", "language", "expression"}),
    "function": frozenset({"kind", "functionUri", "credential"}),
    "static": frozenset({"kind", "value"}),
    "webhook": frozenset({"kind", "authorizationServerUri", "clientCredential", "webhookUri"}),
}
_FUNCTION_CREDENTIAL: Final = ("functionKey", "appKey", "clientId")
_CLIENT_CREDENTIAL: Final = ("clientId", "clientSecret")


def _object(value: Any, field_name: str) -> JsonObject:
    if not isinstance(value, dict):
        raise BadRequest(f"'{field_name}' must be a JSON object, got {type(value).__name__}")
    return value


def _known_fields(
    value: Mapping[str, Any], allowed: frozenset[str] | tuple[str, ...], field_name: str
) -> None:
    unknown = sorted(k for k in value if k not in allowed)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(repr(u) for u in unknown)} in '{field_name}'; "
            f"its fields are {', '.join(sorted(allowed))}"
        )


def _text(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"'{field_name}' must be a non-empty string, got {value!r}")
    return value


def _url(value: Any, field_name: str) -> str:
    text = _text(value, field_name)
    try:
        parts = urlsplit(text)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        parts = urlsplit("")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"'{field_name}' must be an absolute http(s) URL, got {redacted_url(text)!r}")
    return text


def redacted_url(url: str) -> str:
    """``scheme://host[:port]/path`` of a URL: the query (a function's ``?code=``) and user info dropped."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<malformed URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<relative URL>"


def _credential(value: Any, keys: tuple[str, ...], field_name: str) -> JsonObject:
    credential = _object(value, field_name)
    _known_fields(credential, keys, field_name)
    return {k: _text(credential[k], f"{field_name}.{k}") for k in keys if credential.get(k) is not None}


def _expression(rule: Mapping[str, Any], field_name: str) -> JsonObject:
    language = rule.get("language", "powerFx")
    if not isinstance(language, str) or language.lower() != "powerfx":
        raise BadRequest(f"'{field_name}.language' must be powerFx, got {language!r}")
    expression = rule.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise BadRequest(f"'{field_name}.expression' must be a non-empty string, got {expression!r}")
    # Stored as sent: a Power Fx error surfaces when the rule runs, as a classification failure.
    return {"kind": "expression", "language": "powerFx", "expression": expression}


def _function(rule: Mapping[str, Any], field_name: str) -> JsonObject:
    out: JsonObject = {
        "kind": "function",
        "functionUri": _url(rule.get("functionUri"), f"{field_name}.functionUri"),
    }
    if rule.get("credential") is not None:
        out["credential"] = _credential(rule["credential"], _FUNCTION_CREDENTIAL, f"{field_name}.credential")
    return out


def _webhook(rule: Mapping[str, Any], field_name: str) -> JsonObject:
    out: JsonObject = {"kind": "webhook"}
    if rule.get("authorizationServerUri") is not None:
        out["authorizationServerUri"] = _url(
            rule["authorizationServerUri"], f"{field_name}.authorizationServerUri"
        )
    if rule.get("clientCredential") is not None:
        out["clientCredential"] = _credential(
            rule["clientCredential"], _CLIENT_CREDENTIAL, f"{field_name}.clientCredential"
        )
    if rule.get("webhookUri") is not None:
        out["webhookUri"] = _url(rule["webhookUri"], f"{field_name}.webhookUri")
    return out


def _static(rule: Mapping[str, Any], field_name: str, position: RulePosition) -> JsonObject:
    out: JsonObject = {"kind": "static"}
    if "value" in rule:
        out["value"] = normalize_numbers(rule["value"])
    if position == "priority":
        json_integer(out.get("value"), f"{field_name}.value")
    return out


def normalize_rule(value: Any, field_name: str, position: RulePosition) -> JsonObject:
    """The rule as the service echoes it; a malformed rule is a BadRequest naming the field."""
    rule = _object(value, field_name)
    kind = rule.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise BadRequest(f"'{field_name}.kind' must be one of {', '.join(RULE_KINDS)}; got {kind!r}")
    _known_fields(rule, _FIELDS[kind], field_name)
    match kind:
        case "directMap":
            if position != "selectors":
                raise BadRequest(
                    f"'{field_name}': a directMap rule returns the job's labels, so it can only be used in "
                    "a ruleEngine selector attachment"
                )
            return {"kind": "directMap"}
        case "expression":
            return _expression(rule, field_name)
        case "function":
            return _function(rule, field_name)
        case "webhook":
            return _webhook(rule, field_name)
        case _:
            return _static(rule, field_name, position)


@dataclass(frozen=True, slots=True)
class FunctionRule:
    """An HTTP-triggered Azure Function a rule calls: its URL and the key that authorises the call."""

    function_uri: str
    function_key: str | None = field(default=None, repr=False)
    app_key: str | None = field(default=None, repr=False)
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookRule:
    """A web server a rule calls with a bearer token obtained by OAuth 2.0 client credentials."""

    webhook_uri: str | None
    authorization_server_uri: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)


type RemoteRule = FunctionRule | WebhookRule


def remote_rule(rule: Mapping[str, Any]) -> RemoteRule | None:
    """The call target of a stored ``function``/``webhook`` rule; None for any other kind."""
    if rule.get("kind") == "function":
        credential: Mapping[str, Any] = rule.get("credential") or {}
        return FunctionRule(
            function_uri=str(rule["functionUri"]),
            function_key=credential.get("functionKey"),
            app_key=credential.get("appKey"),
            client_id=credential.get("clientId"),
        )
    if rule.get("kind") == "webhook":
        client: Mapping[str, Any] = rule.get("clientCredential") or {}
        return WebhookRule(
            webhook_uri=rule.get("webhookUri"),
            authorization_server_uri=rule.get("authorizationServerUri"),
            client_id=client.get("clientId"),
            client_secret=client.get("clientSecret"),
        )
    return None
