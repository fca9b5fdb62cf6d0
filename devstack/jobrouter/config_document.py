"""The configuration document ``python -m devstack.jobrouter export`` writes and ``import`` applies (pure).

One JSON object: ``format``, ``exportedFrom``, ``secrets`` and one array per resource kind
(``distributionPolicies``, ``queues``, ``classificationPolicies``, ``exceptionPolicies``, optionally
``workers``), each resource as the REST API writes it minus what the service fills in (``etag``, a worker's
state, offers, assignments and load). Rule secrets (a function rule's ``functionKey``/``appKey``, a
webhook rule's ``clientSecret``) are never written: each becomes the placeholder ``${NAME}`` of an
environment variable ``import`` reads it from; ``secrets`` lists every NAME with what it is for.
NAME is ``JOBROUTER_SECRET_`` + the resource kind, its id and the field's path, upper-cased with every
run of other characters as ``_`` (``_2``, ``_3``... appended when two ids give the same name).
The guide: docs/emulator-support-matrix.md, "Configuration export and import".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from offer_handlers.json_document import JsonObject as JsonDocumentObject
from offer_handlers.json_document import parse_json_text

__all__ = [
    "FORMAT",
    "RESOURCE_KINDS",
    "ConfigDocument",
    "ConfigDocumentError",
    "build_document",
    "parse_document",
    "secret_name",
]

FORMAT: Final = "jobrouter-configuration/1"
#: The resource kinds a document holds, in the order ``import`` applies them (workers last, optional).
RESOURCE_KINDS: Final = (
    "distributionPolicies",
    "queues",
    "classificationPolicies",
    "exceptionPolicies",
    "workers",
)
#: Fields the service fills in: never exported, ignored on import.
_SERVER_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "workers": frozenset({"etag", "state", "offers", "assignedJobs", "loadRatio"}),
}
_ETAG: Final = frozenset({"etag"})
#: The secret fields of each rule kind, inside which object.
_SECRET_FIELDS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "function": ("credential", ("functionKey", "appKey")),
    "webhook": ("clientCredential", ("clientSecret",)),
}
_SINGULAR: Final = {
    "distributionPolicies": "DISTRIBUTION_POLICY",
    "queues": "QUEUE",
    "classificationPolicies": "CLASSIFICATION_POLICY",
    "exceptionPolicies": "EXCEPTION_POLICY",
    "workers": "WORKER",
}
_PLACEHOLDER: Final = re.compile(r"^\$\{([A-Z][A-Z0-9_]*)\}$")


class ConfigDocumentError(Exception):
    """The document is not a configuration document, naming the field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ConfigDocument:
    """A parsed document: resources by kind (wire JSON, placeholders still in) and the secrets index."""

    resources: Mapping[str, Sequence[Mapping[str, Any]]]
    secrets: Mapping[str, str]

    def with_secrets(self, environ: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        """The resources with every ``${NAME}`` secret placeholder replaced by ``environ[NAME]``.

        A placeholder whose variable is not set raises :class:`ConfigDocumentError` naming it.
        """
        missing = sorted({name for _, _, name in _placeholders(self.resources) if not environ.get(name)})
        if missing:
            raise ConfigDocumentError(
                f"set the environment variable(s) {', '.join(missing)} to the secret(s) the document "
                "leaves out (its 'secrets' field says what each one is)"
            )
        filled: dict[str, list[dict[str, Any]]] = {}
        for kind, items in self.resources.items():
            filled[kind] = [_fill(item, environ) for item in items]
        return filled


def _words(text: str) -> str:
    """``prioritizationRule`` -> ``PRIORITIZATION_RULE``; ``cp-1.x`` -> ``CP_1_X``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper()


def secret_name(kind: str, resource_id: str, path: Sequence[str | int]) -> str:
    """The variable a secret is read from (``JOBROUTER_SECRET_CLASSIFICATION_POLICY_CP_1_...``)."""
    parts = [_SINGULAR.get(kind, _words(kind)), _words(resource_id), *(_words(str(p)) for p in path)]
    return "JOBROUTER_SECRET_" + "_".join(p for p in parts if p)


def _rule_secrets(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path of the field, field name) of every secret in every rule under ``value``."""
    if isinstance(value, dict):
        kind = value.get("kind")
        if isinstance(kind, str) and kind in _SECRET_FIELDS:
            holder, names = _SECRET_FIELDS[kind]
            inner = value.get(holder)
            if isinstance(inner, dict):
                for name in names:
                    if isinstance(inner.get(name), str):
                        yield (*path, holder, name), name
        for key, item in value.items():
            yield from _rule_secrets(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _rule_secrets(item, (*path, index))


def _replace(value: Any, path: Sequence[str | int], new: str) -> Any:
    """A copy of ``value`` with the string at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}
    assert isinstance(value, list)
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


def _at(value: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        value = value[step]
    return value


def _describe(path: Sequence[str | int]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def build_document(
    resources: Mapping[str, Sequence[Mapping[str, Any]]], *, exported_from: str
) -> dict[str, Any]:
    """The document for resources read from an endpoint (wire JSON): server fields out, secrets replaced."""
    secrets: dict[str, str] = {}
    document: dict[str, Any] = {"format": FORMAT, "exportedFrom": exported_from, "secrets": secrets}
    for kind in RESOURCE_KINDS:
        if kind not in resources:
            continue
        dropped = _SERVER_FIELDS.get(kind, _ETAG)
        items = []
        for resource in sorted(resources[kind], key=lambda r: str(r.get("id"))):
            item: Any = {k: v for k, v in resource.items() if k not in dropped and v is not None}
            for path, _ in list(_rule_secrets(item, ())):
                base = name = secret_name(kind, str(item.get("id")), path)
                number = 1
                while name in secrets:  # two ids that differ only in punctuation or case
                    number += 1
                    name = f"{base}_{number}"
                secrets[name] = f"{kind}/{item.get('id')} {_describe(path)}"
                item = _replace(item, path, f"${{{name}}}")
            items.append(item)
        document[kind] = items
    return document


def _placeholders(
    resources: Mapping[str, Sequence[Mapping[str, Any]]],
) -> Iterator[tuple[str, tuple[str | int, ...], str]]:
    """(kind, path within the resource, variable name) of every secret placeholder."""
    for kind, items in resources.items():
        for item in items:
            for path, _ in _rule_secrets(item, ()):
                match = _PLACEHOLDER.match(str(_at(item, path)))
                if match:
                    yield kind, path, match.group(1)


def _fill(item: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    filled: Any = dict(item)
    for path, _ in list(_rule_secrets(filled, ())):
        match = _PLACEHOLDER.match(str(_at(filled, path)))
        if match:
            filled = _replace(filled, path, environ[match.group(1)])
    return dict(filled)


def parse_document(text: str) -> ConfigDocument:
    """Read a configuration document (strict JSON); anything malformed raises :class:`ConfigDocumentError`."""
    root = JsonDocumentObject(parse_json_text(text, ConfigDocumentError), error=ConfigDocumentError)
    root.only({"format", "exportedFrom", "secrets", *RESOURCE_KINDS})
    if root.get("format") != FORMAT:
        root.fail("format", f"must be {FORMAT!r}, got {root.get('format')!r}")
    resources: dict[str, list[Mapping[str, Any]]] = {}
    for kind in RESOURCE_KINDS:
        raw = root.get(kind)
        if raw is None:
            continue
        if not isinstance(raw, list):
            root.fail(kind, "must be an array of resources")
        seen: set[str] = set()
        for index in range(len(raw)):
            item = root.item(kind, index)
            resource_id = item.get("id")
            if not isinstance(resource_id, str) or not resource_id:
                item.fail("id", "must be a non-empty string")
            if resource_id in seen:
                item.fail("id", f"{resource_id!r} appears twice")
            seen.add(resource_id)
        resources[kind] = list(raw)
    secrets = root.get("secrets", {})
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        root.fail("secrets", "must be an object of variable name -> description")
    return ConfigDocument(resources, dict(secrets))
