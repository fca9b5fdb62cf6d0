"""``python -m devstack.jobrouter``: run the Job Router emulator until SIGINT/SIGTERM (or export/import).

Prints one line when it listens: the endpoint and, for the well-known development key, the connection
string (that key is public). With a key of your own, only the endpoint is printed. ``--import FILE``
applies a configuration document first; ``export`` and ``import`` subcommands are :mod:`.config_cli`'s.
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

from azure.core.exceptions import HttpResponseError

from devstack.jobrouter import config_cli
from devstack.jobrouter.config import DEFAULT_TOPIC, DEV_ACCESS_KEY, WORKER_IDLE_SECONDS, EmulatorConfig
from devstack.jobrouter.config_document import ConfigDocument, ConfigDocumentError
from devstack.jobrouter.config_transfer import apply_configuration, connect
from devstack.jobrouter.eventgrid import DEFAULT_EVENT_LOG_LIMIT, Subscription
from devstack.jobrouter.rule_http import DEFAULT_RULE_TIMEOUT_SECONDS
from devstack.jobrouter.server import Emulator
from devstack.jobrouter.store import StateFileError

__all__ = ["main", "parse_args", "parse_command_line"]

ACCESS_KEY_ENV = "JOBROUTER_EMULATOR_ACCESS_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.jobrouter",
        description=(
            "Local Azure Communication Services Job Router emulator (REST API 2023-11-01) for the unmodified "
            "azure-communication-jobrouter SDK. Build clients with "
            "JobRouterClient(ENDPOINT, AzureKeyCredential(KEY)): the SDK turns http:// in a connection "
            "string into https://. Admin API (no auth, loopback dev tool) under /admin: see "
            "docs/emulator-support-matrix.md. Configuration copies: 'python -m devstack.jobrouter export "
            "--help' and 'python -m devstack.jobrouter import --help'."
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
        "--event-log-limit",
        type=int,
        default=DEFAULT_EVENT_LOG_LIMIT,
        metavar="N",
        help=(
            "keep the N most recent events, and their delivery records, for GET /admin/events; older "
            "ones are forgotten so memory stays flat; delivery totals stay complete "
            f"(default: {DEFAULT_EVENT_LOG_LIMIT})"
        ),
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for every random choice (reproducible runs)"
    )
    parser.add_argument(
        "--rule-timeout",
        type=float,
        default=DEFAULT_RULE_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long a function or webhook rule may take to answer before the rule fails "
        f"(default: {DEFAULT_RULE_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--import",
        dest="import_file",
        type=Path,
        default=None,
        metavar="FILE",
        help="apply a configuration document (written by 'python -m devstack.jobrouter export') at start-up; "
        "its secrets come from the JOBROUTER_SECRET_* variables it names",
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
    config, level, _ = parse_command_line(argv)
    return config, level


def parse_command_line(argv: Sequence[str] | None = None) -> tuple[EmulatorConfig, str, Path | None]:
    """The config, the log level and the ``--import`` document (exits with a message on bad input)."""
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
            rule_timeout_seconds=args.rule_timeout,
            event_log_limit=args.event_log_limit,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return config, str(args.log_level), args.import_file


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


async def _import(emulator: Emulator, document: ConfigDocument) -> None:
    """Apply the document to the emulator through the SDK (on a thread: the SDK client is synchronous)."""
    resources = document.with_secrets(os.environ)
    clients = connect(connection_string=f"endpoint={emulator.endpoint}/;accesskey={emulator.access_key}")
    try:
        await asyncio.to_thread(apply_configuration, clients, resources)
    finally:
        clients.close()


async def _run(config: EmulatorConfig, document: ConfigDocument | None = None) -> int:
    emulator = Emulator(config)
    await emulator.start()
    if document is not None:
        try:
            await _import(emulator, document)
        except BaseException:
            await emulator.stop()
            raise
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
    """Entry point (``export``/``import`` go to :mod:`.config_cli`); returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] in (["export"], ["import"]):
        return config_cli.main(arguments)
    config, level, import_file = parse_command_line(arguments)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        # Read and check the document (secrets included) before listening: bad input never starts.
        document = config_cli.read_document_file(import_file) if import_file is not None else None
        if document is not None:
            document.with_secrets(os.environ)
        return asyncio.run(_run(config, document))
    except (StateFileError, ValueError, ConfigDocumentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except HttpResponseError as exc:
        print(f"error: --import: the emulator refused the document: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
