"""The health report: do settings and policy load, and does one authenticated Job Router call succeed?

``check_health`` runs three checks in order (a later one is skipped when an earlier one fails):
``settings`` (every setting reads and validates), ``policy`` (the policy or OFFER_DECIDER plug-in loads)
and ``jobrouter`` (a read of a worker id no deployment uses: 404 means the credentials work, 401/403 means
they do not). A failing check names the setting to fix, never its value. ``function_app.health`` serves
the report as JSON (README.md, "Checking a deployment").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from azure.core.exceptions import AzureError

from offer_handlers.errors import ConfigurationError, OfferHandlerError
from offer_handlers.execute import OfferResponder, Result, map_sdk_error
from offer_handlers.settings import Settings

__all__ = ["HEALTH_CHECKS", "HealthCheck", "HealthReport", "check_health"]

HEALTH_CHECKS: Final = ("settings", "policy", "jobrouter")
# The check's whole budget (retries included): long enough for a cold TLS connection, short for a probe.
_PROBE_SECONDS: Final = 10.0


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One check: ``setting`` names what to fix when it failed (None when nothing, or nothing known)."""

    name: str
    ok: bool
    detail: str
    setting: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Every check, in order; healthy when all passed."""

    checks: tuple[HealthCheck, ...]

    @property
    def healthy(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def status_code(self) -> int:
        """200 when healthy, else 503."""
        return 200 if self.healthy else 503

    def to_json(self) -> str:
        """``{"status": "healthy"|"unhealthy", "checks": [{"name", "ok", "detail", "setting"}]}``."""
        return json.dumps(
            {
                "status": "healthy" if self.healthy else "unhealthy",
                "checks": [
                    {"name": c.name, "ok": c.ok, "detail": c.detail, "setting": c.setting}
                    for c in self.checks
                ],
            }
        )


def check_health(
    *,
    load_settings: Callable[[], Settings],
    load_policy: Callable[[], object],
    responder: Callable[[], OfferResponder],
) -> HealthReport:
    """Run the checks with the handler's own loaders and client (so it checks what offers use)."""
    try:
        settings = load_settings()
    except Exception as err:
        return _stop(_failed("settings", err))
    checks = [HealthCheck("settings", True, "every setting reads and validates")]
    try:
        load_policy()
    except Exception as err:
        return _stop(*checks, _failed("policy", err))
    checks.append(HealthCheck("policy", True, _policy_source(settings)))
    checks.append(_check_job_router(responder, settings))
    return HealthReport(tuple(checks))


def _policy_source(settings: Settings) -> str:
    if settings.decider is not None:
        return "the OFFER_DECIDER plug-in loads"
    if settings.policy_text is not None:
        return "the OFFER_POLICY policy loads"
    if settings.policy_file is not None:
        return "the OFFER_POLICY_FILE policy loads"
    return "no policy set: every offer is accepted"


def _check_job_router(responder: Callable[[], OfferResponder], settings: Settings) -> HealthCheck:
    try:
        responder().check_access(timeout=_PROBE_SECONDS)
    except AzureError as err:
        mapped = map_sdk_error(err, auth_settings=settings.auth_settings)
        if isinstance(mapped, Result):  # 404/409: Job Router authenticated the call
            return HealthCheck("jobrouter", True, "Job Router accepted the credentials")
        return _failed_call(mapped, settings)
    except Exception as err:  # no connection setting, a malformed one, or the client failed to build
        return _failed("jobrouter", err)
    return HealthCheck("jobrouter", True, "Job Router accepted the credentials")


def _failed(name: str, err: Exception) -> HealthCheck:
    if isinstance(err, ConfigurationError):  # its message names settings, never their values
        return HealthCheck(name, False, str(err), err.setting)
    # Anything else: the type only, since its message was not written with secrets in mind.
    return HealthCheck(name, False, f"unexpected {type(err).__name__}; see the function's log")


def _failed_call(error: OfferHandlerError, settings: Settings) -> HealthCheck:
    if isinstance(error, ConfigurationError):  # 401, 403, other 4xx
        return HealthCheck("jobrouter", False, str(error), error.setting)
    status = getattr(error, "status_code", None)
    if status is None:  # no answer at all: DNS, refused connection, timeout
        return HealthCheck(
            "jobrouter",
            False,
            f"Job Router could not be reached; check the endpoint in {settings.auth_settings}",
            settings.auth_settings,
        )
    return HealthCheck("jobrouter", False, f"Job Router answered HTTP {status}; try again later")


def _stop(*checks: HealthCheck) -> HealthReport:
    ran = {check.name for check in checks}
    failed = checks[-1].name
    skipped = [HealthCheck(name, False, f"not run: the {failed} check failed") for name in HEALTH_CHECKS]
    return HealthReport((*checks, *(check for check in skipped if check.name not in ran)))
