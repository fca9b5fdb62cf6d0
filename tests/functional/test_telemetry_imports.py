"""With telemetry off, the key path (import function_app, first offer answered over the SDK) imports no
OpenTelemetry module; with it on, the same path does. Each side runs in a fresh interpreter, since this
test process has imported OpenTelemetry for other tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures import REPO_ROOT
from tests.fixtures.http import ACCESS_KEY

TELEMETRY_MODULES = (
    "opentelemetry",
    "azure.monitor",
    "azure.core.tracing.ext",
    "offer_handlers.telemetry_otel",
)

PROBE = f"""
import json, sys
import function_app
from offer_handlers.errors import RetryableServiceError
from offer_handlers.events import Envelope

data = {{"workerId": "w", "jobId": "j", "offerId": "o", "offeredOn": "2026-01-01T00:00:00Z",
         "expiresOn": "2999-01-01T00:00:00Z"}}
try:  # nothing listens on the port: the SDK call fails after a full trip through its pipeline
    function_app.handler.handle(
        Envelope("eventgrid", "e", "Microsoft.Communication.RouterWorkerOfferIssued", "s", data))
except RetryableServiceError:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith({TELEMETRY_MODULES!r}))))
"""


def loaded_telemetry_modules(**settings: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBROUTER_", "OFFER_", "PYTHON_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        JOBROUTER_CONNECTION_STRING=f"endpoint=http://127.0.0.1:9;accesskey={ACCESS_KEY}",
        JOBROUTER_MAX_RETRIES="0",
        **settings,
    )
    done = subprocess.run(  # noqa: S603  (our own interpreter and probe)
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


def test_with_telemetry_off_the_key_path_imports_no_opentelemetry_module() -> None:
    assert loaded_telemetry_modules() == []


@pytest.mark.parametrize("value", ["true", "1"])
def test_with_telemetry_on_the_key_path_imports_opentelemetry(value: str) -> None:
    modules = loaded_telemetry_modules(PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=value)

    assert "offer_handlers.telemetry_otel" in modules
    assert "opentelemetry.trace" in modules
    assert "azure.core.tracing.ext.opentelemetry_span" in modules
