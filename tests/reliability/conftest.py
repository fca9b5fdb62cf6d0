"""Reliability run setup: every log line at DEBUG (azure-core HTTP logging included) goes through the
secret scanner, and the secret check runs after every other test of this package."""

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The secret scan reads what every other reliability test logged, so it runs last of them
    (the other directories' tests keep their places)."""
    mine = [i for i, item in enumerate(items) if "tests/reliability/" in item.nodeid]
    ordered = sorted((items[i] for i in mine), key=lambda item: "test_secrets_last" in item.nodeid)
    for index, item in zip(mine, ordered, strict=True):
        items[index] = item


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
