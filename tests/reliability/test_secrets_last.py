"""Issue 6 (5), secrets. The emulator answers 401 to a bad HMAC signature, a stale ``x-ms-date`` and a
missing ``Authorization``; the function's Entra ID path runs at DEBUG with azure-core's network trace on;
and, last of the session, no line logged by any test here (nor any child process's log file) holds the
access key, a connection string, an HMAC signature or a bearer token."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Final

import pytest

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.jobrouter.auth import sign
from devstack.jobrouter.config import DEV_ACCESS_KEY
from offer_handlers.client import build_responder
from offer_handlers.errors import ConfigurationError
from offer_handlers.execute import Outcome
from offer_handlers.handler import OfferHandler
from offer_handlers.settings import load_settings
from tests.fixtures import envelope, fresh, load_event, single
from tests.fixtures.http import FakeCredential
from tests.reliability.figures import record
from tests.reliability.secrets_scan import BEARER_TOKEN, SecretScanner

PATH: Final = "/routing/workers/w-1?api-version=2023-11-01"
SIGNED: Final = "x-ms-date;host;x-ms-content-sha256"


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


def test_no_secret_in_any_log_line_of_the_run(scanner: SecretScanner) -> None:
    """Runs last (conftest orders it): everything the session logged at DEBUG, and child logs."""
    record(
        "secrets",
        "scan",
        {
            "lines_scanned": scanner.lines,
            "log_records": scanner.records,
            "child_log_files": scanner.files,
            "lines_by_source": scanner.lines_by_source(),
            "lines_with_a_secret": len(scanner.leaks),
            "emulator_banners_with_the_public_dev_key": scanner.dev_key_banners,
        },
        command="make reliability (the whole session; test_secrets_last.py runs last)",
    )
    assert scanner.records > 0
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
