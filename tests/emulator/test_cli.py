"""``python -m devstack.jobrouter``: options, the one start-up line, graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.jobrouter import DEV_ACCESS_KEY
from devstack.jobrouter.__main__ import banner, parse_args
from devstack.jobrouter.server import Emulator
from tests.emulator.helpers import router_client

ROOT = Path(__file__).resolve().parents[2]
CUSTOM_KEY = "Y3VzdG9tLWtleS1mb3ItdGhlLWNsaS10ZXN0"


def test_defaults_use_the_well_known_development_key() -> None:
    config, level = parse_args([])
    assert (config.host, config.port, config.access_key, level) == ("127.0.0.1", 8181, DEV_ACCESS_KEY, "INFO")
    assert config.webhooks == ()
    assert config.state_file is None
    assert config.worker_idle_seconds == 7 * 24 * 3600  # the service's 7 days


def test_every_option_reaches_the_config(tmp_path: Path) -> None:
    config, level = parse_args(
        [
            "--host", "0.0.0.0",  # noqa: S104 - parsed, never bound
            "--port", "0",
            "--access-key", CUSTOM_KEY,
            "--bearer-token", "tok",
            "--webhook", "http://127.0.0.1:7071/api/events#types=RouterWorkerOfferIssued",
            "--webhook", "http://127.0.0.1:7072/api/events#schema=eventgrid",
            "--schema", "cloudevents",
            "--dead-letter", str(tmp_path / "dead.jsonl"),
            "--retry-scale", "0.01",
            "--state", str(tmp_path / "state.sqlite"),
            "--topic", "/subscriptions/x/providers/Microsoft.Communication/communicationServices/z",
            "--processing-delay", "0.5",
            "--default-offer-expiry", "30",
            "--worker-idle-seconds", "2.5",
            "--duplicate-fraction", "0.1",
            "--reorder-window", "0.2",
            "--seed", "3",
            "--log-level", "DEBUG",
        ]
    )  # fmt: skip
    assert (config.host, config.port, config.access_key, config.bearer_token) == (
        "0.0.0.0",  # noqa: S104 - parsed, never bound
        0,
        CUSTOM_KEY,
        "tok",
    )
    first, second = config.webhooks
    assert (first.schema, second.schema) == ("cloudevents", "eventgrid")
    assert first.included_event_types == frozenset({"Microsoft.Communication.RouterWorkerOfferIssued"})
    assert (first.retry_scale, first.dead_letter_path) == (0.01, tmp_path / "dead.jsonl")
    assert config.state_file == tmp_path / "state.sqlite"
    assert config.topic.endswith("/communicationServices/z")
    assert (config.processing_delay, config.default_offer_expiry_seconds) == (0.5, 30.0)
    assert config.worker_idle_seconds == 2.5
    assert (config.duplicate_fraction, config.reorder_window, config.seed, level) == (0.1, 0.2, 3, "DEBUG")


def test_the_event_log_keeps_ten_thousand_events_unless_told_otherwise() -> None:
    assert parse_args([])[0].event_log_limit == 10_000
    assert parse_args(["--event-log-limit", "50"])[0].event_log_limit == 50


def test_the_access_key_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBROUTER_EMULATOR_ACCESS_KEY", CUSTOM_KEY)
    assert parse_args([])[0].access_key == CUSTOM_KEY


@pytest.mark.parametrize(
    "argv",
    [
        ["--webhook", "http://x/#types=NoSuchEvent"],
        ["--port", "70000"],
        ["--schema", "xml"],
        ["--event-log-limit", "0"],
        ["--worker-idle-seconds", "0"],
    ],
    ids=["unknown-event-type", "port-out-of-range", "unknown-schema", "event-log-limit-zero", "no-idle-time"],
)
def test_bad_options_exit_with_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--access-key",
        "--webhook",
        "--schema",
        "--state",
        "--bearer-token",
        "--event-log-limit",
    ):
        assert option in text


def test_the_banner_shows_the_connection_string_only_for_the_development_key() -> None:
    dev, custom = Emulator(), Emulator(parse_args(["--access-key", CUSTOM_KEY])[0])
    dev._port = custom._port = 8181  # not started: only the text is under test
    assert banner(dev).endswith(
        f"connection string: endpoint=http://127.0.0.1:8181/;accesskey={DEV_ACCESS_KEY}"
    )
    assert CUSTOM_KEY not in banner(custom)
    assert "http://127.0.0.1:8181" in banner(custom)


@pytest.fixture
def process() -> Iterator[subprocess.Popen[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.jobrouter", "--port", "0", "--log-level", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_process_prints_one_line_serves_the_sdk_and_stops_on_a_signal(
    process: subprocess.Popen[str], sig: signal.Signals
) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+) .*accesskey=(\S+)$", line.strip())
    assert match, line

    @dataclass(frozen=True)
    class Running:
        endpoint: str
        access_key: str

    with router_client(Running(match[1], match[2])) as client:
        assert list(client.list_workers()) == []
    process.send_signal(sig)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out == ""  # exactly one line on stdout


def test_an_access_key_that_is_not_base64_is_refused_without_echoing_it() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "devstack.jobrouter", "--port", "0", "--access-key", "not base64!!"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "base64" in result.stderr
    assert "not base64!!" not in result.stderr
