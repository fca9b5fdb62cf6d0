"""``python -m devstack.functions_host``: serve a function app's triggers on loopback until stopped.

Prints the Event Grid webhook URL on its first line once it is listening, then one line per HTTP function
and timer function; SIGINT or SIGTERM stops it cleanly (exit 0).
Exit 1 when the app cannot be indexed or the port cannot be bound, 2 for bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack.functions_host.host import DEFAULT_HOST, FUNCTION_KEY_SETTING, FunctionsHost
from devstack.functions_host.settings import SettingsError, load_settings_file
from devstack.functions_worker import WorkerIndexError

_log = logging.getLogger("devstack.functions_host")

DEFAULT_PORT = 7071
SETTINGS_FILE = "local.settings.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.functions_host",
        description="Serve a Python v2 function app's Event Grid webhook like the Functions host does.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    parser.add_argument(
        "--settings",
        type=Path,
        help=f"settings file whose Values go into the environment (default: APP_DIR/{SETTINGS_FILE})",
    )
    parser.add_argument("--app-dir", type=Path, default=Path(), help="the function app directory")
    parser.add_argument("--script", help="script file (default: PYTHON_SCRIPT_FILE_NAME or function_app.py)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _startup_line(host: FunctionsHost) -> str:
    names = host.event_grid_functions
    if len(names) == 1:
        return f"Event Grid webhook: {host.webhook_url(names[0])}"
    listed = ", ".join(names) if names else "none"
    return f"Event Grid webhook: {host.webhook_url('NAME')} (Event Grid functions: {listed})"


def _trigger_lines(host: FunctionsHost) -> list[str]:
    lines = []
    for route in host.http_routes:
        methods = ",".join(sorted(route.methods)) if route.methods is not None else "any method"
        key = "no key" if route.auth_level == "ANONYMOUS" else f"function key: {FUNCTION_KEY_SETTING}"
        lines.append(
            f"HTTP function {route.function_name}: {methods} {host.http_url(route.template)} ({key})"
        )
    lines += [f"Timer function {name}: {schedule} (UTC)" for name, schedule in host.timer_schedules]
    return lines


async def _serve(host: FunctionsHost) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await host.start()
    try:
        print("\n".join([_startup_line(host), *_trigger_lines(host)]), flush=True)
        await stop.wait()
        _log.info("stopping")
    finally:
        await host.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the host stand-in until SIGINT/SIGTERM; return the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "DEBUG":
        # The worker library logs the values of its PYTHON_* settings when it indexes; keep settings out.
        logging.getLogger("azure.functions").setLevel(logging.WARNING)
        # azure-core logs every request's and response's headers at INFO: ~25 lines per Job Router call.
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    app_dir: Path = args.app_dir
    settings_path: Path | None = args.settings
    if settings_path is None and (app_dir / SETTINGS_FILE).is_file():
        settings_path = app_dir / SETTINGS_FILE
    try:
        settings = load_settings_file(settings_path) if settings_path is not None else {}
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = FunctionsHost(app_dir, settings, args.host, args.port, script=args.script)
    try:
        asyncio.run(_serve(host))
    except WorkerIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
