"""Benchmark 4 (handler overhead) and the memory figure: runs bench/worker_process.py in fresh processes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bench.common import PYTHON, ROOT, Table, child_env, log, median, percentile


def _child(what: str, n: int) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "-m", "bench.worker_process", what, str(n)],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bench.worker_process {what} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def overhead(pairs: int) -> Table:
    log(f"handler overhead: {pairs} offers per side")
    r = _child("overhead", pairs)
    h, b = r["handler_ms"], r["bare_ms"]
    table = Table(
        "handler",
        "4. Handler overhead",
        f".venv/bin/python -m bench.worker_process overhead {pairs}",
        intro=(
            f"Wall time per offer of the whole invocation through the worker library (`WorkerApp.invoke`: bind "
            "the JSON event to `func.EventGridEvent`, run the sync function on the worker's thread pool, parse, "
            "decide (accept-all policy), SDK `accept_job_offer` over loopback to the emulator, the decision-log "
            "line formatted and written) against a bare `accept_job_offer` **with the very same SDK client** "
            "(the handler's own, same pipeline and connection pool) to the same emulator process. "
            f"{2 * pairs} fresh offers were issued up front to one worker; the sides alternate offer by offer "
            "(A B A B ...), so both accept a fresh offer and the emulator does identical work for each "
            "(an accept that creates an assignment); 20 of each side first as warm-up, not counted."
        ),
    )
    table.add("invocation p50", median(h), "ms", baseline_name="bare accept p50", baseline=median(b),
              target="ratio ≤ 1.15", passed=median(h) / median(b) <= 1.15)  # fmt: skip
    table.add("invocation p90", percentile(h, 0.9), "ms", baseline_name="bare accept p90",
              baseline=percentile(b, 0.9), target="context")  # fmt: skip
    table.add("invocation mean", sum(h) / len(h), "ms", baseline_name="bare accept mean",
              baseline=sum(b) / len(b), target="context")  # fmt: skip
    table.add("overhead per offer (p50 difference)", median(h) - median(b), "ms", target="context")
    table.notes.append(
        f"failed invocations: {r['failures']}; offers settled by the handler: {r['accepted_by_handler']}."
    )
    return table


def memory(n: int) -> Table:
    log(f"memory: {n} invocations")
    r = _child("memory", n)
    table = Table(
        "memory",
        "7. Memory (worker process)",
        f".venv/bin/python -m bench.worker_process memory {n}",
        intro=(
            f"Peak RSS (`ru_maxrss`) of the worker-library process after {r['n']:,} invocations against after 1. "
            "Every invocation is a distinct offer id and a full SDK call to the emulator, which answers 404 "
            "(unknown offer) so that the handler settles each id (`Outcome.GONE`): the settled-offer memory fills "
            "to its capacity (10,000, LRU) and must stay there. 8 invocations in flight at a time."
        ),
    )
    table.add(f"peak RSS after {r['n']:,} invocations", r["peak_n"], "MiB", baseline_name="after 1 invocation",
              baseline=r["peak_1"], target="ratio ≤ 1.10 (flat)", passed=r["peak_n"] / r["peak_1"] <= 1.10)  # fmt: skip
    table.add(f"current RSS after {r['n']:,}", r["rss_n"], "MiB", baseline_name="after 1", baseline=r["rss_1"],
              target="context")  # fmt: skip
    table.add("growth per invocation", (r["peak_n"] - r["peak_1"]) * 1024 * 1024 / max(1, r["n"] - 1), "bytes",
              target="context")  # fmt: skip
    table.notes.append(
        f"settled-offer memory holds {r['settled']:,} ids after the run (capacity 10,000); "
        f"failed invocations: {r['failures']}; {r['n'] / r['seconds']:.0f} invocations/s in this run."
    )
    return table
