"""The dev stack's contract: a Job Router emulator and a Functions host stand-in, wired together.

``Stack`` is what the demo and the end-to-end tests drive; ``ProcessStack`` (``process_stack.py``) runs the
two as child processes, ``InProcessStack`` (``inprocess_stack.py``) on the caller's event loop.

Wiring, for both: the emulator listens on a free loopback port chosen first; the host gets the app settings
``JOBROUTER_CONNECTION_STRING`` (``endpoint=http://127.0.0.1:PORT/;accesskey=<dev key>``),
``OFFER_POLICY_FILE`` and, with a bot fleet, ``FLEET_FILE``; the emulator gets the webhooks the deployed
subscriptions stand for: the host's ``/runtime/webhooks/eventgrid?functionName=on_offer_issued``
(offer-issued events only), with a fleet also ``...?functionName=on_worker_lifecycle`` (offer-expired and
deregistered events only), and the agent app's webhook (every event).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

import aiohttp

from devstack.demo.hostlog import HostSnapshot
from devstack.jobrouter.config import DEV_ACCESS_KEY
from devstack.jobrouter.eventgrid import Schema

__all__ = [
    "APP_DIR",
    "FUNCTION_NAME",
    "LIFECYCLE_EVENT_TYPES",
    "LIFECYCLE_FUNCTION_NAME",
    "OFFER_SUBSCRIPTION",
    "Stack",
    "StackError",
    "StackInfo",
    "StackOptions",
    "free_port",
    "host_settings",
    "wait_until_validated",
    "webhook_specs",
]

FUNCTION_NAME: Final = "on_offer_issued"
LIFECYCLE_FUNCTION_NAME: Final = "on_worker_lifecycle"
#: The name of the emulator's subscription for the host's offer function (the publisher's statistics and
#: log call it by this name, upper-cased as Event Grid writes subscription names).
OFFER_SUBSCRIPTION: Final = "functions-host"
#: What the deployed lifecycle subscription lets through (infra/app/events.bicep).
LIFECYCLE_EVENT_TYPES: Final = ("RouterWorkerOfferExpired", "RouterWorkerDeregistered")
APP_DIR: Final = Path(__file__).resolve().parent.parent.parent


class StackError(RuntimeError):
    """The dev stack could not be started (the message says which part and why)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the emulator binds it next; a clash is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class StackOptions:
    """How to run the stack. ``host_settings`` are extra app settings for the function.

    With ``fleet_file`` the function app keeps that bot fleet registered (``FLEET_FILE``), and the
    emulator delivers the worker lifecycle events to ``on_worker_lifecycle``; ``reconcile_schedule`` is
    then the reconciliation timer's (``FLEET_RECONCILE_SCHEDULE``; None: every minute).
    """

    policy_file: Path
    fleet_file: Path | None = None
    reconcile_schedule: str | None = None
    schema: Schema = "eventgrid"
    seed: int | None = None
    retry_scale: float = 0.05
    app_dir: Path = APP_DIR
    log_dir: Path | None = None
    host_settings: Mapping[str, str] = field(default_factory=dict)
    #: The emulator deregisters a worker idle this long (None: the service's 7 days).
    worker_idle_seconds: float | None = None
    #: The child processes' --log-level (DEBUG turns on azure-core's HTTP logging in the host).
    log_level: Literal["DEBUG", "INFO", "WARNING"] = "INFO"
    #: The emulator's --event-log-limit (None: its default). Raise it when a run reads back every event.
    event_log_limit: int | None = None


@dataclass(frozen=True, slots=True)
class StackInfo:
    """Where everything listens, for clients and for the ``--keep-running`` printout."""

    endpoint: str
    access_key: str
    host_url: str
    webhook_url: str
    agent_webhook: str
    schema: Schema
    logs: Mapping[str, Path]

    @property
    def connection_string(self) -> str:
        """The function's setting: ``endpoint=http://...;accesskey=<the public development key>``."""
        return f"endpoint={self.endpoint}/;accesskey={self.access_key}"


class Stack(Protocol):
    """A running emulator + Functions host pair."""

    async def start(self, *, agent_webhook: str) -> StackInfo:
        """Start both, wired to each other and to ``agent_webhook``; return when events flow."""
        ...

    async def stop(self) -> None:
        """Stop both (idempotent)."""
        ...

    def host_snapshot(self) -> HostSnapshot:
        """The function's invocations and decision lines so far."""
        ...

    def failure(self) -> str | None:
        """Why the stack stopped working (a process exited), or None while it runs."""
        ...


def host_settings(options: StackOptions, endpoint: str) -> dict[str, str]:
    """The function's app settings for a stack whose emulator listens at ``endpoint``."""
    fleet = {} if options.fleet_file is None else {"FLEET_FILE": str(options.fleet_file.resolve())}
    if options.fleet_file is not None and options.reconcile_schedule is not None:
        fleet["FLEET_RECONCILE_SCHEDULE"] = options.reconcile_schedule
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "JOBROUTER_CONNECTION_STRING": f"endpoint={endpoint}/;accesskey={DEV_ACCESS_KEY}",
        "OFFER_POLICY_FILE": str(options.policy_file.resolve()),
        **fleet,
        **options.host_settings,
    }


def webhook_specs(
    webhook_url: str, agent_webhook: str, *, lifecycle_url: str | None = None
) -> tuple[str, ...]:
    """The emulator's ``--webhook`` specs, one per subscription the deployment would have.

    The host's offer function (offer-issued events only); with ``lifecycle_url``, the host's lifecycle
    function (offer-expired and deregistered events only); the agent app (every event).
    """
    lifecycle = (
        ()
        if lifecycle_url is None
        else (f"{lifecycle_url}#types={','.join(LIFECYCLE_EVENT_TYPES)}&name=fleet-keeper",)
    )
    return (
        f"{webhook_url}#types=RouterWorkerOfferIssued&name={OFFER_SUBSCRIPTION}",
        *lifecycle,
        f"{agent_webhook}#name=agent-app",
    )


def _all_validated(states: object) -> bool:
    return isinstance(states, dict) and bool(states) and all(v == "validated" for v in states.values())


async def wait_until_validated(endpoint: str, timeout: float) -> None:
    """Poll the emulator's ``GET /admin/publisher`` until every webhook passed the handshake."""
    deadline = time.monotonic() + timeout
    states: object = None
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{endpoint}/admin/publisher") as response:
                    if response.status == 200:
                        states = (await response.json()).get("subscriptions", {})
                        if _all_validated(states):
                            return
            await asyncio.sleep(0.05)
    raise StackError(f"the emulator's webhooks were not validated within {timeout:g}s: {states}")
