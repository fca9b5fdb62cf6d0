"""Render ``RELIABILITY.md`` from the figures a reliability run recorded (``tests/reliability/figures.py``).

Usage: ``python -m devstack.reliability_report RESULTS_DIR [OUTPUT]`` (``make reliability`` runs it).
Every figure is shown with the command that produced it; a figure the run did not produce says so.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["main", "render"]

MISSING = "_not measured in this run_"


def _load(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))}


def _figure(figures: Mapping[str, Any], section: str, name: str) -> tuple[Any, str] | None:
    entry = figures.get(section, {}).get(name)
    return None if entry is None else (entry["value"], entry["command"])


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    out = ["| Figure | Value |", "|---|---|"]
    out += [f"| {name} | {_cell(value)} |" for name, value in rows]
    return out


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "-"
    return str(value).replace("|", "\\|")


def _command(command: str) -> str:
    return f"Command: `{command}`"


def _figure_table(figures: Mapping[str, Any], section: str, name: str) -> list[str]:
    """One recorded figure as a key/value table with its command, or the line saying it is missing."""
    found = _figure(figures, section, name)
    if found is None:
        return [MISSING, ""]
    value, command = found
    return [*_table(list(value.items())), "", _command(command), ""]


def _bad_input(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 1. Bad input", ""]
    for name, title in (
        ("worker", "Through the worker library (azure-functions-runtime)"),
        ("host", "Through the host stand-in's webhook (HTTP)"),
    ):
        found = _figure(figures, "bad_input", name)
        out += [f"### {title}", ""]
        if found is None:
            out += [MISSING, ""]
            continue
        value, command = found
        out += _table(
            [
                ("payloads (examples)", value["examples"]),
                ("events in them", value["events"]),
                ("by category", value["by_category"]),
                ("by expected verdict", value["by_verdict"]),
                ("function outcomes (decision log)", value["by_outcome"]),
                ("HTTP statuses", value.get("http_statuses") or "-"),
                ("**unhandled exceptions outside the documented types**", value["unhandled_exceptions"]),
                ("**SDK calls for invalid or ignored events**", value["sdk_calls_for_invalid_events"]),
                ("SDK calls for valid open offers (the counter works)", value["sdk_calls_for_valid_events"]),
                ("**rejections not logged with the field at fault**", value["rejections_without_field"]),
                ("distinct fields named in rejections", value["distinct_rejected_fields"]),
                ("most named fields", value["top_rejected_fields"]),
            ]
        )
        out += ["", _command(command), ""]
    out += [
        "Invalid policies (6 hand-written faults and 200 hypothesis mutations of examples/policy.json) and "
        "invalid deciders (5 kinds) fail the invocation with a ConfigurationError / InvalidDeciderError "
        "naming `OFFER_POLICY` / `OFFER_DECIDER`, the rule and the field, before any SDK call: "
        "`pytest tests/reliability/test_bad_input.py -k 'policy or decider'`.",
        "",
    ]
    return out


def _faults(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 2. Fault matrix (dev stack, accept and decline)", ""]
    matrix = _figure(figures, "faults", "matrix")
    if matrix is None:
        return [*out, MISSING, ""]
    rows, command = matrix
    out += [
        "| Fault | Action | Contract | Function outcomes, in order | Failed invocations | Deliveries | "
        "Offer final states |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        out.append(
            f"| {row['fault']} | {row['action']} | {row['kind']} | {' → '.join(row['function_outcomes'])} | "
            f"{row['failed_invocations']} | {row['deliveries']} | {_cell(row['offer_states'])} |"
        )
    offers = _figure(figures, "faults", "offers")
    if offers is not None:
        value, _ = offers
        out += [
            "",
            f"Offers issued: {value['issued']}, final states: {_cell(value['by_state'])}, "
            f"**unaccounted: {value['unaccounted']}**.",
        ]
    out += [
        "",
        "Contracts: *retryable* = the invocation fails, Event Grid redelivers, the offer is answered "
        "(a read timeout may let the first call through, so the redelivery finds it `gone`); *settled* = "
        "acknowledged at once as `gone`, one delivery; *configuration* = ConfigurationError naming the "
        "setting on every delivery until the offer expires (the last delivery then finds it too late: "
        "`left`/`expired`, no call).",
        "",
        _command(command),
        "",
    ]
    return out


def _disorder(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 3. Delivery disorder", ""]
    titles = {
        "duplicates": "Every offer event delivered 2-3 times",
        "past_expiry": "Offer event delivered after the offer expired",
        "after_revoke": "Offer event delivered after the offer was revoked",
        "host_restart": "Functions host restarted mid-run (deliveries fail while it is down)",
    }
    for name, title in titles.items():
        out += [f"### {title}", "", *_figure_table(figures, "disorder", name)]
    return out


def _load_section(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 4. Load with reconciliation", ""]
    for name, title in (("full", "10,000 jobs"), ("quick", "300 jobs (the quick run)")):
        found = _figure(figures, "load", name)
        out += [f"### {title}", ""]
        if found is None:
            out += [MISSING, ""]
            continue
        value, command = found
        out += _table(
            [
                ("jobs submitted", value["jobs"]),
                ("**jobs assigned exactly once**", value["jobs_assigned_exactly_once"]),
                ("offers issued", value["offers_issued"]),
                ("offers per final state (emulator event log)", value["offers_by_final_state"]),
                ("function outcomes (decision log)", value["function_outcomes"]),
                ("function errors", value["function_errors"] or "none"),
                ("invocations", value["invocations"]),
                (
                    "duplicate deliveries to the function (share of offers)",
                    f"{value['duplicate_deliveries_to_the_function']} ({value['duplicate_share']:.1%})",
                ),
                (
                    "offer events first handled after a later one (share)",
                    f"{value['offer_events_delivered_out_of_order']} ({value['reordered_share']:.1%})",
                ),
                ("503s injected on accept (1% of calls)", value["injected_503s"]),
                ("publisher totals", value["deliveries"]),
                ("**unexplained differences (total)**", value["unexplained_total"]),
                ("unexplained, by check", value["unexplained"]),
                ("peak memory (VmHWM / ru_maxrss, KiB)", value["peak_rss_kib"]),
                ("submit time / wall time (s)", f"{value['submit_seconds']} / {value['wall_seconds']}"),
            ]
        )
        out += ["", _command(command), ""]
    out += [
        "The 1% injected 503s were absorbed by the SDK's own retries (two per call) unless three came in a "
        "row; the Event Grid redelivery path itself is exercised by the fault matrix (section 2). The pytest "
        "process's peak memory covers the whole session (hypothesis runs included), not the load alone.",
        "",
        "Reordering: the publisher's reorder window is opened for one submission batch in twenty (5% of "
        "the jobs); the share above also counts the order changes that 64 concurrent deliveries cause on "
        "their own.",
        "",
    ]
    return out


def _open_loop(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 4b. Open-loop load and the bot fleet", ""]
    found = _figure(figures, "open_loop", "full")
    if found is None:
        return [*out, MISSING, ""]
    value, command = found
    off, on = value["fleet_off"], value["fleet_on"]
    out += [
        f"Every job submitted at once (32 submissions in flight) to {value['workers']} bots with room for "
        f"all of them, offers that live {value['offer_seconds']:g} s, a worker process with "
        f"{value['threads']} threads. "
        "Without a fleet nothing registers a bot again; with one (the same bots declared, the default "
        "flapping guard, `on_worker_lifecycle` subscribed, `reconcile_fleet` every minute) the function "
        "does. Both runs in the same test, fleet off first.",
        "",
        "### Fleet off",
        "",
        *_table(
            [
                ("jobs submitted", off["jobs"]),
                ("**jobs by final status**", off["jobs_by_status"]),
                ("**bots by state at the end**", off["bots_by_state"]),
                ("offers expired", off["offers_expired"]),
                (
                    "bots deregistered / registered again",
                    f"{off['bots_deregistered']} / {off['bots_registered_again']}",
                ),
                ("function outcomes (decision log)", off["function_outcomes"]),
                ("first job → last accept (s)", off["seconds_from_first_job_to_last_accept"]),
                ("submit time / wall time (s)", f"{off['submit_seconds']} / {off['wall_seconds']}"),
            ]
        ),
        "",
        "### Fleet on",
        "",
        *_table(
            [
                ("jobs submitted", on["jobs"]),
                ("**jobs assigned exactly once**", on["jobs_assigned_exactly_once"]),
                (
                    "**time to recover: first expiry → last job assigned (s)**",
                    on["seconds_from_first_expiry_to_last_accept"],
                ),
                ("first job → last job assigned (s)", on["seconds_from_first_job_to_last_accept"]),
                ("offers issued", on["offers_issued"]),
                ("offers per final state (emulator event log)", on["offers_by_final_state"]),
                ("**offers expired**", on["offers_expired"]),
                ("bots deregistered", on["bots_deregistered"]),
                ("**re-registrations by the function**", on["re_registrations_by_the_function"]),
                ("**back-offs (flapping guard)**", on["back_offs"]),
                ("reconciliation runs", on["reconciliation_runs"]),
                ("fleet outcomes (fleet log)", on["fleet_outcomes"]),
                ("fleet failures, redelivered (transient)", on["fleet_errors"] or "none"),
                ("fleet invocations", on["fleet_invocations"]),
                ("function outcomes (decision log)", on["function_outcomes"]),
                ("function errors", on["function_errors"] or "none"),
                (
                    "failed deliveries to the offer function, redelivered",
                    on.get("failed_deliveries_to_the_offer_function", "-"),
                ),
                ("**unexplained differences (total)**", on["unexplained_total"]),
                ("unexplained, by check", on["unexplained"]),
                ("submit time / wall time (s)", f"{on['submit_seconds']} / {on['wall_seconds']}"),
            ]
        ),
        "",
        _command(command),
        "",
        "A back-off is counted once per event (and per reconciliation run) that found the bot flapping. "
        "Fleet failures are lifecycle events whose Job Router call timed out while it was saturated "
        "(`RetryableServiceError`) or whose worker changed meanwhile (`WorkerChangedError`): both fail "
        "the invocation so that Event Grid redelivers, as the outcome contract says.",
        "",
    ]
    return out


def _secrets(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 5. Secrets", ""]
    found = _figure(figures, "secrets", "scan")
    if found is None:
        out += [MISSING, ""]
    else:
        value, command = found
        out += [
            *_table(
                [
                    (
                        "**log lines with an access key, connection string, HMAC signature or bearer token**",
                        value["lines_with_a_secret"],
                    ),
                    (
                        "log lines scanned (DEBUG, azure-core HTTP logging and network trace on)",
                        value["lines_scanned"],
                    ),
                    ("log records", value["log_records"]),
                    ("child-process log files", value["child_log_files"]),
                    ("lines by source", value["lines_by_source"]),
                ]
            ),
            "",
            _command(command),
            "",
        ]
    out += [
        "The emulator answers 401 to a bad HMAC signature, a stale `x-ms-date` (20 minutes) and a missing "
        "`Authorization` (a correctly signed control request gets 404): "
        "`pytest tests/reliability/test_secrets_never_logged.py -k 401`.",
        "",
    ]
    return out


def _restart(figures: Mapping[str, Any]) -> list[str]:
    return [
        "## 6. Emulator restart with `--state` mid-run",
        "",
        *_figure_table(figures, "restart", "emulator"),
    ]


_HARDENING = {
    "poison": (
        "Poisonous objects: numbers out of range or not finite, and policies that slipped past validation",
        "Every bad body is refused with a 400 naming the field; a policy too large to issue an offer with "
        "(planted in the store, as an old state file could hold) keeps its own job queued and stalls no "
        "other queue.",
    ),
    "failed_writes": (
        "Writes the state file refuses (`--state`, the database made read-only mid-run)",
        "A write that cannot be saved is answered 503 and rolled back; after a restart every acknowledged "
        "write is there and no refused one is.",
    ),
    "slow_clients": (
        "Clients that send their headers one byte a second",
        "The header read timeout (60 s by default; 2 s in the test) disconnects each of them while other "
        "requests are served.",
    ),
}


def _hardening(figures: Mapping[str, Any]) -> list[str]:
    out = ["## 7. Bad objects, failed writes and slow clients (the emulator)", ""]
    for name, (title, claim) in _HARDENING.items():
        out += [f"### {title}", "", claim, "", *_figure_table(figures, "hardening", name)]
    return out


FINDINGS = """## Findings

* **Load above the function's answer rate stalls every bot, unless a fleet brings them back.** Job Router
  (and the emulator, faithfully) deregisters a worker whose offer expires. Without a fleet nothing
  registers a bot again: the open-loop run (section 4b, fleet off) ends with jobs queued and every bot
  `draining`, although the function did the right thing for every late offer (no call past expiry).
  With the bots declared in a fleet, the function registers each one again after its expiry (the
  flapping guard backing off a bot that keeps missing) and every job ends assigned exactly once, with
  the three records reconciling. The closed-loop load (section 4) keeps at most 400 jobs unanswered, so
  it measures the function's accounting rather than this recovery; a deployment still needs enough
  throughput (instances, `PYTHON_THREADPOOL_THREAD_COUNT`) for its peak, or its bots spend the
  difference backing off.
* **A delivery the saturated host answers late is redelivered.** The publisher waits 30 s for an answer,
  as Event Grid does; under the open-loop burst some invocations ran longer, completed, and were then
  delivered again. Each redelivery found its offer settled or expired (left or gone, never a second
  accept): section 4b counts them as failed deliveries to the offer function.
* **Events the worker's binding cannot convert never reach the function** (an array element that is not an
  object, an unparseable envelope `eventTime`): the invocation fails before `on_offer_issued` runs and Event
  Grid redelivers until the TTL. Event Grid itself never sends these; the host test counts them as
  `non-object` and expects HTTP 500.
* **The emulator's start-up line prints a connection string** — only for the public, documented development
  key (like Azurite's); the secret scan allows exactly that line and counts it.
"""


def render(figures: Mapping[str, Any]) -> str:
    """The whole document."""
    run = _figure(figures, "run", "session")
    lines = [
        "# Reliability",
        "",
        "Generated by `make reliability` (`devstack/reliability_report.py`); do not edit by hand. "
        "Tests: `tests/reliability/` (the quick ones also run in `make test`).",
        "",
    ]
    if run is not None:
        value, command = run
        lines += [
            f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
            f"{_cell(value['tests'])}, exit status {value['exit_status']}, "
            f"{value['wall_seconds']} s wall (`{command}`).",
            "",
        ]
        if value.get("slowest"):
            lines += [
                "Slowest tests: " + "; ".join(f"`{n.split('::')[-1]}` {s} s" for n, s in value["slowest"]),
                "",
            ]
    for part in (_bad_input, _faults, _disorder, _load_section, _open_loop, _secrets, _restart, _hardening):
        lines += part(figures)
    lines += FINDINGS.splitlines()
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    """Render RESULTS_DIR's figures into OUTPUT (default RELIABILITY.md); exit code 2 on bad arguments."""
    if not 1 <= len(argv) <= 2:
        print("usage: python -m devstack.reliability_report RESULTS_DIR [OUTPUT]", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    if not directory.is_dir():
        print(f"no results directory: {directory}", file=sys.stderr)
        return 2
    output = Path(argv[1]) if len(argv) == 2 else Path("RELIABILITY.md")
    output.write_text(render(_load(directory)), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
