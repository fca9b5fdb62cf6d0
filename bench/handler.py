"""Benchmark 4 (handler overhead) and the memory figure: runs bench/worker_process.py in fresh processes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bench.common import PYTHON, ROOT, Table, child_env, log, median, percentile


def _child(what: str, n: int) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "-m", "bench.worker_process", what, str(n)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.worker_process {what} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def overhead(count: int) -> Table:
    """The handler's overhead per offer: through the worker library, direct, and a bare SDK call."""
    log(f"handler overhead: {count} offers per side")
    r = _child("overhead", count)
    h, d, b = r["handler_ms"], r["direct_ms"], r["bare_ms"]
    table = Table(
        "handler",
        "4. Handler overhead",
        f".venv/bin/python -m bench.worker_process overhead {count}",
        intro=(
            "Wall time per offer of the whole invocation through the worker library (`WorkerApp.invoke`: "
            "bind the JSON event to `func.EventGridEvent`, run the sync function on the worker's "
            "thread pool, "
            "parse, decide (accept-all policy), SDK `accept_job_offer` over loopback to the emulator, the "
            "decision-log line formatted and written) against a bare `accept_job_offer` **with the very same "
            "SDK client** (the handler's own: same pipeline, same connection pool) to the same emulator "
            f"process. {3 * (count + 20)} fresh offers were issued up front to one worker; three "
            "sides rotate "
            "offer by offer (invoke, direct, bare, invoke, ...), so each accepts a fresh offer and "
            "the emulator "
            "does identical work for each (an accept that creates an assignment); the first 20 of each side "
            "are warm-up. *direct* calls the same `OfferHandler.handle` on the calling thread, without the "
            "worker library: it splits the overhead into ours and the worker library's."
        ),
    )
    table.add(
        "invocation through the worker library, p50",
        median(h),
        "ms",
        baseline_name="bare accept p50",
        baseline=median(b),
        target="ratio ≤ 1.15",
        passed=median(h) / median(b) <= 1.15,
    )
    table.add(
        "`OfferHandler.handle` called directly, p50",
        median(d),
        "ms",
        baseline_name="bare accept p50",
        baseline=median(b),
        target="context: our code's share",
    )
    table.add(
        "invocation p90",
        percentile(h, 0.9),
        "ms",
        baseline_name="bare accept p90",
        baseline=percentile(b, 0.9),
        target="context",
    )
    table.add(
        "invocation mean",
        sum(h) / len(h),
        "ms",
        baseline_name="bare accept mean",
        baseline=sum(b) / len(b),
        target="context",
    )
    cpu = r["cpu_ms"]
    table.add(
        "CPU per invocation (this process, mean)",
        cpu["invoke"],
        "ms",
        baseline_name="CPU per bare accept",
        baseline=cpu["bare"],
        target="context",
    )
    table.add(
        "CPU per direct `handle` (mean)",
        cpu["direct"],
        "ms",
        baseline_name="CPU per bare accept",
        baseline=cpu["bare"],
        target="context",
    )
    table.notes.append(
        f"p50 overhead per offer: ours (direct - bare) {median(d) - median(b):.2f} ms, worker library "
        f"(invoke - direct) {median(h) - median(d):.2f} ms."
    )
    table.notes.append(
        f"failed invocations: {r['failures']}; offers settled by the handler: {r['accepted_by_handler']}."
    )
    return table


def memory(n: int) -> Table:
    """RSS after 1, n/2 and n invocations of distinct offers (the settled-offer memory filling)."""
    log(f"memory: {n} invocations")
    r = _child("memory", n)
    (_n1, peak1, rss1), (n_half, peak_half, rss_half), (n_all, peak_all, rss_all) = r["points"]
    table = Table(
        "memory",
        "7. Memory (worker process)",
        f".venv/bin/python -m bench.worker_process memory {n}",
        intro=(
            "Peak RSS (`VmHWM`) of the worker-library process after N invocations against after 1; the "
            "peak is reset (`/proc/self/clear_refs`) once the app is loaded, so start-up does not hide growth"
            f"{'' if r['peak_reset'] else ' (the reset was refused here: peaks include start-up)'}. Every "
            "invocation is a distinct offer id and a full SDK call to the emulator, which answers 404 "
            "(unknown offer) so that the handler settles each id (`Outcome.GONE`): the settled-offer memory "
            f"fills to its capacity (10,000 ids, LRU) by {n_half:,} and must stay flat from there to "
            f"{n_all:,}. 8 invocations in flight at a time."
        ),
    )
    table.add(
        f"peak RSS after {n_half:,} invocations",
        peak_half,
        "MiB",
        baseline_name="after 1 invocation",
        baseline=peak1,
        target="ratio ≤ 1.10",
        passed=peak_half / peak1 <= 1.10,
    )
    table.add(
        f"peak RSS after {n_all:,} invocations (settled-offer memory full since {n_half:,})",
        peak_all,
        "MiB",
        baseline_name=f"after {n_half:,}",
        baseline=peak_half,
        target="ratio ≤ 1.02 (bounded)",
        passed=peak_all / peak_half <= 1.02,
    )
    table.add(
        f"current RSS after {n_all:,}",
        rss_all,
        "MiB",
        baseline_name=f"after 1 / after {n_half:,}: {rss1:.1f} / {rss_half:.1f} MiB",
        baseline=rss1,
        target="context",
    )
    table.notes.append(
        f"settled-offer memory holds {r['settled']:,} ids after the run (capacity 10,000); "
        f"failed invocations: {r['failures']}; {r['n'] / r['seconds']:.0f} invocations/s in this run. "
        f"Growth from 1 to {n_half:,}: {(peak_half - peak1) * 1024:.0f} KiB, i.e. about "
        f"{(peak_half - peak1) * 1024 * 1024 / max(1, n_half - 1):.0f} bytes per remembered offer id "
        f"(plus allocator slack); from {n_half:,} to {n_all:,}: {(peak_all - peak_half) * 1024:.0f} KiB."
    )
    return table
