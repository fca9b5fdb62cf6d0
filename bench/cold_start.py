"""Benchmark 1: cold start, measured in fresh processes.

``import function_app`` in fresh processes against the floor (a process that
imports only azure.functions and azure.communication.jobrouter), the first invocation on the key path, the
Entra ID path's first-use import of azure.identity, and OpenTelemetry mode's added cost (the app's side, and
the worker's import and configuration of the Azure Monitor distro).

Every probe is a fresh ``python bench/probe_cold.py MODE`` (bytecode compiled first, as Oryx/remote build
does); floor and app runs alternate so machine noise hits both alike.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, Table, child_env, log, median
from bench.emulator import start_emulator

PROBE = str(ROOT / "bench" / "probe_cold.py")
ACCEPT_ALL = '{"version": 1, "rules": [], "default": {"action": "accept"}}'
# Shaped like a real one; the ingestion endpoint is a closed loopback port (nothing is sent in the window).
FAKE_APPINSIGHTS = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/;"
    "LiveEndpoint=http://127.0.0.1:9/"
)


def _probe(mode: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe {mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compile_bytecode() -> None:
    """What a deployment's build does: compile the app and the site-packages it imports."""
    import site

    targets = [str(ROOT / "function_app.py"), str(ROOT / "offer_handlers"), *site.getsitepackages()]
    env = child_env()
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", "-j", "0", *targets],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )


def _runs(modes: tuple[str, ...], env: dict[str, str], repeats: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for _ in range(repeats):
        for mode in modes:  # interleaved: A B A B ...
            results[mode].append(_probe(mode, env))
    return results


def run(repeats: int = 21, *, no_bytecode_repeats: int = 5) -> Table:
    """Measure the cold-start figures in fresh processes; ``repeats`` probes per mode."""
    table = Table(
        "cold-start",
        "1. Cold start",
        f".venv/bin/python -m bench --only cold-start   (each probe: python bench/probe_cold.py MODE; "
        f"{repeats} fresh processes per figure, interleaved)",
        intro=(
            "Import time measured inside fresh interpreters (the clock starts before the first import), "
            "**with bytecode compiled** (`python -m compileall` over the app and site-packages first, "
            "`PYTHONDONTWRITEBYTECODE` unset for the measured processes), as a deployment built by "
            "Oryx / remote "
            "build has. Medians."
        ),
    )
    log("cold start: compiling bytecode")
    compile_bytecode()
    proc, endpoint, key = start_emulator()
    try:
        key_env = child_env(
            JOBROUTER_CONNECTION_STRING=f"endpoint={endpoint}/;accesskey={key}",
            OFFER_POLICY=ACCEPT_ALL,
            BENCH_ENDPOINT=endpoint,
            BENCH_KEY=key,
            BENCH_OFFER_ID="no-such-offer",
        )
        entra_env = child_env(JOBROUTER_ENDPOINT=endpoint, OFFER_POLICY=ACCEPT_ALL)
        for mode in ("floor-import", "app-import", "floor-first", "app-first"):
            _probe(mode, key_env)  # warm-up: writes any missing bytecode, fills the page cache
        log(f"cold start: {repeats} x 4 fresh processes")
        r = _runs(("floor-import", "app-import", "floor-first", "app-first"), key_env, repeats)
        otel = _otel_runs(key_env, repeats)
        log(f"cold start: responder build, {repeats} x 2 fresh processes")
        _probe("app-responder-entra", entra_env)
        resp = {
            "key": [_probe("app-responder-key", key_env)["responder_ms"] for _ in range(repeats)],
            "entra": [],
        }
        entra_identity = 0
        for _ in range(repeats):
            out = _probe("app-responder-entra", entra_env)
            resp["entra"].append(out["responder_ms"])
            entra_identity = max(entra_identity, int(out["identity"]))
        nb: dict[str, list[dict[str, Any]]] = {}
        if no_bytecode_repeats:
            log(f"cold start: no-bytecode figure, {no_bytecode_repeats} x 2 fresh processes")
            with tempfile.TemporaryDirectory(prefix="bench-nopyc-") as empty:
                nb_env = dict(key_env, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty)
                nb = _runs(("floor-import", "app-import"), nb_env, no_bytecode_repeats)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

    def med(mode: str, key_name: str, source: dict[str, list[dict[str, Any]]] = r) -> float:
        return median([float(x[key_name]) for x in source[mode]])

    floor_import, app_import = med("floor-import", "import_ms"), med("app-import", "import_ms")
    table.add(
        "`import function_app` (key path settings)",
        app_import,
        "ms",
        baseline_name="`import azure.functions, azure.communication.jobrouter`",
        baseline=floor_import,
        target="ratio ≤ 1.10",
        passed=app_import / floor_import <= 1.10,
    )
    floor_first, app_first = med("floor-first", "total_ms"), med("app-first", "total_ms")
    table.add(
        "import + first offer answered (key path; 404 from the emulator)",
        app_first,
        "ms",
        baseline_name="floor imports + `JobRouterClient(...)` + one `accept_job_offer`",
        baseline=floor_first,
        target="context (no target)",
    )
    table.add(
        "  of which the first invocation (settings, policy, SDK client, call)",
        med("app-first", "first_ms"),
        "ms",
        baseline_name="floor: client build + the call",
        baseline=med("floor-first", "first_ms"),
        target="context",
    )
    identity_key = max(int(x["identity"]) for x in [*r["app-import"], *r["app-first"]])
    table.add(
        "`azure.identity` in sys.modules after the first key-path invocation (1 = yes)",
        float(identity_key),
        "",
        target="= 0",
        passed=identity_key == 0,
    )
    _add_otel_rows(table, r["app-first"], otel)
    key_resp, entra_resp = median(resp["key"]), median(resp["entra"])
    table.add(
        "Entra ID path: first-use build of the client (imports azure.identity, DefaultAzureCredential)",
        entra_resp,
        "ms",
        baseline_name="key path: first-use build of the client",
        baseline=key_resp,
        target="context (lazy, once per process)",
    )
    table.add(
        "`azure.identity` in sys.modules after the Entra ID first use (1 = yes)",
        float(entra_identity),
        "",
        target="= 1 (imported lazily, only here)",
        passed=entra_identity == 1,
    )
    if nb:
        nb_floor, nb_app = med("floor-import", "import_ms", nb), med("app-import", "import_ms", nb)
        table.add(
            f"no bytecode (compiled from source each time, n={no_bytecode_repeats}): `import function_app`",
            nb_app,
            "ms",
            baseline_name="same floor, no bytecode",
            baseline=nb_floor,
            target="context (not how Azure runs it)",
        )
    spread = sorted(float(x["import_ms"]) for x in r["app-import"])
    table.notes.append(
        f"`import function_app` over {len(spread)} runs: min {spread[0]:.1f} ms, median {app_import:.1f} ms, "
        f"max {spread[-1]:.1f} ms; floor min {min(float(x['import_ms']) for x in r['floor-import']):.1f} ms."
    )
    table.notes.append(
        "`function_app` imports `azure.functions` and the offer handler's own modules (and `azure.core`); "
        "the Job Router SDK is imported on the first invocation that needs a call, `azure.identity` only on "
        "the Entra ID path (checked above in the same processes)."
    )
    return table


def _otel_runs(key_env: dict[str, str], repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Telemetry off and on, and the worker's distro start-up, interleaved in fresh processes."""
    otel_env = dict(key_env, PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY="true")
    worker_env = dict(key_env, BENCH_APPINSIGHTS=FAKE_APPINSIGHTS)
    _probe("app-first", otel_env)  # warm-up
    _probe("worker-otel-init", worker_env)
    log(f"cold start: OpenTelemetry mode, {repeats} x 3 fresh processes")
    otel: dict[str, list[dict[str, Any]]] = {"off": [], "on": [], "worker": []}
    for _ in range(repeats):
        otel["off"].append(_probe("app-first", key_env))
        otel["on"].append(_probe("app-first", otel_env))
        otel["worker"].append(_probe("worker-otel-init", worker_env))
    return otel


def _add_otel_rows(
    table: Table, key_first: list[dict[str, Any]], otel: dict[str, list[dict[str, Any]]]
) -> None:
    def med(mode: str, key_name: str) -> float:
        return median([float(x[key_name]) for x in otel[mode]])

    otel_off = max(int(x["otel_modules"]) for x in [*key_first, *otel["off"]])
    table.add(
        "OpenTelemetry modules in sys.modules after the first key-path invocation, telemetry off",
        float(otel_off),
        "",
        target="= 0 (imported only when on)",
        passed=otel_off == 0,
    )
    on_first, off_first = med("on", "cpu_total_ms"), med("off", "cpu_total_ms")
    table.add(
        "telemetry on, CPU time: import + first offer answered (the app's side: span, attributes, "
        "metrics, azure-core tracing)",
        on_first,
        "ms",
        baseline_name="telemetry off, same run (CPU time)",
        baseline=off_first,
        target="context: the added cost when on is value - baseline",
    )
    table.add(
        "telemetry on, CPU time: the worker's start-up import of the Azure Monitor distro",
        med("worker", "cpu_import_ms"),
        "ms",
        target="context (once per worker process, before the app is imported)",
    )
    table.add(
        "telemetry on, CPU time: the worker's `configure_azure_monitor()`",
        med("worker", "cpu_configure_ms"),
        "ms",
        target="context (once per worker process)",
    )
    table.notes.append(
        "Telemetry rows are CPU time (`time.process_time()`), which other load on the machine barely "
        f"moves; wall-clock medians of the same probes: app side on {med('on', 'total_ms'):.0f} ms vs off "
        f"{med('off', 'total_ms'):.0f} ms; distro import {med('worker', 'import_ms'):.0f} ms, configure "
        f"{med('worker', 'configure_ms'):.0f} ms."
    )


def _path_note() -> str:
    return str(Path(PROBE).relative_to(ROOT))
