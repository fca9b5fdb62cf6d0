"""``python -m devstack.parity``: replay every live recording against a fresh emulator and report parity.

Prints a table per recording (requests matched / compared, first difference) and the total, writes
docs/parity.md, and exits 1 when a difference is not in tests/parity/known_differences.json or a listed one
no longer occurs (2 on bad input, e.g. no recordings).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devstack.parity.known import KnownDifferencesError, check, load_known
from devstack.parity.recording import COMMITTED_BUNDLE, RecordingError, default_recordings, load_recordings
from devstack.parity.replay import ReplaySettings, replay
from devstack.parity.report import console_report, markdown_report

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KNOWN = REPO_ROOT / "tests" / "parity" / "known_differences.json"
DEFAULT_DOC = REPO_ROOT / "docs" / "parity.md"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay; return the exit code."""
    args = _parser().parse_args(argv)
    recordings_dir: Path = args.recordings
    if not recordings_dir.exists():
        print(
            f"no recordings at {recordings_dir} (pass --recordings with a folder of recordings or a bundle; "
            f"the repository's own is {COMMITTED_BUNDLE})",
            file=sys.stderr,
        )
        return 2
    try:
        recordings = load_recordings(recordings_dir)
        known = load_known(args.known)
    except (RecordingError, KnownDifferencesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.only:
        recordings = [r for r in recordings if any(part in r.name for part in args.only)]
    if not recordings:
        print(f"no recordings selected in {recordings_dir}", file=sys.stderr)
        return 2
    settings = ReplaySettings(seed_preexisting=not args.no_seed, poll_timeout=args.poll_timeout)
    started = time.monotonic()
    results = []
    for recording in recordings:
        results.append(replay(recording, settings))
        if args.progress:
            print(f"  replayed {recording.name}", file=sys.stderr)
    elapsed = time.monotonic() - started
    outcome = check(results, known)
    print(f"Job Router emulator parity: {len(results)} recordings from {recordings_dir}, {elapsed:.1f} s\n")
    print(console_report(results, outcome, verbose=args.verbose))
    full_run = not args.only and not args.no_seed and args.poll_timeout == ReplaySettings().poll_timeout
    if full_run and not args.no_docs:
        document = markdown_report(results, outcome, known, settings)
        if args.check_docs:
            current = args.docs.read_text(encoding="utf-8") if args.docs.exists() else ""
            if current != document:
                print(f"\n{args.docs} is out of date: run `python -m devstack.parity`", file=sys.stderr)
                return 1
        else:
            args.docs.parent.mkdir(parents=True, exist_ok=True)
            args.docs.write_text(document, encoding="utf-8")
            print(f"\nwrote {args.docs}")
    return 0 if outcome.ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.parity",
        description="Replay Microsoft's live Job Router recordings against a fresh emulator and compare.",
    )
    parser.add_argument(
        "--recordings",
        type=Path,
        default=default_recordings(REPO_ROOT),
        help=(
            "folder of test-proxy recordings, or a .json.gz bundle of them (default: "
            f"shared/recordings/jobrouter next to the repository when it exists, else {COMMITTED_BUNDLE})"
        ),
    )
    parser.add_argument(
        "--known", type=Path, default=DEFAULT_KNOWN, help="allow-list of known differences (JSON)"
    )
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOC, help="where to write the parity page")
    parser.add_argument("--no-docs", action="store_true", help="do not write the parity page")
    parser.add_argument(
        "--check-docs", action="store_true", help="fail if the parity page differs instead of writing it"
    )
    parser.add_argument(
        "--only", action="append", metavar="TEXT", help="replay only recordings whose name contains TEXT"
    )
    parser.add_argument(
        "--no-seed",
        action="store_true",
        help="do not seed objects that pre-existed live; accept 201 for their recorded 200 instead",
    )
    parser.add_argument(
        "--poll-timeout",
        type=_positive,
        default=ReplaySettings().poll_timeout,
        metavar="SECONDS",
        help="how long a timing-dependent GET is repeated until it matches (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every difference")
    parser.add_argument("--progress", action="store_true", help="print each recording as it is replayed")
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
