"""App settings: the only module that reads ``os.environ``.

``SETTING_NAMES`` lists every setting the function reads; the deploy template's tests use it as the
source of truth. Values are read once, validated, and never logged (the connection string is kept
out of ``repr``). Empty values count as unset, as the Azure portal stores cleared settings as "".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from offer_handlers.errors import ConfigurationError

__all__ = [
    "CONNECTION_STRING",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RECONCILE_SCHEDULE",
    "DEFAULT_REQUEST_TIMEOUT_SECONDS",
    "ENDPOINT",
    "FLEET",
    "FLEET_FILE",
    "FLEET_RECONCILE_SCHEDULE",
    "SETTING_NAMES",
    "TELEMETRY",
    "Settings",
    "load_settings",
    "reconcile_schedule",
]

CONNECTION_STRING: Final = "JOBROUTER_CONNECTION_STRING"
ENDPOINT: Final = "JOBROUTER_ENDPOINT"
CLIENT_ID: Final = "AZURE_CLIENT_ID"
POLICY: Final = "OFFER_POLICY"
POLICY_FILE: Final = "OFFER_POLICY_FILE"
DECIDER: Final = "OFFER_DECIDER"
REQUEST_TIMEOUT: Final = "JOBROUTER_REQUEST_TIMEOUT_SECONDS"
MAX_RETRIES: Final = "JOBROUTER_MAX_RETRIES"
FLEET: Final = "FLEET"
FLEET_FILE: Final = "FLEET_FILE"
FLEET_RECONCILE_SCHEDULE: Final = "FLEET_RECONCILE_SCHEDULE"
# The Python worker's own switch for exporting OpenTelemetry to Application Insights; the app follows it.
TELEMETRY: Final = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"

SETTING_NAMES: Final[tuple[str, ...]] = (
    CONNECTION_STRING,
    ENDPOINT,
    CLIENT_ID,
    POLICY,
    POLICY_FILE,
    DECIDER,
    REQUEST_TIMEOUT,
    MAX_RETRIES,
    FLEET,
    FLEET_FILE,
    FLEET_RECONCILE_SCHEDULE,
    TELEMETRY,
)

# An offer lives for seconds: one attempt gets a few seconds, and a couple of quick retries at most.
DEFAULT_REQUEST_TIMEOUT_SECONDS: Final = 5.0
DEFAULT_MAX_RETRIES: Final = 2
# Event Grid gives up on a delivery after 30 s, so no single attempt may take longer than this.
_MAX_REQUEST_TIMEOUT_SECONDS: Final = 25.0
_MAX_RETRIES_LIMIT: Final = 5
# NCRONTAB with seconds: at second 0 of every minute.
DEFAULT_RECONCILE_SCHEDULE: Final = "0 * * * * *"

# The values the worker library reads as on and off (azure_functions_runtime's is_true_like/is_false_like).
_TRUE_LIKE: Final = frozenset({"1", "true", "t", "yes", "y"})
_FALSE_LIKE: Final = frozenset({"0", "false", "f", "no", "n"})


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated app settings. ``app_root`` is where relative paths (``*_FILE`` settings) start."""

    app_root: Path
    connection_string: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    client_id: str | None = None
    policy_text: str | None = field(default=None, repr=False)
    policy_file: Path | None = None
    decider: str | None = None
    fleet_text: str | None = field(default=None, repr=False)
    fleet_file: Path | None = None
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    opentelemetry: bool = False
    """OpenTelemetry mode (spans, attributes, metrics) instead of classic Application Insights logging."""

    @property
    def auth_settings(self) -> str:
        """The settings to check when Job Router refuses the credentials (names only)."""
        if self.connection_string is not None:
            return CONNECTION_STRING
        if self.endpoint is not None:
            return (
                f"{ENDPOINT} and {CLIENT_ID} (and the identity's role on the Communication Services resource)"
            )
        return f"{CONNECTION_STRING} or {ENDPOINT}"


def load_settings(app_root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    policy_text, policy_path = get(POLICY), get(POLICY_FILE)
    if policy_text is not None and policy_path is not None:
        raise ConfigurationError(
            f"set {POLICY} or {POLICY_FILE}, not both", setting=f"{POLICY}, {POLICY_FILE}"
        )
    # Both FLEET and FLEET_FILE set is refused when the fleet is loaded, so that it never stops offers.
    fleet_text, fleet_path = get(FLEET), get(FLEET_FILE)

    return Settings(
        app_root=app_root,
        connection_string=get(CONNECTION_STRING),
        endpoint=get(ENDPOINT),
        client_id=get(CLIENT_ID),
        policy_text=policy_text,
        policy_file=_path(policy_path, app_root),
        decider=get(DECIDER),
        fleet_text=fleet_text,
        fleet_file=_path(fleet_path, app_root),
        request_timeout=_number(get(REQUEST_TIMEOUT), REQUEST_TIMEOUT),
        max_retries=_whole(get(MAX_RETRIES), MAX_RETRIES),
        opentelemetry=_switch(get(TELEMETRY), TELEMETRY),
    )


def reconcile_schedule(environ: Mapping[str, str] | None = None) -> str:
    """The reconciliation timer's schedule as the function declares it when the app is indexed.

    With FLEET_RECONCILE_SCHEDULE set, the binding expression ``%FLEET_RECONCILE_SCHEDULE%``, which the
    Functions host resolves from the app settings and validates (an NCRONTAB expression or a TimeSpan).
    Unset, the default, every minute: the host refuses to index a function whose ``%NAME%`` does not
    resolve, so the expression is declared only when there is a value to resolve.
    """
    env = os.environ if environ is None else environ
    if env.get(FLEET_RECONCILE_SCHEDULE, "").strip():
        return f"%{FLEET_RECONCILE_SCHEDULE}%"
    return DEFAULT_RECONCILE_SCHEDULE


def _path(raw: str | None, app_root: Path) -> Path | None:
    if raw is None:
        return None
    path = Path(raw)
    return path if path.is_absolute() else app_root / path


def _number(raw: str | None, name: str) -> float:
    if raw is None:
        return DEFAULT_REQUEST_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= _MAX_REQUEST_TIMEOUT_SECONDS:
        raise ConfigurationError(
            f"{name} must be a number of seconds above 0 and at most {_MAX_REQUEST_TIMEOUT_SECONDS:g}",
            setting=name,
        )
    return value


def _whole(raw: str | None, name: str) -> int:
    if raw is None:
        return DEFAULT_MAX_RETRIES
    if not raw.isdigit() or int(raw) > _MAX_RETRIES_LIMIT:
        raise ConfigurationError(
            f"{name} must be a whole number from 0 to {_MAX_RETRIES_LIMIT}", setting=name
        )
    return int(raw)


def _switch(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    value = raw.lower()
    if value in _TRUE_LIKE:
        return True
    if value in _FALSE_LIKE:
        return False
    raise ConfigurationError(f"{name} must be true or false", setting=name)
