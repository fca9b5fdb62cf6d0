"""Benchmarks 2 and 3: decision cost and parsing cost, measured by pyperf (bench/micro_pyperf.py)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pyperf  # type: ignore[import-untyped]

from bench.common import PYTHON, ROOT, Table, child_env, log

PYPERF_ARGS = ("--quiet", "--processes", "3", "--values", "5", "--warmups", "1", "--min-time", "0.02")
QUICK_ARGS = ("--quiet", "--processes", "1", "--values", "2", "--warmups", "1", "--min-time", "0.005")


def _suite(quick: bool) -> tuple[pyperf.BenchmarkSuite, str]:
    args = QUICK_ARGS if quick else PYPERF_ARGS
    command = f".venv/bin/python bench/micro_pyperf.py {' '.join(args)} -o FILE.json"
    with tempfile.TemporaryDirectory(prefix="bench-pyperf-") as tmp:
        out = Path(tmp) / "micro.json"
        subprocess.run(
            [PYTHON, str(ROOT / "bench" / "micro_pyperf.py"), *args, "-o", str(out)],
            cwd=ROOT,
            env=child_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return pyperf.BenchmarkSuite.load(str(out)), command


def run(*, quick: bool = False) -> tuple[Table, Table]:
    """The decide and parse micro-benchmarks (pyperf), as two tables."""
    log("decide/parse: pyperf")
    suite, command = _suite(quick)

    def us(name: str) -> float:
        return float(suite.get_benchmark(name).median()) * 1e6

    noop = us("noop-call")
    decide = Table(
        "decide",
        "2. Decision cost",
        command,
        intro=(
            "`decide(offer, policy, now=...)` per offer, pyperf medians (3 worker processes x 5 values). "
            "Policies of N rules with two label conditions each (`workerLabels.kind` equal, "
            "`jobLabels.language` "
            "equal); *first* = the first rule matches, *last* = only the last rule matches, so every rule is "
            "evaluated (each earlier rule evaluates both conditions: the language one holds, the "
            "kind one fails). Baseline: a no-op function "
            "with the same "
            "signature, called the same way (`functools.partial(fn, now=...)`)."
        ),
    )
    for n in (1, 10, 100):
        for where in ("first", "last"):
            value = us(f"decide-{n}-{where}")
            target, passed = "-", None
            if n == 10 and where == "last":
                target, passed = "≤ 10 µs (10-rule policy)", value <= 10.0
            elif where == "last":
                target, passed = "≤ 2 µs per rule evaluated", value / n <= 2.0
            decide.add(
                f"{n} rule(s), {where}-rule match",
                value,
                "µs",
                baseline_name="no-op call",
                baseline=noop,
                target=target,
                passed=passed,
            )
    for n in (10, 100):
        per_rule = (us(f"decide-{n}-last") - us("decide-1-first")) / (n - 1)
        decide.add(
            f"per extra rule evaluated ({n}-rule last - 1-rule first) / {n - 1}",
            per_rule,
            "µs",
            baseline_name="no-op call",
            baseline=noop,
            target="≤ 2 µs per rule",
            passed=per_rule <= 2.0,
        )

    parse = Table(
        "parse",
        "3. Parsing cost",
        command,
        intro=(
            "Trigger object -> typed `Offer` per event: `parse_offer(to_envelope(event))` on the "
            "`func.EventGridEvent` / `func.CloudEvent` the worker binds (13 data fields, labels and tags). "
            "Baseline: `json.loads` of the same event's JSON text (work the worker does per event anyway)."
        ),
    )
    base = us("json-loads-event")
    for schema in ("eventgrid", "cloudevents"):
        value = us(f"parse-{schema}")
        parse.add(
            f"{schema} schema",
            value,
            "µs",
            baseline_name="`json.loads(event_text)`",
            baseline=base,
            target="≤ 20 µs",
            passed=value <= 20.0,
        )
    return decide, parse
