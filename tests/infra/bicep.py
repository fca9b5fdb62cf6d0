"""Typed views over pycep's JSON rendering of a Bicep file, for the structural tests.

pycep (the parser checkov uses) turns a Bicep file into nested dicts: ``parameters``, ``variables``,
``resources``, ``modules``, ``outputs``. Expressions stay as trees: a function call is
``{"function": {"type": "concat", "parameters": {"arg_1": ..., ...}}}``, an operator is
``{"operator": {"type": "conditional", "operands": {"condition": ..., "true_value": ..., ...}}}``, and
a conditional resource or module wraps its body as ``{"condition": ..., "config": {...}}``.

Limits, stated plainly:
- An identifier and a string literal render the same (``foo`` and ``'foo'`` are both ``"foo"``). The helpers
  treat a string as a reference only when it names a parameter or variable of the same file, so a literal that
  happens to equal a parameter name would be misread. The templates avoid such names.
- This is structure, not evaluation: nothing here runs ARM functions, resolves ``reference()`` values or
  knows resource schemas. It proves what the template *says*, which is what can be checked without Azure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Json = Any


@dataclass(frozen=True, slots=True)
class Resource:
    """One ``resource`` declaration: its symbolic name, type, and body without any ``if`` wrapper."""

    symbol: str
    type: str
    api_version: str
    existing: bool
    condition: Json | None
    body: Mapping[str, Json]

    @property
    def properties(self) -> Mapping[str, Json]:
        props = self.body.get("properties", {})
        assert isinstance(props, dict), f"{self.symbol}: properties is not an object literal"
        return props


@dataclass(frozen=True, slots=True)
class Module:
    """One ``module`` declaration: its symbolic name, the file it deploys, its scope and its params."""

    symbol: str
    path: str
    condition: Json | None
    body: Mapping[str, Json]

    @property
    def params(self) -> Mapping[str, Json]:
        params = self.body.get("params", {})
        assert isinstance(params, dict)
        return params


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed Bicep file (path relative to the repository root)."""

    path: str
    raw: Mapping[str, Json]

    @property
    def target_scope(self) -> str:
        return str(self.raw.get("globals", {}).get("scope", {}).get("value", "resourceGroup"))

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Json]]:
        return self.raw.get("parameters", {}) or {}

    @property
    def variables(self) -> Mapping[str, Mapping[str, Json]]:
        return self.raw.get("variables", {}) or {}

    @property
    def outputs(self) -> Mapping[str, Mapping[str, Json]]:
        return self.raw.get("outputs", {}) or {}

    def resources(self) -> list[Resource]:
        found = []
        for symbol, decl in (self.raw.get("resources", {}) or {}).items():
            condition, body = _unwrap(decl["config"])
            found.append(
                Resource(
                    symbol, decl["type"], decl["api_version"], bool(decl.get("existing")), condition, body
                )
            )
        return found

    def resource(self, symbol: str) -> Resource:
        matches = [r for r in self.resources() if r.symbol == symbol]
        assert matches, f"{self.path} declares no resource named {symbol!r}"
        return matches[0]

    def resources_of_type(self, resource_type: str, *, existing: bool = False) -> list[Resource]:
        return [
            r for r in self.resources() if r.type.lower() == resource_type.lower() and r.existing == existing
        ]

    def modules(self) -> list[Module]:
        found = []
        for symbol, decl in (self.raw.get("modules", {}) or {}).items():
            condition, body = _unwrap(decl["config"])
            found.append(Module(symbol, decl["detail"]["path"], condition, body))
        return found

    def module_for(self, path: str) -> Module:
        matches = [m for m in self.modules() if m.path == path]
        assert len(matches) == 1, f"{self.path} deploys {path!r} {len(matches)} times, expected once"
        return matches[0]

    def param_default(self, name: str) -> Json:
        assert name in self.parameters, f"{self.path} has no parameter {name!r}"
        return self.parameters[name].get("default")

    def decorator(self, param: str, kind: str) -> Json:
        """The argument of ``@kind(...)`` on a parameter (``None`` when absent; ``True`` for ``@secure()``).
        pycep spells decorators in snake case: ``min_value``, ``max_value``, ``allowed``, ``secure``..."""
        for deco in self.parameters[param].get("decorators", []):
            if deco.get("type") == kind:
                return deco.get("argument", True)
        return None

    def variable(self, name: str) -> Json:
        assert name in self.variables, f"{self.path} has no variable {name!r}"
        return self.variables[name]["value"]

    def resolve(self, expr: Json) -> Json:
        """Follow variable references until a non-variable expression is reached."""
        seen = set()
        while self.is_variable(expr) and expr not in seen:
            seen.add(expr)
            expr = self.variable(expr)
        return expr

    def role_definition_guid(self, assignment: Resource) -> str:
        """The GUID in ``subscriptionResourceId('Microsoft.Authorization/roleDefinitions', <guid>)``."""
        args = function_call(assignment.properties["roleDefinitionId"], "subscription_resource_id")
        assert args, f"{assignment.symbol}: roleDefinitionId is not subscriptionResourceId(...)"
        assert args[0] == "Microsoft.Authorization/roleDefinitions", assignment.symbol
        guid = self.resolve(args[1])
        if self.is_parameter(guid):
            guid = self.param_default(guid)
        assert isinstance(guid, str), f"{assignment.symbol}: role definition is not a literal GUID"
        return guid

    def is_parameter(self, expr: Json) -> bool:
        return isinstance(expr, str) and expr in self.parameters

    def is_variable(self, expr: Json) -> bool:
        return isinstance(expr, str) and expr in self.variables


def _unwrap(config: Mapping[str, Json]) -> tuple[Json | None, Mapping[str, Json]]:
    """Split ``{"condition": c, "config": body}`` (an ``if`` resource or module) into ``(c, body)``."""
    if set(config) == {"condition", "config"}:
        return config["condition"], config["config"]
    return None, config


def function_call(expr: Json, name: str) -> list[Json] | None:
    """The arguments of ``name(...)`` in their written order, or ``None`` if ``expr`` is not that call."""
    if isinstance(expr, dict) and isinstance(expr.get("function"), dict) and expr["function"]["type"] == name:
        params = expr["function"].get("parameters") or {}
        return list(params.values())
    return None


def conditional(expr: Json) -> tuple[Json, Json, Json] | None:
    """``(condition, when_true, when_false)`` of ``cond ? a : b``, or ``None``."""
    if isinstance(expr, dict) and isinstance(expr.get("operator"), dict):
        op = expr["operator"]
        if op["type"] == "conditional":
            operands = op["operands"]
            return operands["condition"], operands["true_value"], operands["false_value"]
    return None


def dotted(expr: Json) -> Json:
    """``a.b.c`` for a property-access chain (pycep nests it as operators); anything else unchanged."""
    if isinstance(expr, dict) and isinstance(expr.get("operator"), dict):
        op = expr["operator"]
        if op["type"] == "property_accessor":
            left, right = dotted(op["operands"]["operand_1"]), dotted(op["operands"]["operand_2"])
            if isinstance(left, str) and isinstance(right, str):
                return f"{left}.{right}"
    return expr


def strings(tree: Json) -> Iterator[str]:
    """Every string anywhere in a parsed tree (keys excluded)."""
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from strings(value)


@dataclass(frozen=True, slots=True)
class AppSetting:
    """One app setting the template writes, and the condition (if any) under which it does."""

    name: str
    value: Json
    condition: Json | None = None  # the variable's ternary condition, e.g. "identityMode"
    when: bool | None = None  # which branch of that ternary sets it


def app_settings(template: Template, site: Resource) -> list[AppSetting]:
    """The settings in ``siteConfig.appSettings``: a ``concat`` of array variables, each either a literal
    list of ``{name, value}`` or a ternary between two such lists (possibly empty)."""
    expr = site.properties["siteConfig"]["appSettings"]
    parts = function_call(expr, "concat")
    if parts is None:
        parts = [expr]
    settings: list[AppSetting] = []
    for part in parts:
        value = template.variable(part) if template.is_variable(part) else part
        branches = conditional(value)
        if branches is None:
            settings += [AppSetting(item["name"], item["value"]) for item in _setting_list(value)]
            continue
        condition, when_true, when_false = branches
        settings += [AppSetting(i["name"], i["value"], condition, True) for i in _setting_list(when_true)]
        settings += [AppSetting(i["name"], i["value"], condition, False) for i in _setting_list(when_false)]
    return settings


def _setting_list(value: Json) -> list[Mapping[str, Json]]:
    assert isinstance(value, list), f"app settings must be array literals of {{name, value}}, got {value!r}"
    for item in value:
        assert isinstance(item, dict), f"not a {{name, value}} pair: {item!r}"
        assert set(item) == {"name", "value"}, f"not a {{name, value}} pair: {item!r}"
    return value
