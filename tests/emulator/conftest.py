"""Fixtures for the Job Router emulator specs: an emulator on a free loopback port and real SDK clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from tests.emulator.helpers import admin_client, router_client


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    """A fresh in-memory emulator (its own thread and loop) for one test."""
    with EmulatorThread(EmulatorConfig(seed=7)) as emulator:
        yield emulator


@pytest.fixture
def admin(emu: EmulatorThread) -> Iterator[JobRouterAdministrationClient]:
    """The real administration client, signing with the emulator's key; no retries."""
    with admin_client(emu) as client:
        yield client


@pytest.fixture
def client(emu: EmulatorThread) -> Iterator[JobRouterClient]:
    """The real router client, signing with the emulator's key; no retries."""
    with router_client(emu) as client:
        yield client
