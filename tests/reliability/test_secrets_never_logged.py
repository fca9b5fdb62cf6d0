"""Secrets never reach a log. The emulator answers 401 to a bad HMAC signature, a stale ``x-ms-date`` and a
missing ``Authorization``; the function's Entra ID path runs at DEBUG with azure-core's network trace on;
and a run that uses every secret logs none of them (no access key, connection string, HMAC signature or
bearer token), in-process or in a child process's log file. Every other reliability test gets the same
check on its own lines (tests/reliability/conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Final

import pytest
from azure.communication.jobrouter import JobRouterClient
from azure.core.credentials import AzureKeyCredential

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.jobrouter.__main__ import ACCESS_KEY_ENV
from devstack.jobrouter.auth import sign
from devstack.jobrouter.config import DEV_ACCESS_KEY
from devstack.polling import wait_until
from offer_handlers.client import build_responder
from offer_handlers.errors import ConfigurationError
from offer_handlers.execute import Outcome
from offer_handlers.handler import OfferHandler
from offer_handlers.settings import load_settings
from tests.fixtures import envelope, fresh, load_event, single
from tests.fixtures.http import ACCESS_KEY, FakeCredential
from tests.reliability.secrets_scan import BEARER_TOKEN, SecretScanner

PATH: Final = "/routing/workers/w-1?api-version=2023-11-01"
SIGNED: Final = "x-ms-date;host;x-ms-content-sha256"
READY: Final = re.compile(r"Job Router emulator listening on (?P<endpoint>\S+)")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(bearer_token=BEARER_TOKEN)) as emu:
        yield emu


def signed_get(emu: EmulatorThread, *, date: datetime, key: str = DEV_ACCESS_KEY) -> urllib.request.Request:
    """A GET signed the way the SDK signs (HMAC-SHA256 over verb, path, date, host, content hash)."""
    host = emu.endpoint.removeprefix("http://")
    date_text = format_datetime(date.astimezone(UTC), usegmt=True)
    content_hash = base64.b64encode(hashlib.sha256(b"").digest()).decode()
    signature = sign(base64.b64decode(key), f"GET\n{PATH}\n{date_text};{host};{content_hash}")
    return urllib.request.Request(  # noqa: S310 - loopback http only
        f"{emu.endpoint}{PATH}",
        headers={
            "x-ms-date": date_text,
            "x-ms-content-sha256": content_hash,
            "Authorization": f"HMAC-SHA256 SignedHeaders={SIGNED}&Signature={signature}",
        },
    )


def status_of(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback http only
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def other_key() -> str:
    return base64.b64encode(b"some other key, not the emulator's").decode()


REQUESTS: Final[dict[str, tuple[Callable[[EmulatorThread], urllib.request.Request], int]]] = {
    "signed-now (control: 404, no such worker)": (lambda emu: signed_get(emu, date=datetime.now(UTC)), 404),
    "bad-hmac-signature": (lambda emu: signed_get(emu, date=datetime.now(UTC), key=other_key()), 401),
    "stale-x-ms-date": (lambda emu: signed_get(emu, date=datetime.now(UTC) - timedelta(minutes=20)), 401),
    "missing-authorization": (lambda emu: urllib.request.Request(f"{emu.endpoint}{PATH}"), 401),  # noqa: S310
}


@pytest.mark.parametrize("case", list(REQUESTS), ids=list(REQUESTS))
def test_the_emulator_answers_401_to_a_bad_signature_a_stale_date_or_no_authorization(
    emulator: EmulatorThread, case: str
) -> None:
    build, expected = REQUESTS[case]

    assert status_of(build(emulator)) == expected


def entra_handler(emu: EmulatorThread, credential: FakeCredential) -> OfferHandler:
    env = {"JOBROUTER_ENDPOINT": emu.endpoint}
    return OfferHandler(
        app_root=Path("."),
        settings_loader=lambda root: load_settings(root, env),
        responder_factory=lambda settings: build_responder(
            settings, credential=credential, logging_enable=True
        ),
    )


def test_the_entra_id_path_runs_at_debug_with_the_network_trace_on(emulator: EmulatorThread) -> None:
    handler = entra_handler(emulator, FakeCredential())
    offer = fresh(single(load_event("offer_issued.eventgrid")), seconds_left=60)

    result = handler.handle(envelope(offer))

    assert result.outcome is Outcome.GONE  # the emulator knows no such offer: 404 through a bearer token


def test_a_refused_bearer_token_is_a_configuration_error_naming_settings_not_the_token() -> None:
    with EmulatorThread(EmulatorConfig(bearer_token="another-token-entirely")) as emu:
        handler = entra_handler(emu, FakeCredential())
        offer = fresh(single(load_event("offer_issued.eventgrid")), seconds_left=60)

        with pytest.raises(ConfigurationError) as raised:
            handler.handle(envelope(offer))

    assert "JOBROUTER_ENDPOINT" in str(raised.value)
    assert BEARER_TOKEN not in str(raised.value)


def run_child_emulator(log: Path) -> None:
    """``python -m devstack.jobrouter`` at DEBUG with a key of its own, sent one SDK call (azure-core's
    HTTP logging at DEBUG, which redacts ``Authorization``), then stopped."""
    env = {**os.environ, ACCESS_KEY_ENV: ACCESS_KEY}
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "devstack.jobrouter", "--port", "0", "--log-level", "DEBUG"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            banner = wait_until(
                lambda: READY.search(log.read_text(encoding="utf-8")),
                timeout=30,
                what="the emulator listening",
            )
            credential = AzureKeyCredential(ACCESS_KEY)
            with JobRouterClient(banner["endpoint"], credential, retry_total=0) as client:
                assert list(client.list_workers()) == []
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)


def test_a_run_that_uses_every_secret_logs_none_of_them(tmp_path: Path) -> None:
    """Given DEBUG everywhere and azure-core's network trace on, when the emulator is called with good and
    bad HMAC signatures, with no credential, through the Entra ID path (a bearer token), and a child emulator
    runs with a key of its own, then no log line and no line of the child's log holds a secret."""
    scanner = SecretScanner()
    root = logging.getLogger()
    root.addHandler(scanner)
    try:
        with EmulatorThread(EmulatorConfig(bearer_token=BEARER_TOKEN)) as emu:
            for build, expected in REQUESTS.values():
                assert status_of(build(emu)) == expected
            offer = fresh(single(load_event("offer_issued.eventgrid")), seconds_left=60)
            assert entra_handler(emu, FakeCredential()).handle(envelope(offer)).outcome is Outcome.GONE
        child_log = tmp_path / "emulator.log"
        run_child_emulator(child_log)
        scanner.scan_file(child_log)
    finally:
        root.removeHandler(scanner)

    assert scanner.records > 0
    assert scanner.files == 1
    assert scanner.leaks == []


SCANNER_CASES: Final = {
    "dev-key-in-a-function-line": (f"connecting with accesskey={DEV_ACCESS_KEY}", 1),
    "hmac-signature": ("Authorization: HMAC-SHA256 SignedHeaders=x&Signature=" + "A" * 43 + "=", 1),
    "bearer-token": (f"Authorization: Bearer {BEARER_TOKEN}", 1),
    "emulator-banner-with-the-public-dev-key": (
        "Job Router emulator listening on http://127.0.0.1:1 (development key) connection string: "
        f"endpoint=http://127.0.0.1:1/;accesskey={DEV_ACCESS_KEY}",
        0,
    ),
    "redacted-header": ("'Authorization': 'REDACTED'", 0),
}


@pytest.mark.parametrize("case", list(SCANNER_CASES), ids=list(SCANNER_CASES))
def test_the_scanner_sees_each_kind_of_secret(case: str, tmp_path: Path) -> None:
    line, leaks = SCANNER_CASES[case]
    log = tmp_path / "child.log"
    log.write_text(f"first line\n{line}\nlast line\n", encoding="utf-8")
    scanner = SecretScanner()

    scanner.scan_file(log)

    assert len(scanner.leaks) == leaks
    assert all(DEV_ACCESS_KEY not in leak.text and BEARER_TOKEN not in leak.text for leak in scanner.leaks)
