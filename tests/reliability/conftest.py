"""Reliability run setup: every log line at DEBUG (azure-core HTTP logging included) goes through the
secret scanner, and the secret check runs after everything else in the session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import offer_handlers.client
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The secret scan reads what every other test logged, so it runs last."""
    items.sort(key=lambda item: "test_secrets_last" in item.nodeid)


@pytest.fixture(scope="session")
def scanner() -> SecretScanner:
    """The session's scanner (a root handler at DEBUG)."""
    return _SCANNER


@pytest.fixture(scope="session", autouse=True)
def _debug_logging_scanned() -> Iterator[None]:
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


@pytest.fixture
def network_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The function's SDK client with azure-core's network trace on (``logging_enable=True``)."""
    real = offer_handlers.client.build_responder

    def traced(settings: Any, **kwargs: Any) -> Any:
        return real(settings, **{**kwargs, "logging_enable": True})

    monkeypatch.setattr(offer_handlers.client, "build_responder", traced)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    """The run's own figures (tests passed and failed, wall time) for RELIABILITY.md."""
    import time

    from tests.reliability.figures import record

    stats = terminalreporter.stats
    counts = {key: len(stats.get(key, [])) for key in ("passed", "failed", "error", "skipped", "deselected")}
    started = getattr(terminalreporter, "_sessionstarttime", None)
    seconds = round(time.time() - started, 1) if isinstance(started, float) else None
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
