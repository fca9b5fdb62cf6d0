"""A local Azure Communication Services Job Router emulator for the unmodified
``azure-communication-jobrouter`` SDK (REST API 2023-11-01) over HTTP: routing engine, Event Grid
webhooks, fault injection, SQLite state.

Start it with ``python -m devstack.jobrouter`` or in-process::

    from devstack.jobrouter import EmulatorThread

    with EmulatorThread() as emu:
        client = JobRouterClient(emu.endpoint, AzureKeyCredential(emu.access_key))

What is supported is listed in docs/emulator-support-matrix.md.
"""

from devstack.jobrouter.config import DEFAULT_TOPIC, DEV_ACCESS_KEY, EmulatorConfig
from devstack.jobrouter.server import Emulator, EmulatorThread

__all__ = ["DEFAULT_TOPIC", "DEV_ACCESS_KEY", "Emulator", "EmulatorConfig", "EmulatorThread"]
