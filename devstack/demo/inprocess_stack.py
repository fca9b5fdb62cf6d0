"""The dev stack on the caller's event loop: the emulator and the Functions host in this process.

For fast end-to-end tests; the wiring is ``stack.py``'s, the same as the process stack's.
"""

from __future__ import annotations

import logging
from typing import Final

from devstack.demo.hostlog import (
    DECISION_LOGGER,
    FLEET_ACTION_LOGGER,
    HOST_LOGGER,
    DecisionLogHandler,
    HostSnapshot,
    HostTally,
)
from devstack.demo.stack import (
    FUNCTION_NAME,
    LIFECYCLE_FUNCTION_NAME,
    StackInfo,
    StackOptions,
    free_port,
    host_settings,
    wait_until_validated,
    webhook_specs,
)
from devstack.jobrouter.config import DEV_ACCESS_KEY, WORKER_IDLE_SECONDS

__all__ = ["InProcessStack"]

# The loggers the tally reads: decision lines, fleet lines and the host's "Executed" lines.
_TALLIED: Final = (DECISION_LOGGER, FLEET_ACTION_LOGGER, HOST_LOGGER)


class InProcessStack:
    """The emulator and the Functions host on the running event loop (fast end-to-end tests).

    The host applies its settings to ``os.environ`` (as Core Tools does), so run one at a time per process.
    """

    def __init__(self, options: StackOptions, *, publisher_seed: int | None = None) -> None:
        from devstack.functions_host import FunctionsHost
        from devstack.jobrouter import Emulator

        self.options = options
        self.tally = HostTally(FUNCTION_NAME)
        self._publisher_seed = publisher_seed
        self.host: FunctionsHost | None = None
        self.emulator: Emulator | None = None
        self._handler: DecisionLogHandler | None = None
        self._old_levels: dict[str, int] = {}
        self._host_cls = FunctionsHost
        self._emulator_cls = Emulator

    def host_snapshot(self) -> HostSnapshot:
        """The functions' invocations, decision and fleet lines so far (kept after ``stop``)."""
        return self.tally.snapshot()

    def failure(self) -> str | None:
        """Always None: both run on this loop, so a failure raises in the caller."""
        return None  # both run on this loop: a failure raises in the caller instead

    async def start(self, *, agent_webhook: str) -> StackInfo:
        """Start the host, then the emulator wired to it; return when both webhooks are validated."""
        from devstack.jobrouter import EmulatorConfig
        from devstack.jobrouter.eventgrid import DEFAULT_EVENT_LOG_LIMIT, Subscription

        options = self.options
        self._handler = DecisionLogHandler(self.tally)
        for name in _TALLIED:
            logger = logging.getLogger(name)
            self._old_levels[name] = logger.level
            logger.setLevel(logging.INFO)
            logger.addHandler(self._handler)
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        self.host = self._host_cls(options.app_dir, host_settings(options, endpoint), "127.0.0.1", 0)
        await self.host.start()
        webhook_url = self.host.webhook_url(FUNCTION_NAME)
        lifecycle_url = self.host.webhook_url(LIFECYCLE_FUNCTION_NAME) if options.fleet_file else None
        config = EmulatorConfig(
            port=port,
            webhooks=tuple(
                Subscription.parse(spec, schema=options.schema, retry_scale=options.retry_scale)
                for spec in webhook_specs(webhook_url, agent_webhook, lifecycle_url=lifecycle_url)
            ),
            seed=self._publisher_seed if self._publisher_seed is not None else options.seed,
            event_log_limit=options.event_log_limit or DEFAULT_EVENT_LOG_LIMIT,
            worker_idle_seconds=options.worker_idle_seconds or WORKER_IDLE_SECONDS,
        )
        self.emulator = self._emulator_cls(config)
        await self.emulator.start()
        await wait_until_validated(endpoint, timeout=15.0)
        return StackInfo(
            endpoint=endpoint,
            access_key=DEV_ACCESS_KEY,
            host_url=self.host.url,
            webhook_url=webhook_url,
            agent_webhook=agent_webhook,
            schema=options.schema,
            logs={},
        )

    async def stop(self) -> None:
        """Stop the emulator, then the host (idempotent)."""
        emulator, self.emulator = self.emulator, None
        if emulator is not None:
            await emulator.stop()
        host, self.host = self.host, None
        if host is not None:
            await host.stop()
        if self._handler is not None:
            for name in _TALLIED:
                logger = logging.getLogger(name)
                logger.removeHandler(self._handler)
                logger.setLevel(self._old_levels.get(name, logging.NOTSET))
            self._handler = None
