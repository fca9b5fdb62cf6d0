"""Emulator settings: :class:`EmulatorConfig` and the well-known development access key.

``DEV_ACCESS_KEY`` is public on purpose, like Azurite's account key: it is the default so that local runs
and tests need no secret. It is valid base64 (the SDK base64-decodes the key before signing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devstack.jobrouter.eventgrid import DEFAULT_EVENT_LOG_LIMIT, Subscription
from devstack.jobrouter.rule_http import DEFAULT_RULE_TIMEOUT_SECONDS

__all__ = ["DEFAULT_TOPIC", "DEV_ACCESS_KEY", "WORKER_IDLE_SECONDS", "EmulatorConfig"]

#: The service deregisters a worker registered but idle for 7 days.
WORKER_IDLE_SECONDS: Final = 7 * 24 * 3600.0

#: The documented, well-known development key (base64 of an ASCII sentence). Never use it outside dev.
DEV_ACCESS_KEY: Final = (
    "ZGV2c3RhY2stam9icm91dGVyLWVtdWxhdG9yOiB3ZWxsLWtub3duIGRldmVsb3BtZW50IGtleSwgbmV2ZXIgc2VjcmV0"
)

#: Event ``topic``/``source``: the shape of an ACS resource id (all-zero subscription, made-up names).
DEFAULT_TOPIC: Final = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/devstack"
    "/providers/Microsoft.Communication/communicationServices/jobrouter-emulator"
)


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything an :class:`~devstack.jobrouter.server.Emulator` needs.

    - ``port=0`` picks a free port (read it back from ``Emulator.endpoint``);
    - ``bearer_token`` additionally accepts ``Authorization: Bearer <token>`` (for Entra ID code paths);
    - ``webhooks`` are Event Grid subscriptions; ``topic`` goes into every event envelope;
    - ``state_file`` persists all state to SQLite so a restart resumes it (None = memory only);
    - ``processing_delay`` is how long a new or updated job stays ``created``/``pendingClassification``
      before it is classified and queued (the live service takes about a second);
    - ``default_offer_expiry_seconds`` applies when a distribution policy has no ``offerExpiresAfterSeconds``;
    - ``worker_idle_seconds``: a registered worker idle (no offer, no job) this long is deregistered, as the
      service does after 7 days (the default); shorten it to watch it happen;
    - ``max_clock_skew_seconds`` bounds ``x-ms-date`` against the server clock (the service uses 15 minutes);
    - ``default_page_size`` is the page size when a list request has no ``maxpagesize``;
    - ``duplicate_fraction`` / ``reorder_window`` / ``seed`` are the event publisher's test knobs;
    - ``rule_timeout_seconds`` bounds each function/webhook rule call (a late answer fails the rule);
    - ``event_log_limit`` is how many of the most recent events (with their delivery records) the admin API
      keeps; older ones are forgotten so a long run's memory stays flat (the delivery totals stay complete).
    """

    host: str = "127.0.0.1"
    port: int = 0
    access_key: str = DEV_ACCESS_KEY
    bearer_token: str | None = None
    webhooks: tuple[Subscription, ...] = ()
    state_file: Path | None = None
    topic: str = DEFAULT_TOPIC
    processing_delay: float = 0.0
    default_offer_expiry_seconds: float = 31_536_000.0
    worker_idle_seconds: float = WORKER_IDLE_SECONDS
    max_clock_skew_seconds: float = 900.0
    default_page_size: int = 20
    duplicate_fraction: float = 0.0
    reorder_window: float = 0.0
    seed: int | None = None
    rule_timeout_seconds: float = DEFAULT_RULE_TIMEOUT_SECONDS
    event_log_limit: int = DEFAULT_EVENT_LOG_LIMIT

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, got {self.port}")
        if self.processing_delay < 0:
            raise ValueError(f"processing_delay must be >= 0, got {self.processing_delay}")
        if self.default_offer_expiry_seconds <= 0:
            raise ValueError("default_offer_expiry_seconds must be > 0")
        if not self.worker_idle_seconds > 0:
            raise ValueError(f"worker_idle_seconds must be > 0, got {self.worker_idle_seconds}")
        if self.default_page_size < 1:
            raise ValueError(f"default_page_size must be >= 1, got {self.default_page_size}")
        if self.rule_timeout_seconds <= 0:
            raise ValueError(f"rule_timeout_seconds must be > 0, got {self.rule_timeout_seconds}")
        if isinstance(self.event_log_limit, bool) or self.event_log_limit < 1:
            raise ValueError(f"event_log_limit must be >= 1, got {self.event_log_limit}")
        if self.bearer_token is not None and not self.bearer_token.strip():
            raise ValueError("bearer_token must not be empty")

    def rng(self) -> random.Random:
        """A random generator seeded from ``seed`` (weighted allocation, fault fractions)."""
        return random.Random(self.seed)

    def __repr__(self) -> str:
        # never print the key or the token
        return (
            f"EmulatorConfig(host={self.host!r}, port={self.port}, access_key=<hidden>, "
            f"bearer_token={'<set>' if self.bearer_token else None}, webhooks={len(self.webhooks)}, "
            f"state_file={self.state_file!s})"
        )
