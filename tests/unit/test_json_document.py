"""The strict JSON reader: what json.loads lets through is refused, and every error names the field's path."""

from __future__ import annotations

import pytest

from offer_handlers.json_document import JsonObject, parse_json_text


class DocumentError(Exception):
    """The error a caller's factory builds, so the tests can see the message and the field."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse(text: str) -> object:
    return parse_json_text(text, DocumentError)


def test_clean_json_decodes_as_json_loads_would() -> None:
    assert parse('{"a": [1, 2.5, true, null, "x"], "b": {}}') == {"a": [1, 2.5, True, None, "x"], "b": {}}


@pytest.mark.parametrize(
    ("text", "message", "field"),
    [
        ("{", "not valid JSON", None),
        ('{"a": 1, "a": 2}', "appears twice in the same object", "a"),
        ('{"outer": {"b": 1, "b": 1}}', "appears twice in the same object", "b"),
        ('{"a": NaN}', "NaN is not a JSON number", None),
        ('{"a": -Infinity}', "-Infinity is not a JSON number", None),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply", None),
    ],
    ids=["truncated", "duplicate-key", "nested-duplicate-key", "nan", "infinity", "deep-nesting"],
)
def test_text_that_is_not_clean_json_raises_the_callers_error(
    text: str, message: str, field: str | None
) -> None:
    with pytest.raises(DocumentError) as raised:
        parse(text)

    assert raised.value.message.startswith(message)
    assert raised.value.field == field


def test_a_value_that_is_not_an_object_fails_naming_its_path() -> None:
    root = JsonObject({"rules": [{"when": 3}]}, error=DocumentError)

    with pytest.raises(DocumentError) as raised:
        root.item("rules", 0).child("when")

    assert (raised.value.message, raised.value.field) == ("expected a JSON object", "rules[0].when")


def test_an_unknown_key_fails_naming_its_path_and_the_allowed_keys() -> None:
    nested = JsonObject({"default": {"action": "accept", "extra": 1}}, error=DocumentError).child("default")

    with pytest.raises(DocumentError) as raised:
        nested.only({"action"})

    assert (raised.value.message, raised.value.field) == (
        "unknown field; expected one of action",
        "default.extra",
    )


def test_a_failure_on_the_root_object_names_no_field() -> None:
    with pytest.raises(DocumentError) as raised:
        JsonObject({}, error=DocumentError).fail(None, "empty")

    assert raised.value.field is None


def test_child_and_item_keep_the_subclass_and_its_error() -> None:
    class Document(JsonObject):
        __slots__ = ()

    root = Document({"a": {"b": [{"c": 1}]}}, error=DocumentError)

    leaf = root.child("a").item("b", 0)

    assert type(leaf) is Document
    assert leaf.path == "a.b[0]"
    assert leaf.get("c") == 1
