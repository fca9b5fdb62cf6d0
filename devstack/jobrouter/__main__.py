"""``python -m devstack.jobrouter``: run the Job Router emulator until SIGINT/SIGTERM.

Prints one line when it listens: the endpoint and, for the well-known development key, the connection
string (that key is public). With a key of your own, only the endpoint is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.jobrouter.config import DEFAULT_TOPIC, DEV_ACCESS_KEY, WORKER_IDLE_SECONDS, EmulatorConfig
from devstack.jobrouter.eventgrid import Subscription
from devstack.jobrouter.server import Emulator
from devstack.jobrouter.store import StateFileError

__all__ = ["main", "parse_args"]

ACCESS_KEY_ENV = "JOBROUTER_EMULATOR_ACCESS_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.jobrouter",
        description=(
            "Local Azure Communication Services Job Router emulator (REST API 2023-11-01) for the unmodified "
            "azure-communication-jobrouter SDK. Build clients with "
            "JobRouterClient(ENDPOINT, AzureKeyCredential(KEY)): the SDK turns http:// in a connection "
            "string into https://. Admin API (no auth, loopback dev tool) under /admin: see "
            "docs/emulator-support-matrix.md."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8181, help="port to listen on; 0 picks a free one (default: 8181)"
    )
    parser.add_argument(
        "--access-key",
        default=None,
        help=(
            "base64 access key clients sign with (default: $"
            f"{ACCESS_KEY_ENV} or the documented well-known development key). Prefer the environment "
            "variable for real keys: command lines are visible to other local users"
        ),
    )
    parser.add_argument(
        "--bearer-token",
        default=None,
        help="also accept 'Authorization: Bearer TOKEN' (exercises Entra ID code paths locally)",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL[#options]",
        help=(
            "Event Grid webhook subscription; repeatable. Options go in the URL fragment, e.g. "
            "URL#types=RouterWorkerOfferIssued,RouterWorkerOfferRevoked&schema=cloudevents"
            "&max-attempts=5&retry-scale=0.01&dead-letter=dead.jsonl (see docs/eventgrid-delivery.md)"
        ),
    )
    parser.add_argument(
        "--schema",
        choices=("eventgrid", "cloudevents"),
        default="eventgrid",
        help="event schema for webhooks that do not set one (default: eventgrid)",
    )
    parser.add_argument(
        "--dead-letter",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON-lines dead-letter file for webhooks that do not set one (default: drop and log)",
    )
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=1.0,
        help="multiply Event Grid's retry schedule and TTL by this for every webhook (e.g. 0.01 in tests)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="FILE",
        help="persist all state to this SQLite file; a restart resumes it, timers included (default: memory)",
    )
    parser.add_argument("--topic", default=DEFAULT_TOPIC, help="event topic/source (an ACS resource id)")
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long new or updated jobs stay created/pendingClassification before queueing (default: 0)",
    )
    parser.add_argument(
        "--default-offer-expiry",
        type=float,
        default=31_536_000.0,
        metavar="SECONDS",
        help="offer lifetime when a distribution policy has no offerExpiresAfterSeconds (default: 1 year)",
    )
    parser.add_argument(
        "--worker-idle-seconds",
        type=float,
        default=WORKER_IDLE_SECONDS,
        metavar="SECONDS",
        help="deregister a registered worker idle (no offer, no job) this long, as the service does after "
        "7 days (default: 604800; shorten it to watch it happen)",
    )
    parser.add_argument(
        "--duplicate-fraction", type=float, default=0.0, help="deliver this fraction of events twice (0-1)"
    )
    parser.add_argument(
        "--reorder-window",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="hold events up to this long and deliver them shuffled (default: 0 = in order)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for every random choice (reproducible runs)"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level; INFO logs one line per request (default: INFO)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[EmulatorConfig, str]:
    """Parse the command line into a config and the log level (exits with a message on bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    access_key = args.access_key or os.environ.get(ACCESS_KEY_ENV) or DEV_ACCESS_KEY
    try:
        webhooks = tuple(
            Subscription.parse(
                spec, schema=args.schema, dead_letter_path=args.dead_letter, retry_scale=args.retry_scale
            )
            for spec in args.webhook
        )
        config = EmulatorConfig(
            host=args.host,
            port=args.port,
            access_key=access_key,
            bearer_token=args.bearer_token,
            webhooks=webhooks,
            state_file=args.state,
            topic=args.topic,
            processing_delay=args.processing_delay,
            default_offer_expiry_seconds=args.default_offer_expiry,
            worker_idle_seconds=args.worker_idle_seconds,
            duplicate_fraction=args.duplicate_fraction,
            reorder_window=args.reorder_window,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return config, str(args.log_level)


def banner(emulator: Emulator) -> str:
    """The one start-up line (connection string only for the public development key)."""
    if emulator.access_key == DEV_ACCESS_KEY:
        return (
            f"Job Router emulator listening on {emulator.endpoint} "
            f"(development key) connection string: {emulator.connection_string}"
        )
    return (
        f"Job Router emulator listening on {emulator.endpoint} "
        "(the connection string uses the access key you gave: endpoint=<endpoint>/;accesskey=<your key>)"
    )


async def _run(config: EmulatorConfig) -> int:
    emulator = Emulator(config)
    await emulator.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(banner(emulator), flush=True)
    stopped = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(emulator.wait_failed())
    try:
        await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        if failed.done():
            print(f"error: {failed.result()}; the emulator stopped", file=sys.stderr, flush=True)
            return 1
    finally:
        stopped.cancel()
        failed.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await emulator.stop()
        logging.getLogger(__name__).info("Job Router emulator stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    config, level = parse_args(argv)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return asyncio.run(_run(config))
    except (StateFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
