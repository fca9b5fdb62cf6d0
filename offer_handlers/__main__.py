"""Command line: ``python -m offer_handlers explain|check|report ...``."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence

from offer_handlers import explain, policy_check, report


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the sub-command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m offer_handlers", description=__doc__)
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND")
    explain.add_parser(subparsers)
    policy_check.add_parser(subparsers)
    report.add_parser(subparsers)
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A console whose encoding cannot show a name from a policy or a log (a C locale, an old Windows
        # code page) gets it escaped rather than a UnicodeEncodeError halfway through the output.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        return int(args.command(args, sys.stdout))
    except explain.UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
