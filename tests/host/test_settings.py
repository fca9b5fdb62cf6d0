"""App settings: local.settings.json Values go into the environment before indexing, as Core Tools does."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from devstack.functions_host import SettingsError, apply_settings, load_settings_file

from .support import eg_event, running_host

SECRET = "Endpoint=http://127.0.0.1:1/;AccessKey=c2VjcmV0LXZhbHVlLW5ldmVyLWxvZ2dlZA=="


def write_settings(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps(document))
    return path


# --- load_settings_file ------------------------------------------------------------------------------


def test_the_values_section_is_read_as_strings(tmp_path: Path) -> None:
    path = write_settings(
        tmp_path, {"IsEncrypted": False, "Values": {"A": "1", "FUNCTIONS_WORKER_RUNTIME": "python"}}
    )

    assert load_settings_file(path) == {"A": "1", "FUNCTIONS_WORKER_RUNTIME": "python"}


def test_a_file_without_values_has_no_settings(tmp_path: Path) -> None:
    assert load_settings_file(write_settings(tmp_path, {"IsEncrypted": False})) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read settings file"),
        ("{not json", "is not valid JSON"),
        ("[]", "must hold a JSON object"),
        ('{"Values": []}', "Values must be a JSON object"),
        ('{"Values": {"PORT": 7071}}', "Values.PORT must be a string, not int"),
        ('{"IsEncrypted": true, "Values": {}}', "is encrypted"),
    ],
    ids=["missing", "not-json", "not-an-object", "values-not-an-object", "non-string-value", "encrypted"],
)
def test_a_bad_settings_file_is_a_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "local.settings.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(SettingsError, match=message):
        load_settings_file(path)


def test_errors_never_include_setting_values(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text('{"Values": {"CONN": "' + SECRET + '", "BAD": 1}}')

    with pytest.raises(SettingsError) as caught:
        load_settings_file(path)

    assert SECRET not in str(caught.value)


# --- apply_settings ----------------------------------------------------------------------------------


def test_settings_fill_unset_and_empty_variables_but_never_replace_set_ones() -> None:
    environ = {"ALREADY": "from-environment", "EMPTY": ""}

    applied = apply_settings({"ALREADY": "from-file", "EMPTY": "from-file", "NEW": "from-file"}, environ)

    assert environ == {"ALREADY": "from-environment", "EMPTY": "from-file", "NEW": "from-file"}
    assert applied.set_names == ("EMPTY", "NEW")
    assert applied.skipped_names == ("ALREADY",)


def test_a_skipped_setting_is_logged_by_name_only(caplog: pytest.LogCaptureFixture) -> None:
    apply_settings({"CONN": SECRET}, {"CONN": "other"})

    assert "Skipping 'CONN' from local settings" in caplog.text
    assert SECRET not in caplog.text


# --- FunctionsHost ------------------------------------------------------------------------------------


def test_the_host_applies_settings_before_it_indexes_the_app() -> None:
    # The sample app reads SAMPLE_SETTING_AT_IMPORT at import time; the function compares it.
    data = {"action": "expect_setting", "name": "SAMPLE_SETTING_AT_IMPORT", "value": "v1", "at_import": True}

    async def run() -> tuple[int, str]:
        async with running_host(settings={"SAMPLE_SETTING_AT_IMPORT": "v1"}) as client:
            return await client.post("on_event", [eg_event(data)])

    assert asyncio.run(run()) == (202, "")


def test_the_host_never_overrides_a_variable_set_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_SETTING", "from-environment")
    data = {"action": "expect_setting", "name": "SAMPLE_SETTING", "value": "from-environment"}

    async def run() -> tuple[int, str]:
        async with running_host(settings={"SAMPLE_SETTING": "from-file"}) as client:
            return await client.post("on_event", [eg_event(data)])

    assert asyncio.run(run()) == (202, "")
    assert os.environ["SAMPLE_SETTING"] == "from-environment"


def test_stopping_the_host_removes_the_variables_it_set() -> None:
    async def run() -> str | None:
        async with running_host(settings={"SAMPLE_SETTING_TRANSIENT": "x"}):
            return os.environ.get("SAMPLE_SETTING_TRANSIENT")

    assert asyncio.run(run()) == "x"
    assert "SAMPLE_SETTING_TRANSIENT" not in os.environ


def test_the_host_never_logs_setting_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")

    async def run() -> None:
        async with running_host(settings={"SAMPLE_CONNECTION": SECRET}) as client:
            await client.post("on_event", [eg_event({"action": "raise"})])
            await client.post("nope", [])

    asyncio.run(run())

    assert "Executed 'on_event'" in caplog.text
    assert SECRET not in caplog.text
