"""Fixtures for the end-to-end specs: the whole dev stack on loopback, one fresh stack per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.jobrouter.eventgrid import Schema
from tests.e2e.support import LiveStack, stack_of


@pytest.fixture(params=["eventgrid", "cloudevents"])
def stack(request: pytest.FixtureRequest) -> Iterator[LiveStack]:
    """Emulator + Functions host (function_app.py) + agent app, for each Event Grid schema."""
    schema: Schema = request.param
    yield from stack_of(schema)


@pytest.fixture
def eg_stack() -> Iterator[LiveStack]:
    """The same stack with the Event Grid schema only."""
    yield from stack_of("eventgrid")
