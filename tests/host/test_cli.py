"""``python -m devstack.functions_host`` as a process: startup line, settings file, signals, exit codes."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from .support import BROKEN_APP, SAMPLE_APP, eg_event

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def start(args: Sequence[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack.functions_host", "--port", "0", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"no startup line within {timeout} s; stderr:\n{err}")
    return process.stdout.readline()


@pytest.fixture
def host_process() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def post(url: str, body: object, event_type: str = "Notification") -> int:
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL the test built
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "aeg-event-type": event_type},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_host_prints_its_webhook_url_serves_it_and_stops_cleanly_on_a_signal(
    tmp_path: Path, host_process: list[subprocess.Popen[str]], signum: signal.Signals
) -> None:
    settings = tmp_path / "local.settings.json"
    values = {"SAMPLE_SETTING_AT_IMPORT": "from-file"}
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    process = start(["--app-dir", str(SAMPLE_APP), "--settings", str(settings)])
    host_process.append(process)

    line = read_line(process, STARTUP_TIMEOUT_S)
    match = re.fullmatch(
        r"Event Grid webhook: (http://127\.0\.0\.1:\d+/runtime/webhooks/eventgrid\?)functionName=NAME .*\n",
        line,
    )
    assert match, line
    expect_setting = {
        "action": "expect_setting",
        "name": "SAMPLE_SETTING_AT_IMPORT",
        "value": "from-file",
        "at_import": True,
    }
    assert post(match.group(1) + "functionName=on_event", [eg_event(expect_setting)]) == 202
    assert post(match.group(1) + "functionName=on_event", [eg_event({"action": "raise"})]) == 500

    started = time.monotonic()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)

    assert process.returncode == 0, stderr
    assert time.monotonic() - started < STOP_TIMEOUT_S
    assert "Executed 'on_event' (Succeeded" in stderr
    assert "Executed 'on_event' (Failed" in stderr
    assert "from-file" not in stderr


def test_an_app_that_fails_to_index_exits_1_with_the_workers_message(
    host_process: list[subprocess.Popen[str]],
) -> None:
    process = start(["--app-dir", str(BROKEN_APP)])
    host_process.append(process)

    _, stderr = process.communicate(timeout=STARTUP_TIMEOUT_S)

    assert process.returncode == 1
    assert "FunctionLoadError: cannot load the mismatched function" in stderr


def test_a_missing_settings_file_exits_2_naming_it(
    tmp_path: Path, host_process: list[subprocess.Popen[str]]
) -> None:
    missing = tmp_path / "nope.json"
    process = start(["--app-dir", str(SAMPLE_APP), "--settings", str(missing)])
    host_process.append(process)

    _, stderr = process.communicate(timeout=STARTUP_TIMEOUT_S)

    assert process.returncode == 2
    assert f"cannot read settings file {missing}" in stderr
