"""App settings for the host stand-in: read ``local.settings.json`` and apply ``Values`` like Core Tools.

Core Tools (``StartHostAction.UpdateEnvironmentVariables``) copies each ``Values`` entry into the process
environment only when that variable is unset or empty; otherwise it prints
"Skipping 'NAME' from local settings as it's already defined in current environment variables."
We do the same. Setting values are never logged or put into error messages, only names.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AppliedSettings", "SettingsError", "apply_settings", "load_settings_file"]

_log = logging.getLogger(__name__)


class SettingsError(Exception):
    """The settings file is missing, unreadable, or not shaped like ``local.settings.json``."""


@dataclass(frozen=True, slots=True)
class AppliedSettings:
    """What ``apply_settings`` did: names it set, and names it skipped because the environment had them."""

    set_names: tuple[str, ...]
    skipped_names: tuple[str, ...]


def load_settings_file(path: Path) -> dict[str, str]:
    """The ``Values`` of a ``local.settings.json`` file, as strings."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror or exc}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        # The message names the position only; the file may hold secrets.
        raise SettingsError(f"settings file {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"settings file {path} must hold a JSON object")
    if document.get("IsEncrypted") is True:
        raise SettingsError(
            f"settings file {path} is encrypted (IsEncrypted: true); "
            "decrypt it with `func settings decrypt` on a machine with Core Tools"
        )
    values = document.get("Values", {})
    if not isinstance(values, dict):
        raise SettingsError(f"settings file {path}: Values must be a JSON object")
    settings: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str):
            raise SettingsError(
                f"settings file {path}: Values.{name} must be a string, not {type(value).__name__}"
            )
        settings[name] = value
    return settings


def apply_settings(
    settings: Mapping[str, str], environ: MutableMapping[str, str] | None = None
) -> AppliedSettings:
    """Copy settings into the environment, never replacing a variable that is already set (non-empty)."""
    env = os.environ if environ is None else environ
    set_names: list[str] = []
    skipped: list[str] = []
    for name, value in settings.items():
        if not name:
            _log.warning("skipping a setting with an empty name")
            continue
        if env.get(name):
            if env[name] != value:
                _log.warning(
                    "Skipping '%s' from local settings as it's already defined in current "
                    "environment variables.",
                    name,
                )
            skipped.append(name)
            continue
        env[name] = value
        set_names.append(name)
    return AppliedSettings(tuple(set_names), tuple(skipped))
