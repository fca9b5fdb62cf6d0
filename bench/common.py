"""Shared pieces of the benchmarks: the result table, percentiles, the machine header, child environments."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
PYTHON: Final = sys.executable
# The function's app settings: never inherited by a measured process from the shell.
_SETTINGS: Final = (
    "JOBROUTER_CONNECTION_STRING",
    "JOBROUTER_ENDPOINT",
    "AZURE_CLIENT_ID",
    "OFFER_POLICY",
    "OFFER_POLICY_FILE",
    "OFFER_DECIDER",
    "JOBROUTER_REQUEST_TIMEOUT_SECONDS",
    "JOBROUTER_MAX_RETRIES",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure against its baseline from the same run.

    ``lower_is_better``: the figure passes when ``ratio <= target`` (or the absolute value meets
    ``absolute_target``); otherwise when it is at least the target.
    """

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float | None
    target: str
    passed: bool | None
    ratio: float | None = None

    @staticmethod
    def ratio_of(value: float, baseline: float | None) -> float | None:
        """``value / baseline``, or None without a (non-zero) baseline."""
        return None if not baseline else value / baseline


@dataclass(slots=True)
class Table:
    """One benchmark's section of BENCHMARKS.md."""

    key: str
    title: str
    command: str
    rows: list[Row] = field(default_factory=list)
    intro: str = ""
    notes: list[str] = field(default_factory=list)
    extra_md: str = ""

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        baseline_name: str = "-",
        baseline: float | None = None,
        target: str = "-",
        passed: bool | None = None,
    ) -> Row:
        """Append one figure (with its baseline and target, when it has them) and return it."""
        row = Row(name, value, unit, baseline_name, baseline, target, passed, Row.ratio_of(value, baseline))
        self.rows.append(row)
        return row

    def markdown(self) -> str:
        """This benchmark's section of BENCHMARKS.md."""
        out = [f"## {self.title}", ""]
        if self.intro:
            out += [self.intro, ""]
        out += ["Command:", "", "```", self.command, "```", ""]
        if self.rows:
            out += [
                "| Figure | Value | Baseline | Baseline value | Ratio | Target | Result |",
                "| --- | ---: | --- | ---: | ---: | --- | --- |",
            ]
            for r in self.rows:
                out.append(
                    f"| {r.name} | {fmt(r.value, r.unit)} | {r.baseline_name} | "
                    f"{'-' if r.baseline is None else fmt(r.baseline, r.unit)} | "
                    f"{'-' if r.ratio is None else f'{r.ratio:.3f}'} | {r.target} | {verdict(r.passed)} |"
                )
            out.append("")
        if self.extra_md:
            out += [self.extra_md.rstrip(), ""]
        out += [f"- {note}" for note in self.notes]
        if self.notes:
            out.append("")
        return "\n".join(out)


def verdict(passed: bool | None) -> str:
    """The Result column: pass, **MISS**, or - for a figure without a target."""
    return "-" if passed is None else ("pass" if passed else "**MISS**")


def fmt(value: float, unit: str) -> str:
    """``value`` with its unit, rounded to what the unit needs."""
    if unit in ("µs", "ms"):
        return f"{value:.2f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit in ("offers/s", "requests/s"):
        return f"{value:.0f} {unit}"
    if unit == "":
        return f"{value:g}"
    return f"{value:.2f} {unit}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def machine() -> str:
    """One line: cores, CPU model, Python, platform."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}"
    )


def today() -> str:
    """The current UTC date and time, to the minute, for the report's header."""
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


def child_env(*, bytecode: bool = True, **extra: str) -> dict[str, str]:
    """An environment for a measured process: no app settings from the shell, bytecode on (as deployed)."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def log(message: str) -> None:
    """A progress line on stderr (the report goes to BENCHMARKS.md)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
