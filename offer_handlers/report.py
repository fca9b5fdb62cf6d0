"""``python -m offer_handlers report LOGFILE``: the operations figures, computed from a decision log file.

The same figures the Application Insights workbook shows (README.md, "Logs"), for a log on disk: offers by
decision, outcome and reason; offer age when answered (p50/p95/p99); the expired and ``gone`` shares;
failures by error class and HTTP status; configuration errors. Lines are found and read with
``offer_handlers.decision_log`` (the host's log format or bare messages); other lines are skipped.
Exit code 2, with a message, when the file cannot be read or holds no decision line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from offer_handlers.decision_log import DECISION_LOGGER, DecisionRecord, InvalidLogLineError, decision_text

__all__ = ["LogFigures", "add_parser", "figures_of", "render", "run"]

# Outcomes of events that were not offers, or not readable ones: outside the offer shares.
_NOT_OFFERS = frozenset({"ignored", "invalid"})
# Errors that need a person rather than a redelivery (README.md, "The outcome contract").
_CONFIGURATION_ERRORS = frozenset({"ConfigurationError", "InvalidDeciderError"})
_PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


@dataclass(frozen=True, slots=True)
class LogFigures:
    """What a decision log says, counted. Shares are of ``offers`` (lines for offer-issued events)."""

    lines: int
    unreadable: int
    versions: tuple[tuple[int, int], ...]
    by_decision: tuple[tuple[str, int], ...]
    by_outcome: tuple[tuple[str, int], ...]
    by_reason: tuple[tuple[str, int], ...]
    offers: int
    offer_age_ms: tuple[tuple[str, float], ...]
    """Nearest-rank percentiles of ``offer_age_ms`` over the lines that carry it (empty when none do)."""
    offer_age_count: int
    expired_share: float
    gone_share: float
    failures: tuple[tuple[str, str, int], ...]
    """(error class, HTTP status or ``-``, count) of ``outcome=error`` lines."""
    configuration_errors: int

    def as_json(self) -> dict[str, object]:
        """The figures as plain JSON values."""
        return {
            "lines": self.lines,
            "unreadable": self.unreadable,
            "versions": {str(v): n for v, n in self.versions},
            "by_decision": dict(self.by_decision),
            "by_outcome": dict(self.by_outcome),
            "by_reason": dict(self.by_reason),
            "offers": self.offers,
            "offer_age_ms": dict(self.offer_age_ms),
            "offer_age_count": self.offer_age_count,
            "expired_share": self.expired_share,
            "gone_share": self.gone_share,
            "failures": [{"error": e, "status": s, "count": n} for e, s, n in self.failures],
            "configuration_errors": self.configuration_errors,
        }


def figures_of(log_lines: Iterable[str]) -> LogFigures:
    """Count the decision lines among ``log_lines`` (other lines are skipped)."""
    records: list[DecisionRecord] = []
    unreadable = 0
    for line in log_lines:
        text = decision_text(line)
        if text is None:
            continue
        try:
            records.append(DecisionRecord.from_text(text))
        except InvalidLogLineError:
            unreadable += 1
    outcomes = Counter(r.outcome or "-" for r in records)
    offers = sum(n for outcome, n in outcomes.items() if outcome not in _NOT_OFFERS)
    ages = sorted(r.offer_age_ms for r in records if r.offer_age_ms is not None)
    failures = Counter(
        (r.error or "-", str(r.status) if r.status is not None else "-")
        for r in records
        if r.outcome == "error"
    )
    return LogFigures(
        lines=len(records),
        unreadable=unreadable,
        versions=tuple(sorted(Counter(r.version for r in records).items())),
        by_decision=_ranked(Counter(r.decision or "-" for r in records)),
        by_outcome=_ranked(outcomes),
        by_reason=_ranked(Counter(r.reason or "-" for r in records)),
        offers=offers,
        offer_age_ms=tuple((name, _nearest_rank(ages, q)) for name, q in _PERCENTILES) if ages else (),
        offer_age_count=len(ages),
        expired_share=outcomes["expired"] / offers if offers else 0.0,
        gone_share=outcomes["gone"] / offers if offers else 0.0,
        failures=tuple((e, s, n) for (e, s), n in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        configuration_errors=sum(1 for r in records if r.error in _CONFIGURATION_ERRORS),
    )


def _ranked(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _decision_lines(count: int) -> str:
    return f"{count} decision line" if count == 1 else f"{count} decision lines"


def _nearest_rank(ordered: Sequence[float], fraction: float) -> float:
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def render(figures: LogFigures, source: str) -> str:
    """The figures as a plain-text report."""
    out = [f"Decision log {source}: {_decision_lines(figures.lines)}"]
    if figures.unreadable:
        out.append(f"  {_decision_lines(figures.unreadable)} could not be read (cut or mangled)")
    out.append("  format versions: " + ", ".join(f"v{v} {n}" for v, n in figures.versions))
    for title, rows in (
        ("Offers by decision", figures.by_decision),
        ("Offers by outcome", figures.by_outcome),
        ("Offers by reason", figures.by_reason),
    ):
        out += ["", title]
        out += [f"  {name:<32} {count:>8}" for name, count in rows]
    out += ["", f"Offer age when answered (ms, {figures.offer_age_count} offers)"]
    if figures.offer_age_ms:
        out += [f"  {name:<32} {value:>8.0f}" for name, value in figures.offer_age_ms]
    else:
        out.append("  no line carries offer_age_ms (version 1 lines, or no offer had offeredOn)")
    out += [
        "",
        f"Shares of the {figures.offers} offer-issued events",
        f"  {'expired':<32} {figures.expired_share:>8.2%}",
        f"  {'gone (404/409)':<32} {figures.gone_share:>8.2%}",
        "",
        "Failures by error class and status",
    ]
    out += [f"  {error + ' ' + status:<32} {count:>8}" for error, status, count in figures.failures] or [
        "  none"
    ]
    out += ["", f"Configuration errors: {figures.configuration_errors}"]
    return "\n".join(out) + "\n"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="the operations figures of a decision log file",
        description="Read LOGFILE (the Functions host's log, or decision lines one per line) and print "
        "offers by decision, outcome and reason, offer age percentiles, expired and gone shares, failures "
        "and configuration errors.",
    )
    parser.add_argument("logfile", type=Path, metavar="LOGFILE", help="a log file holding decision lines")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(command=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the report; returns the exit code (2, with a message on stderr, for bad input)."""
    path: Path = args.logfile
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            figures = figures_of(lines)
    except OSError as err:
        print(f"error: cannot read {str(path)!r}: {err.strerror or err}", file=sys.stderr)
        return 2
    if figures.lines == 0 and figures.unreadable == 0:
        print(f"error: {str(path)!r} holds no decision line (logger {DECISION_LOGGER})", file=sys.stderr)
        return 2
    if args.json:
        out.write(json.dumps(figures.as_json(), indent=2) + "\n")
    else:
        out.write(render(figures, str(path)))
    return 0
