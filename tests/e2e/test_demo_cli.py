"""``python -m devstack`` as a user runs it: a subprocess that starts two more processes.

The runs, ``--keep-running`` and Ctrl-C (SIGINT) go through real processes, and no child may outlive the
orchestrator. Bad input, refused before anything starts, is specified in
tests/devstack_unit/test_demo_cli_input.py.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from azure.communication.jobrouter import JobRouterClient
from azure.communication.jobrouter.models import RouterJob
from azure.core.credentials import AzureKeyCredential

from devstack.jobrouter import DEV_ACCESS_KEY
from devstack.polling import WaitTimeout, wait_until
from tests.e2e.support import ROOT


class Orchestrator:
    """``python -m devstack ARGS`` in a subprocess; stdout lines are collected as they come."""

    def __init__(self, *args: str, log_dir: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("COLUMNS", None)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "devstack", *args, "--log-dir", str(log_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first stdout line matching ``pattern`` (searching), within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout}s; so far:\n{''.join(self.stdout)}"
                ) from None
            self.stdout.append(line)
            match = re.search(pattern, line)
            if match is not None:
                return match

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for exit: (code, all stdout, stderr)."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        while not self.lines.empty():
            self.stdout.append(self.lines.get())
        assert self.process.stderr is not None
        stderr = self.process.stderr.read()
        self.close_pipes()
        return code, "".join(self.stdout), stderr

    def close_pipes(self) -> None:
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def descendants(self) -> set[int]:
        """Every live process below the orchestrator (from /proc)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found: set[int] = set()
        frontier = {self.process.pid}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
            found |= frontier
        return found

    def stop(self) -> None:
        """Ctrl-C, then SIGKILL if it does not exit within 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)
        self.close_pipes()


type Start = Callable[..., Orchestrator]


@pytest.fixture
def run_devstack(tmp_path: Path) -> Iterator[Start]:
    """Start ``python -m devstack ARGS`` (logs in tmp_path); killed at the end if still running."""
    started: list[Orchestrator] = []

    def start(*args: str) -> Orchestrator:
        orchestrator = Orchestrator(*args, log_dir=tmp_path)
        started.append(orchestrator)
        return orchestrator

    yield start
    for orchestrator in started:
        orchestrator.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until_gone(pids: set[int], timeout: float = 5.0) -> set[int]:
    """The pids still alive once all have exited or ``timeout`` seconds have passed."""
    with contextlib.suppress(WaitTimeout):
        wait_until(lambda: not any(_alive(pid) for pid in pids), timeout=timeout, interval=0.05)
    return {pid for pid in pids if _alive(pid)}


def test_ten_jobs_run_to_a_summary_and_exit_0(run_devstack: Start, tmp_path: Path) -> None:
    code, stdout, stderr = run_devstack("--jobs", "10", "--seed", "7").finish(timeout=120)

    assert code == 0, stderr
    assert "Summary · 10 jobs" in stdout
    for heading in (
        "Offer issued → answered",
        "Scenario paths",
        "invocations succeeded",
        "accepted by the function",
        "bots registered again",  # what the function did for the bot fleet
        "reconciliation runs",
    ):
        assert heading in stdout
    assert "OK: all 10 jobs ended in an expected state (10 closed)" in stdout
    assert {p.name for p in tmp_path.iterdir()} >= {"emulator.log", "functions-host.log", "orchestrator.log"}


def test_ctrl_c_stops_the_run_and_no_child_process_survives(run_devstack: Start) -> None:
    demo = run_devstack("--jobs", "1000", "--rate", "5", "--seed", "1")
    demo.wait_for_line(r"Functions host\s+http://", timeout=60)
    demo.wait_for_line(r"jobs \d+/1000 submitted", timeout=30)
    children = demo.descendants()
    assert len(children) >= 2  # the emulator and the Functions host

    demo.process.send_signal(signal.SIGINT)
    code, _, stderr = demo.finish(timeout=30)

    assert code == 130
    assert "interrupted" in stderr
    assert _wait_until_gone(children) == set()


def test_keep_running_prints_the_endpoints_serves_the_sdk_and_stops_on_ctrl_c(
    run_devstack: Start,
) -> None:
    demo = run_devstack("--jobs", "2", "--seed", "2", "--keep-running")
    demo.wait_for_line(r"OK: all 2 jobs", timeout=90)
    endpoint = demo.wait_for_line(r"Job Router endpoint\s+(http://\S+)", timeout=10)[1]
    connection = demo.wait_for_line(r"Connection string\s+(endpoint=\S+)", timeout=10)[1]
    assert connection == f"endpoint={endpoint}/;accesskey={DEV_ACCESS_KEY}"
    children = demo.descendants()

    # Still up: a job submitted by hand is offered, accepted and wrapped up like the scenario's.
    with JobRouterClient(endpoint, AzureKeyCredential(DEV_ACCESS_KEY)) as client:
        client.upsert_job(
            "manual-1",
            RouterJob(
                channel_id="chat", queue_id="support-en", labels={"vip": False, "requiresHuman": False}
            ),
        )
        wait_until(
            lambda: client.get_job("manual-1").status == "closed",
            timeout=20,
            interval=0.1,
            what="the manual job closed",
        )

    demo.process.send_signal(signal.SIGINT)
    code, _, stderr = demo.finish(timeout=30)

    assert code == 0, stderr
    assert _wait_until_gone(children) == set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_children_stop_even_when_the_orchestrator_is_killed(run_devstack: Start) -> None:
    demo = run_devstack("--jobs", "1000", "--rate", "5", "--seed", "1")
    demo.wait_for_line(r"jobs \d+/1000 submitted", timeout=60)
    children = demo.descendants()
    assert len(children) >= 2

    demo.process.kill()  # SIGKILL: no clean-up code of the orchestrator runs
    demo.finish(timeout=10)

    assert _wait_until_gone(children, timeout=10) == set()
