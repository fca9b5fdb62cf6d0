"""Reliability run setup: every log line at DEBUG (azure-core HTTP logging included) goes through the
secret scanner, and each test fails when a line logged while it ran (or a child log it scanned) holds a
secret, whatever order the tests run in."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.secrets_scan import SecretScanner

_LOUD = (
    "azure",
    "azure.core",
    "azure.core.pipeline.policies.http_logging_policy",
    "offer_handlers",
    "devstack",
    "aiohttp",
)
_SCANNER = SecretScanner()
_STARTED: list[float] = []
#: How many of the scanner's leaks a test has already been failed for.
_REPORTED: list[int] = [0]


def _unreported_leaks() -> str | None:
    leaks = _SCANNER.leaks[_REPORTED[0] :]
    _REPORTED[0] += len(leaks)
    if not leaks:
        return None
    return f"{len(leaks)} log line(s) held a secret: " + "; ".join(f"{x.source}: {x.text}" for x in leaks[:5])


@pytest.fixture(scope="session")
def scanner() -> SecretScanner:
    """The session's scanner (a root handler at DEBUG)."""
    return _SCANNER


@pytest.fixture(scope="package", autouse=True)
def _debug_logging_scanned() -> Iterator[None]:
    """DEBUG everywhere while this package's tests run (and only then: other suites keep their levels)."""
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(_SCANNER)
    levels = {name: logging.getLogger(name).level for name in _LOUD}
    for name in _LOUD:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    root.removeHandler(_SCANNER)
    root.setLevel(old)
    leaks = _unreported_leaks()  # lines logged by the last module's fixtures as they closed
    if leaks:
        pytest.fail(leaks, pytrace=False)


@pytest.fixture(autouse=True)
def _no_secret_logged() -> Iterator[None]:
    """Fail the test when a line logged since the previous check (its fixtures' set-up included) holds a
    secret: the access keys, a connection string carrying one, an HMAC signature or a bearer token."""
    yield
    leaks = _unreported_leaks()
    if leaks:
        pytest.fail(leaks, pytrace=False)


def pytest_sessionstart(session: pytest.Session) -> None:
    _STARTED.append(time.monotonic())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    """The run's own figures (tests passed and failed, wall time) for RELIABILITY.md."""
    from tests.reliability.figures import record

    stats = terminalreporter.stats
    counts = {key: len(stats.get(key, [])) for key in ("passed", "failed", "error", "skipped", "deselected")}
    seconds = round(time.monotonic() - _STARTED[0], 1) if _STARTED else None
    slowest = sorted(
        (
            (report.nodeid, round(report.duration, 1))
            for report in stats.get("passed", []) + stats.get("failed", [])
            if getattr(report, "when", "") == "call"
        ),
        key=lambda item: -item[1],
    )[:8]
    record(
        "run",
        "session",
        {"exit_status": int(exitstatus), "tests": counts, "wall_seconds": seconds, "slowest": slowest},
        command="make reliability",
    )
    if _SCANNER.records or _SCANNER.files:
        record(
            "secrets",
            "scan",
            {
                "lines_scanned": _SCANNER.lines,
                "log_records": _SCANNER.records,
                "child_log_files": _SCANNER.files,
                "lines_by_source": _SCANNER.lines_by_source(),
                "lines_with_a_secret": len(_SCANNER.leaks),
                "emulator_banners_with_the_public_dev_key": _SCANNER.dev_key_banners,
            },
            command="make reliability (each reliability test's log lines and child logs, checked after it)",
        )
