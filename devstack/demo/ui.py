"""The terminal side of the demo, with ``rich``: a header, live progress and the summary tables.

On a terminal the progress is a live panel redrawn a few times a second; elsewhere (CI logs, pipes) it is
one plain line every few seconds. ``summary_tables`` renders a :class:`~devstack.demo.summary.Summary`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Final

from rich.console import Console, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from devstack.demo import demo_event as ev
from devstack.demo.run import LIVE_OFFER_EVENTS, DemoOptions, Progress
from devstack.demo.scenario import Scenario
from devstack.demo.stack import StackInfo
from devstack.demo.summary import Latency, Summary

__all__ = ["RichView", "progress_line", "summary_tables"]

_PLAIN_EVERY: Final = 5.0
_STATUS_ORDER: Final = (
    "created",
    "pendingClassification",
    "queued",
    "assigned",
    "completed",
    "closed",
    "cancelled",
    "classificationFailed",
)


class RichView:
    """``DemoView`` on a rich console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._last_plain = 0.0

    def started(self, scenario: Scenario, options: DemoOptions, info: StackInfo) -> None:
        """Print the run's header panel; start the live progress panel on a terminal."""
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        bots = sum(1 for w in scenario.workers if w.declared)
        fleet = f" ({bots} bots from the fleet {scenario.fleet.file.name})" if scenario.fleet else ""
        grid.add_row(
            "Scenario",
            f"{scenario.name}: {len(scenario.workers)} workers{fleet}, {len(scenario.queues)} queue(s)",
        )
        grid.add_row(
            "Run",
            f"{options.jobs} jobs at {options.rate:g}/s, {info.schema} schema, seed {options.seed} "
            f"(same choices again: --seed {options.seed})",
        )
        grid.add_row("Job Router emulator", info.endpoint)
        grid.add_row("Functions host", info.webhook_url)
        for name, path in info.logs.items():
            grid.add_row(f"Log ({name})", str(path))
        self.console.print(Panel(grid, title="python -m devstack", expand=False))
        self._last_plain = time.monotonic()  # the first plain progress line after a few seconds
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.start()

    def progress(self, progress: Progress) -> None:
        """Update the live panel, or print a plain progress line every few seconds."""
        if self._live is not None:
            self._live.update(_progress_panel(progress))
            return
        now = time.monotonic()
        if now - self._last_plain >= _PLAIN_EVERY:
            self._last_plain = now
            self.console.print(progress_line(progress), highlight=False, soft_wrap=True, markup=False)

    def finished(self, summary: Summary) -> None:
        """Stop the live panel; print the summary tables and the verdict."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        for table in summary_tables(summary):
            self.console.print(table)
        verdict = Text("OK: " if summary.ok else "FAILED: ", style="bold green" if summary.ok else "bold red")
        verdict.append(summary.reason)
        self.console.print(verdict)

    def keep_running(self, info: StackInfo) -> None:
        """Print the endpoints and connection string, unwrapped, to be copied."""
        # Plain lines, never wrapped: these values are made to be copied.
        rows = (
            ("Job Router endpoint", info.endpoint),
            ("Access key", f"{info.access_key}  (the public development key)"),
            ("Connection string", info.connection_string),
            ("Function webhook", info.webhook_url),
            ("Agent app webhook", info.agent_webhook),
            ("Admin API", f"{info.endpoint}/admin/state  {info.endpoint}/admin/events"),
            ("SDK", f'JobRouterClient("{info.endpoint}", AzureKeyCredential(KEY))'),
            ("", "(not from_connection_string: the SDK turns its http:// into https://)"),
            ("curl", f"curl -s {info.endpoint}/admin/state   (/routing needs HMAC signatures: use the SDK)"),
        )
        self.console.print(
            "[bold cyan]Everything is still running (the agent app too); Ctrl-C stops it.[/]", soft_wrap=True
        )
        for name, value in rows:
            self.console.print(f"  {name:<20}  {value}", soft_wrap=True, markup=False)

    def close(self) -> None:
        """Stop the live display if it is still on (an interrupted run)."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def _count_text(pairs: Iterable[tuple[str, int]]) -> str:
    return " · ".join(f"{label} {count}" for label, count in pairs)


def _job_pairs(progress: Progress) -> list[tuple[str, int]]:
    known = [(s, progress.jobs_by_status[s]) for s in _STATUS_ORDER if progress.jobs_by_status.get(s)]
    others = sorted((s, n) for s, n in progress.jobs_by_status.items() if s not in _STATUS_ORDER)
    return known + others


def _offer_pairs(progress: Progress) -> list[tuple[str, int]]:
    pairs = [(label, progress.events.get(kind, 0)) for kind, label in LIVE_OFFER_EVENTS]
    pairs.insert(3, ("left", progress.host.outcomes().get("left", 0)))
    return pairs


def _fleet_pairs(progress: Progress) -> list[tuple[str, int]]:
    outcomes = Counter(line.outcome for line in progress.host.fleet_actions if not line.is_run)
    runs = sum(1 for line in progress.host.fleet_actions if line.is_run)
    return [
        ("registered again", outcomes["registered"] + outcomes["created"]),
        ("backed off", outcomes["backed-off"]),
        ("repaired", outcomes["repaired"]),
        ("reconciliations", runs),
    ]


def progress_line(progress: Progress) -> str:
    """The plain one-line progress (non-terminal output)."""
    fleet = f" | fleet {_count_text(_fleet_pairs(progress))}" if progress.host.fleet_actions else ""
    return (
        f"[{progress.elapsed:5.1f}s] jobs {progress.submitted}/{progress.planned} submitted, "
        f"{progress.settled} done ({_count_text(_job_pairs(progress))}) "
        f"| offers {_count_text(_offer_pairs(progress))}"
        f" | function {progress.host.invocations} invocations, {progress.host.invocations_failed} failed"
        f"{fleet}"
    )


def _progress_panel(progress: Progress) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    done = Table.grid(padding=(0, 1))
    done.add_row(
        ProgressBar(total=max(progress.planned, 1), completed=progress.settled, width=30),
        Text(f"{progress.settled}/{progress.planned} jobs in a final state"),
    )
    grid.add_row("Done", done)
    grid.add_row("Submitted", f"{progress.submitted}/{progress.planned}")
    grid.add_row("Jobs", _count_text(_job_pairs(progress)) or "-")
    grid.add_row("Offers", _count_text(_offer_pairs(progress)))
    grid.add_row(
        "Workers",
        _count_text(
            [
                ("deregistered", progress.events.get(ev.WORKER_DEREGISTERED, 0)),
                ("registered again by the agent app", progress.agent.re_registered),
            ]
        ),
    )
    grid.add_row(
        "Function",
        f"{progress.host.invocations} invocations, {progress.host.invocations_failed} failed",
    )
    if progress.host.fleet_actions:
        grid.add_row("Bot fleet", _count_text(_fleet_pairs(progress)))
    grid.add_row(
        "Agent app",
        _count_text(
            [
                ("accepted", progress.agent.accepted),
                ("let expire", progress.agent.let_expire),
                ("wrapped up", progress.agent.wrapped_up),
            ]
        ),
    )
    return Panel(grid, title=f"Running · {progress.elapsed:.1f}s", expand=False)


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def summary_tables(summary: Summary) -> list[RenderableType]:
    """The summary as rich tables: jobs, offers, latency, function, agent app, scenario paths, problems."""
    tables: list[RenderableType] = [_outcomes_table(summary), _latency_table(summary), _paths_table(summary)]
    if summary.unexpected:
        tables.append(_problems_table(summary))
    return tables


def _outcomes_table(summary: Summary) -> Table:
    outcomes = Table(
        title=f"Summary · {summary.jobs_planned} jobs in {summary.elapsed_seconds:.1f}s", title_justify="left"
    )
    outcomes.add_column("What")
    outcomes.add_column("Outcome")
    outcomes.add_column("Count", justify="right")
    for status, count in summary.jobs_by_status:
        outcomes.add_row("jobs", status, str(count))
    outcomes.add_section()
    for label, count in summary.offers:
        outcomes.add_row("offers" if not label.startswith("workers") else "workers", label, str(count))
    outcomes.add_section()
    outcomes.add_row("function", "invocations succeeded", str(summary.invocations_ok))
    outcomes.add_row("function", "invocations failed", str(summary.invocations_failed))
    for outcome, count in summary.decision_outcomes:
        outcomes.add_row("function", f"decision log: {outcome}", str(count))
    if summary.fleet:
        outcomes.add_section()
        outcomes.add_row("bot fleet", "invocations succeeded", str(summary.fleet_invocations_ok))
        outcomes.add_row("bot fleet", "invocations failed", str(summary.fleet_invocations_failed))
        for label, count in summary.fleet:
            outcomes.add_row("bot fleet", label, str(count))
    outcomes.add_section()
    agent = summary.agent
    for label, count in (
        ("accepted", agent.accepted),
        ("let expire", agent.let_expire),
        ("withdrawn before answering", agent.withdrawn),
        ("too late (404/409)", agent.late),
        ("people registered again", agent.re_registered),
        ("jobs completed and closed", agent.wrapped_up),
        ("errors", agent.errors),
    ):
        outcomes.add_row("agent app", label, str(count))
    return outcomes


def _latency_table(summary: Summary) -> Table:
    latency = Table(title="Offer issued → answered (ms, from event times)", title_justify="left")
    for name in ("Answered", "n", "p50", "p95", "p99", "max"):
        latency.add_column(name, justify="left" if name == "Answered" else "right")
    for label, stats in summary.latency:
        latency.add_row(label, *_latency_cells(stats))
    return latency


def _paths_table(summary: Summary) -> Table:
    paths = Table(title="Scenario paths", title_justify="left")
    paths.add_column("Path")
    paths.add_column("Count", justify="right")
    paths.add_column("OK")
    paths.add_column("Note")
    for check in summary.paths:
        paths.add_row(check.name, str(check.count), "yes" if check.ok else "NO", check.note)
    return paths


def _problems_table(summary: Summary) -> Table:
    problems = Table(title="Jobs not in an expected final state", title_justify="left")
    for name in ("Job", "Template", "Status", "Expected"):
        problems.add_column(name)
    for job in summary.unexpected:
        problems.add_row(job.job_id, job.template, job.status or "missing", ", ".join(sorted(job.expected)))
    return problems


def _latency_cells(stats: Latency | None) -> tuple[str, ...]:
    if stats is None:
        return ("0", "-", "-", "-", "-")
    return (str(stats.count), _ms(stats.p50), _ms(stats.p95), _ms(stats.p99), _ms(stats.max))
