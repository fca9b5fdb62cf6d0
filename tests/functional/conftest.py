"""Worker fidelity: function_app.py indexed and invoked through azure-functions-runtime 1.3.0.

Uses devstack.functions_worker.WorkerApp (the worker library's own index/bind/invoke path; see
docs/functions-host.md). The SDK client is replaced with an in-memory fake through the factory the
app's handler resolves at first use, ``offer_handlers.client.build_responder``; no network.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

import offer_handlers.client
from devstack.functions_worker import InvocationResult, WorkerApp
from offer_handlers.settings import SETTING_NAMES, Settings
from tests.fixtures import REPO_ROOT
from tests.fixtures.fakes import FakeResponder
from tests.fixtures.http import ACCESS_KEY

FUNCTION = "on_offer_issued"
POLICY = {
    "version": 1,
    "rules": [
        {
            "name": "vip-retry",
            "when": {"jobLabels": [{"key": "vip", "labelOperator": "equal", "value": True}]},
            "then": {"action": "decline", "retryAfterSeconds": 60},
        },
        {"name": "chat-leave", "when": {"channels": ["chat"]}, "then": {"action": "leave"}},
    ],
    "default": {"action": "accept"},
}
CONNECTION_STRING = f"endpoint=http://127.0.0.1:9;accesskey={ACCESS_KEY}"


@pytest.fixture
def fake() -> FakeResponder:
    return FakeResponder()


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch, fake: FakeResponder) -> Iterator[WorkerApp]:
    """The app as the worker indexes it, with fresh settings and the fake responder."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OFFER_POLICY", json.dumps(POLICY))
    monkeypatch.setenv("JOBROUTER_CONNECTION_STRING", CONNECTION_STRING)

    def build_fake(settings: Settings, **_: Any) -> FakeResponder:
        return fake

    monkeypatch.setattr(offer_handlers.client, "build_responder", build_fake)
    app = WorkerApp.load(REPO_ROOT)  # a fresh import of function_app: a fresh handler per test
    yield app
    app.close()


def invoke(app: WorkerApp, event: object) -> InvocationResult:
    """One invocation through the worker's binding path (as the host does for each event)."""
    return asyncio.run(app.invoke(FUNCTION, event))


async def invoke_together(app: WorkerApp, *events: object) -> list[InvocationResult]:
    """Several invocations at once, as the host runs the events of one request."""
    return list(await asyncio.gather(*(app.invoke(FUNCTION, e) for e in events)))
