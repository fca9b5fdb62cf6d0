"""``python -m devstack``: run the whole offer flow on this machine and print a summary.

Exit codes: 0 every job ended in a state the scenario expects; 1 some did not, or the stack failed;
2 bad arguments, scenario or policy; 130 interrupted (Ctrl-C) before the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.logging import RichHandler

from devstack.demo.process_stack import ProcessStack
from devstack.demo.run import Demo, DemoOptions, event_log_limit
from devstack.demo.scenario import ScenarioError
from devstack.demo.scenario_document import DEFAULT_SCENARIO, load_scenario
from devstack.demo.stack import StackError, StackOptions
from devstack.demo.ui import RichView
from offer_handlers.errors import InvalidPolicyError
from offer_handlers.policy_document import load_policy_file

__all__ = ["main", "parse_args"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
_PLAIN_WIDTH: Final = 140


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description=(
            "Run the offer flow on this machine: a Job Router emulator and a Functions host stand-in "
            "(two processes) running function_app.py, a contact-centre scenario applied through the SDK, "
            "a simulated agent app for the human workers, N jobs, live progress and a summary. Exits 0 "
            "only when every job ended in a state the scenario expects. See docs/demo.md."
        ),
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="jobs to submit (default: the scenario's, 40)")
    parser.add_argument(
        "--rate", type=float, metavar="R", help="jobs per second (default: the scenario's, 4)"
    )
    parser.add_argument(
        "--schema",
        choices=("eventgrid", "cloudevents"),
        default="eventgrid",
        help="Event Grid event schema of both webhooks (default: eventgrid)",
    )
    parser.add_argument(
        "--policy", type=Path, metavar="FILE", help="offer policy for the function (default: the scenario's)"
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        default=DEFAULT_SCENARIO,
        help="scenario file (default: examples/scenario.json)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the summary, leave everything up and print endpoints and connection string until Ctrl-C",
    )
    parser.add_argument("--seed", type=int, metavar="S", help="seed of every random choice (default: random)")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for jobs to settle after the last one is submitted (default: the scenario's)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        metavar="DIR",
        help="where the processes' logs go (default: a new temp folder)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line (exits 2 with a message on bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.jobs is not None and not 1 <= args.jobs <= 100_000:
        parser.error(f"--jobs must be from 1 to 100000, got {args.jobs}")
    if args.rate is not None and not 0 < args.rate <= 1000:
        parser.error(f"--rate must be above 0 and at most 1000 jobs per second, got {args.rate:g}")
    if args.timeout is not None and not args.timeout > 0:
        parser.error(f"--timeout must be above 0 seconds, got {args.timeout:g}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    # Off a terminal (CI logs, pipes) rich would wrap the tables at 80 columns; give them room.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else _PLAIN_WIDTH
    console = Console(highlight=False, width=width)
    err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as err:
        err_console.print(f"error: scenario: {err}")
        return EXIT_USAGE
    policy_file: Path | None = args.policy or scenario.policy_file
    if policy_file is None:
        err_console.print(f"error: the scenario {args.scenario} names no policy; pass --policy FILE")
        return EXIT_USAGE
    try:
        load_policy_file(policy_file)
    except InvalidPolicyError as err:
        err_console.print(f"error: policy {policy_file}: {err}")
        return EXIT_USAGE

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    log_dir: Path = args.log_dir or Path(tempfile.mkdtemp(prefix="devstack-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    _configure_logging(log_dir / "orchestrator.log", console)
    options = DemoOptions(
        jobs=args.jobs or scenario.defaults.jobs,
        rate=args.rate or scenario.defaults.rate,
        seed=seed,
        settle_timeout=args.timeout or scenario.defaults.settle_timeout_seconds,
        keep_running=args.keep_running,
    )
    stack = ProcessStack(
        StackOptions(
            policy_file=policy_file,
            fleet_file=scenario.fleet.file if scenario.fleet else None,
            reconcile_schedule=scenario.fleet.reconcile_schedule if scenario.fleet else None,
            schema=args.schema,
            seed=seed,
            retry_scale=scenario.defaults.event_grid_retry_scale,
            log_dir=log_dir,
            event_log_limit=event_log_limit(options.jobs),
        )
    )
    view = RichView(console)
    demo = Demo(scenario, options, stack, view)
    try:
        return asyncio.run(_run(demo, view, err_console))
    finally:
        logging.shutdown()


async def _run(demo: Demo, view: RichView, err_console: Console) -> int:
    loop = asyncio.get_running_loop()
    work = loop.create_task(demo.run(), name="demo")
    signals = (signal.SIGINT, signal.SIGTERM)

    def stop() -> None:
        # Only the work is cancelled: the clean-up below runs to the end (it is bounded by its own timeouts).
        if not work.done():
            work.cancel()

    for signum in signals:
        loop.add_signal_handler(signum, stop)
    try:
        try:
            summary = await work
        except asyncio.CancelledError:
            view.close()
            if demo.summary is None:
                err_console.print("interrupted: stopping the dev stack")
                return EXIT_INTERRUPTED
            summary = demo.summary
        except StackError as err:
            view.close()
            err_console.print(f"error: {err}")
            return EXIT_FAILED
        except Exception as err:
            view.close()
            logging.getLogger(__name__).exception("the demo failed")
            err_console.print(f"error: the demo failed: {type(err).__name__}: {err}")
            problem = demo.stack.failure()
            if problem is not None:
                err_console.print(f"error: {problem}")
            return EXIT_FAILED
        return EXIT_OK if summary.ok else EXIT_FAILED
    finally:
        await demo.aclose()
        for signum in signals:
            loop.remove_signal_handler(signum)


def _configure_logging(log_file: Path, console: Console) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    to_file = logging.FileHandler(log_file, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    on_screen = RichHandler(console=console, level=logging.WARNING, show_path=False)
    root.addHandler(on_screen)
    # The SDK's HTTP logging policy writes every request at INFO: far too much for the orchestrator's log.
    logging.getLogger("azure").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
