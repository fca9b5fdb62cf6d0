"""The host's HTTP trigger contract as pure functions: route table, route matching and the key check.

Each ``httpTrigger`` function is served at ``/api/<route>`` (the binding's ``route``, else the function
name), for the binding's ``methods`` (all when absent). A route template is a ``/``-separated list of
literal segments (matched case-insensitively, as ASP.NET routing does) and parameters: ``{name}``,
``{name:constraint}`` (the constraint is not checked), ``{name?}`` (optional, last) and ``{*name}`` (the
rest of the path). ``authLevel`` ``ANONYMOUS`` needs no key; ``FUNCTION`` and ``ADMIN`` need the key in the
``x-functions-key`` header or the ``code`` query parameter (the stand-in has one key, see
docs/functions-host.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from devstack.functions_worker import HTTP_TRIGGER, FunctionInfo

__all__ = ["ROUTE_PREFIX", "HttpRoute", "http_routes", "is_authorized", "match_route"]

ROUTE_PREFIX: Final = "/api/"
KEY_HEADER: Final = "x-functions-key"
KEY_QUERY: Final = "code"


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """One HTTP function's route."""

    function_name: str
    template: str
    methods: frozenset[str] | None
    """Upper-case methods it accepts; None: every method."""
    auth_level: str
    """``ANONYMOUS``, ``FUNCTION`` or ``ADMIN``."""

    @property
    def segments(self) -> tuple[str, ...]:
        """The route template's path segments."""
        return tuple(part for part in self.template.strip("/").split("/") if part)


def http_routes(functions: Iterable[FunctionInfo]) -> tuple[HttpRoute, ...]:
    """The routes of the app's ``httpTrigger`` functions, in indexing order."""
    routes = []
    for info in functions:
        if info.trigger_type != HTTP_TRIGGER:
            continue
        trigger = info.trigger
        methods = trigger.get("methods")
        route = trigger.get("route")
        routes.append(
            HttpRoute(
                function_name=info.name,
                template=str(route) if route else info.name,
                methods=frozenset(str(m).upper() for m in methods) if isinstance(methods, list) else None,
                auth_level=str(trigger.get("authLevel") or "FUNCTION").upper(),
            )
        )
    return tuple(routes)


def match_route(
    routes: Iterable[HttpRoute], method: str, path: str
) -> tuple[HttpRoute, dict[str, str]] | None:
    """The route serving ``method`` on ``path`` (the part after ``/api/``) and its parameters, or None."""
    parts = [part for part in path.strip("/").split("/") if part]
    for route in routes:
        if route.methods is not None and method.upper() not in route.methods:
            continue
        params = _bind(route.segments, parts)
        if params is not None:
            return route, params
    return None


def _bind(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.startswith("{*") and segment.endswith("}"):
            params[_param_name(segment[2:-1])] = "/".join(parts[index:])
            return params
        if index >= len(parts):
            return params if segment.endswith("?}") and index == len(segments) - 1 else None
        if segment.startswith("{") and segment.endswith("}"):
            params[_param_name(segment[1:-1])] = parts[index]
        elif segment.lower() != parts[index].lower():
            return None
    return params if len(parts) == len(segments) else None


def _param_name(text: str) -> str:
    return text.split(":", 1)[0].rstrip("?")


def is_authorized(
    route: HttpRoute, headers: Mapping[str, str], query: Mapping[str, str], function_key: str
) -> bool:
    """Whether the request carries the key the route's auth level asks for."""
    if route.auth_level == "ANONYMOUS":
        return True
    given = headers.get(KEY_HEADER) or query.get(KEY_QUERY) or ""
    return hmac.compare_digest(given.encode(), function_key.encode())
