"""``python -m bench``: run every benchmark and rewrite BENCHMARKS.md.

python -m bench                 # everything (about 35 minutes on 2 cores, 20 of them the soak)
python -m bench --quick         # a smoke run with tiny sizes (writes to --output, default BENCHMARKS.md)
python -m bench --only e2e      # one benchmark: cold-start, micro, handler, e2e, emulator, memory, demo,
                                #   queue-depth, thread-pool, soak, fleet-repair (its sections and summary
                                #   rows replace theirs)
python -m bench --only soak --soak-minutes 60   # a longer soak (default 20 minutes; --quick: 0.5)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench import cold_start, e2e, handler, micro, queue_depth, soak
from bench.common import PYTHON, ROOT, Table, child_env, log, machine, today, verdict

ALL = (
    "cold-start",
    "micro",
    "handler",
    "e2e",
    "emulator",
    "memory",
    "demo",
    "queue-depth",
    "thread-pool",
    "fleet-repair",
    "soak",
)


def emulator_section(quick: bool) -> Table:
    """Benchmark 6: bench/emulator.py (the emulator helper's script), run as is; its table is carried over."""
    args = (
        ["--iterations", "50", "--threads", "2", "--duration", "2"]
        if quick
        else ["--iterations", "300", "--threads", "4", "--duration", "8"]
    )
    log("emulator: bench/emulator.py " + " ".join(args))
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "emulator.py"), *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    table_md = "\n".join(line for line in lines if line.startswith("|"))
    return Table(
        "emulator",
        "6. Emulator",
        f".venv/bin/python bench/emulator.py {' '.join(args)}",
        intro=(
            "The Job Router emulator alone, through the real sync SDK over loopback (script and "
            "method by the "
            "emulator's author, `bench/emulator.py`; see its docstring). No target: "
            "these figures "
            "say what the emulator can carry in a load test. Its header line: " + (lines[0] if lines else "")
        ),
        extra_md=table_md,
    )


def demo_section(quick: bool) -> Table:
    """The demo at scale: ``python -m devstack --jobs 200``; its latency table is carried over."""
    args = ["--jobs", "20" if quick else "200", "--seed", "374410"]
    log("demo: python -m devstack " + " ".join(args))
    done = subprocess.run(
        [PYTHON, "-m", "devstack", *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = done.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Offer issued")), None)
    latency = lines[start : start + 8] if start is not None else ["(no latency table: the run failed)"]
    verdicts = [line for line in lines if line.startswith(("OK:", "FAILED"))] or [
        f"exit code {done.returncode}"
    ]
    return Table(
        "demo",
        "8. The demo at scale (dev stack, scenario paths, simulated agents)",
        f".venv/bin/python -m devstack {' '.join(args)}",
        intro=(
            "The whole offer flow with the demo scenario (examples/scenario.json): emulator → Event Grid "
            "delivery → host stand-in → function → accept/decline, plus the simulated agent app for "
            "human workers. "
            "Latency is offer-issued → answered from the emulator's event times; *by the function* is the "
            "product's path, *in the agent app* is the simulated people's 0.3 to 2 s answer delay by design. "
            f"Exit code {done.returncode}."
        ),
        extra_md="```\n" + "\n".join(line.rstrip() for line in [*latency, *verdicts]) + "\n```",
    )


def soak_section(quick: bool, minutes: float | None, rate: float) -> Table:
    """The soak: ``minutes`` (default 20) at ``rate``; --quick samples every 2 s with a 500-event log cap."""
    if quick:
        return soak.run(minutes=minutes or 0.5, rate=rate, sample_seconds=2.0, event_log_limit=500)
    return soak.run(minutes=minutes or soak.MINUTES, rate=rate)


def summary(tables: list[Table]) -> str:
    """The summary section of BENCHMARKS.md: every figure that has a target, with its result."""
    out = [
        "## Summary",
        "",
        "| Benchmark | Figure | Value | Baseline | Ratio | Target | Result |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    from bench.common import fmt

    for table in tables:
        for r in table.rows:
            if r.passed is None:
                continue
            out.append(
                f"| {table.title} | {r.name} | {fmt(r.value, r.unit)} | "
                f"{'-' if r.baseline is None else fmt(r.baseline, r.unit)} | "
                f"{'-' if r.ratio is None else f'{r.ratio:.3f}'} | {r.target} | {verdict(r.passed)} |"
            )
    return "\n".join(out) + "\n"


def summary_rows(table: Table) -> list[str]:
    """The summary-table lines of one benchmark's rows that have a target."""
    return [line for line in summary([table]).splitlines() if line.startswith(f"| {table.title} |")]


def merge_sections(existing: str, tables: list[Table], note: str) -> str:
    """``existing`` BENCHMARKS.md with the sections and summary rows of ``tables`` replaced (or appended)."""
    parts: list[list[str]] = [[]]
    for line in existing.rstrip("\n").split("\n"):
        if line.startswith("## "):
            parts.append([])
        parts[-1].append(line)
    for table in tables:
        new = [*table.markdown().rstrip("\n").split("\n"), ""]
        at = next((i for i, part in enumerate(parts) if part and part[0] == f"## {table.title}"), None)
        if at is None:
            if parts[-1] and parts[-1][-1] != "":
                parts[-1].append("")  # a blank line before the new section's heading
            parts.append(new)
        else:
            parts[at] = new
        for part in parts:
            if part and part[0] == "## Summary":
                mine = [i for i, line in enumerate(part) if line.startswith(f"| {table.title} |")]
                kept = [line for line in part if not line.startswith(f"| {table.title} |")]
                # In place of the old rows, else after the last row of the table.
                at = mine[0] if mine else max(i for i, line in enumerate(kept) if line.startswith("|")) + 1
                part[:] = [*kept[:at], *summary_rows(table), *kept[at:]]
    # An earlier partial run's note about the same sections is superseded by this one.
    titles = tuple(f": {table.title}" for table in tables)
    head = [line for line in parts[0] if not (line.startswith("- Updated ") and line.endswith(titles))]
    parts[0] = head
    run_line = next((i for i, line in enumerate(head) if line.startswith("- Run:")), None)
    if run_line is not None:
        head.insert(run_line + 1, note)
    return "\n".join(line for part in parts for line in part) + "\n"


def main(argv: list[str] | None = None) -> int:  # noqa: C901, PLR0912, PLR0915 - one branch per benchmark section
    """Run the selected benchmarks and rewrite BENCHMARKS.md; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs")
    parser.add_argument("--only", action="append", choices=ALL, help="run only these (repeatable)")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", help="markdown file to write")
    parser.add_argument(
        "--soak-minutes", type=float, default=None, help="how long the soak runs (default 20; --quick: 0.5)"
    )
    parser.add_argument("--soak-rate", type=float, default=soak.RATE, help="jobs per second in the soak")
    args = parser.parse_args(argv)
    selected = tuple(args.only or ALL)
    quick: bool = args.quick
    started = time.monotonic()
    tables: list[Table] = []
    analysis = ROOT / "bench" / "ANALYSIS.md"
    if "cold-start" in selected:
        tables.append(cold_start.run(3 if quick else 21, no_bytecode_repeats=1 if quick else 5))
    if "micro" in selected:
        tables.extend(micro.run(quick=quick))
    if "handler" in selected:
        tables.append(handler.overhead(20 if quick else 250))
    if "e2e" in selected:
        tables.append(
            e2e.run(
                levels=(1, 10) if quick else e2e.LEVELS,
                warmup=0.5 if quick else 2.0,
                duration=1.0 if quick else 8.0,
            )
        )
    if "emulator" in selected:
        tables.append(emulator_section(quick))
    if "memory" in selected:
        tables.append(handler.memory(400 if quick else 20_000))
    if "demo" in selected:
        tables.append(demo_section(quick))
    if "queue-depth" in selected:
        tables.append(
            queue_depth.run(
                depths=(100, 1_000) if quick else queue_depth.DEPTHS, repeats=20 if quick else 200
            )
        )
    if "thread-pool" in selected:
        from bench import thread_pool

        tables.append(thread_pool.run(quick=quick))
    if "fleet-repair" in selected:
        from bench import fleet_repair

        tables.append(fleet_repair.run(10 if quick else 200))
    if "soak" in selected:
        tables.append(soak_section(quick, args.soak_minutes, args.soak_rate))
    elapsed = time.monotonic() - started
    if args.only and args.output.is_file():
        note = (
            f"- Updated {today()} by `python -m bench --only {' --only '.join(selected)}`"
            f"{' --quick' if quick else ''} ({elapsed:.0f} s): {', '.join(t.title for t in tables)}"
        )
        merged = merge_sections(args.output.read_text(encoding="utf-8"), tables, note)
        args.output.write_text(merged, encoding="utf-8")
        print(summary(tables))
        log(f"updated {args.output} in {elapsed:.0f} s")
        return 0
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench`); do not edit by hand. Every figure is "
        "measured "
        "side by side with its baseline **in the same run**; the ratio is figure / baseline. These "
        "machines are "
        "noisy (other work shares the cores): compare ratios, not absolute values, across runs.",
        "",
        f"- Machine: {machine()}",
        f"- Date: {today()}",
        f"- Run: {'--quick (smoke sizes, figures not meaningful)' if quick else 'full'}; "
        f"{elapsed:.0f} s in all",
        "- Bytecode: the measured processes run with compiled bytecode (`python -m compileall` first, "
        "`PYTHONDONTWRITEBYTECODE` unset for them), as a deployment built by Oryx / remote build has.",
        "",
    ]
    body = [summary(tables)]
    if analysis.is_file():
        body.append(analysis.read_text(encoding="utf-8").rstrip() + "\n")
    body += [t.markdown() for t in tables]
    args.output.write_text("\n".join(header) + "\n" + "\n".join(body), encoding="utf-8")
    print(summary(tables))
    log(f"wrote {args.output} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
