"""The dev stack as two child processes, as a user runs it (what ``python -m devstack`` starts).

``ProcessStack`` runs ``python -m devstack.jobrouter`` and ``python -m devstack.functions_host`` through the
small launcher in ``child.py``, so the function's GIL stays away from the emulator. Each ``ChildProcess``
gets its own process group; ``stop`` sends SIGTERM to the group, waits a grace period, then SIGKILL; an
``atexit`` hook does the same if the orchestrator dies on an exception, and on Linux a child also gets
SIGTERM when the orchestrator dies (even by SIGKILL). Their output goes to log files; the host's log also
feeds a :class:`~devstack.demo.hostlog.HostTally` (invocations, decision lines).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import re
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Final

from devstack.demo.child import PARENT_PID_ENV
from devstack.demo.hostlog import HostSnapshot, HostTally
from devstack.demo.stack import (
    FUNCTION_NAME,
    LIFECYCLE_FUNCTION_NAME,
    StackError,
    StackInfo,
    StackOptions,
    free_port,
    host_settings,
    wait_until_validated,
    webhook_specs,
)
from devstack.functions_host.contract import WEBHOOK_PATH
from devstack.jobrouter.config import DEV_ACCESS_KEY
from offer_handlers.settings import SETTING_NAMES

__all__ = ["ChildProcess", "ProcessStack"]

_log = logging.getLogger(__name__)

# The function's app settings are never inherited from the shell: the demo sets the ones it needs, and a
# stray OFFER_POLICY or JOBROUTER_ENDPOINT would change what the function does (or which service it calls).
_CHILD_ENV_DROP: Final = frozenset(
    {*SETTING_NAMES, "JOBROUTER_EMULATOR_ACCESS_KEY", "PYTHON_SCRIPT_FILE_NAME"}
)
_HOST_READY: Final = re.compile(r"^Event Grid webhook: (?P<url>\S+)")
_EMULATOR_READY: Final = re.compile(r"^Job Router emulator listening on (?P<endpoint>\S+)")
_TAIL_LINES: Final = 30
# `python -m devstack.demo.child MODULE ...` runs `python -m MODULE ...` and dies with the orchestrator even
# if that is SIGKILLed (Linux); see child.py.
_LAUNCH: Final = (sys.executable, "-m", "devstack.demo.child")


class ChildProcess:
    """One child process in its own process group; its output goes to a log file and to ``on_line``."""

    _live: Final[set[ChildProcess]] = set()

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._argv = argv
        self._env = dict(env)
        self.log_path = log_path
        self._cwd = cwd
        self._on_line = on_line
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._log: IO[str] | None = None
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._watch: list[tuple[re.Pattern[str], asyncio.Future[re.Match[str]]]] = []

    @property
    def pid(self) -> int | None:
        """The process id (None before ``start``)."""
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (None while it runs, or before ``start``)."""
        return None if self._process is None else self._process.returncode

    async def start(self) -> None:
        """Spawn the process (own process group, output piped)."""
        self._log = self.log_path.open("a", encoding="utf-8", buffering=1)
        self._process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            cwd=self._cwd,
            process_group=0,
        )
        ChildProcess._live.add(self)
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._readers = [
            asyncio.get_running_loop().create_task(self._read(stream), name=f"{self.name}-{label}")
            for label, stream in (("stdout", self._process.stdout), ("stderr", self._process.stderr))
        ]

    async def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first output line matching ``pattern``; StackError if the process exits or time runs out."""
        future: asyncio.Future[re.Match[str]] = asyncio.get_running_loop().create_future()
        self._watch.append((pattern, future))
        exited = asyncio.ensure_future(self._wait_exit())
        waiting: set[asyncio.Future[Any]] = {future, exited}
        try:
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
        if future in done:
            return future.result()
        future.cancel()
        if exited in done:
            raise StackError(
                f"the {self.name} exited with code {self.returncode} while starting:\n{self.tail()}"
            )
        raise StackError(f"the {self.name} did not start within {timeout:g}s:\n{self.tail()}")

    async def _wait_exit(self) -> None:
        assert self._process is not None
        await self._process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def tail(self) -> str:
        """The last lines of the child's output (for error messages)."""
        return "\n".join(f"  {line}" for line in self._tail) or "  (no output)"

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._tail.append(line)
            if self._log is not None:
                self._log.write(line + "\n")
            if self._on_line is not None:
                self._on_line(line)
            for pattern, future in list(self._watch):
                match = pattern.search(line)
                if match is not None and not future.done():
                    future.set_result(match)
                    self._watch.remove((pattern, future))

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; idempotent."""
        process = self._process
        if process is not None:
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), grace)
                except TimeoutError:
                    _log.warning("%s did not stop within %gs; killing it", self.name, grace)
                    _signal_group(process.pid, signal.SIGKILL)
                    await process.wait()
            # A child may leave grandchildren behind in its group: make sure none survives.
            _signal_group(process.pid, signal.SIGKILL)
            await asyncio.gather(*self._readers, return_exceptions=True)
        ChildProcess._live.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill_now(self) -> None:
        """Synchronous last resort (``atexit``): SIGKILL the whole group."""
        if self._process is not None:
            _signal_group(self._process.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


@atexit.register
def _kill_leftovers() -> None:
    for child in list(ChildProcess._live):
        child.kill_now()


class ProcessStack:
    """The emulator and the Functions host as two child processes (what ``python -m devstack`` runs)."""

    def __init__(self, options: StackOptions, *, startup_timeout: float = 90.0) -> None:
        self.options = options
        self._startup_timeout = startup_timeout
        self.tally = HostTally(FUNCTION_NAME)
        self.log_dir = options.log_dir or Path(tempfile.mkdtemp(prefix="devstack-"))
        self._children: list[ChildProcess] = []

    @property
    def children(self) -> tuple[ChildProcess, ...]:
        """The running child processes, host first."""
        return tuple(self._children)

    def host_snapshot(self) -> HostSnapshot:
        """The function's invocations and decision lines so far, from the host's log."""
        return self.tally.snapshot()

    def failure(self) -> str | None:
        """Why the stack stopped working (a child exited), or None while both run."""
        for child in self._children:
            if child.returncode is not None:
                return f"the {child.name} exited with code {child.returncode}:\n{child.tail()}"
        return None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
        env["PYTHONUNBUFFERED"] = "1"
        env[PARENT_PID_ENV] = str(os.getpid())
        return env

    async def start(self, *, agent_webhook: str) -> StackInfo:
        """Start host and emulator; retried on a port clash. Returns when events flow."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        last_error: StackError | None = None
        for _attempt in range(3):
            try:
                return await self._start_once(agent_webhook)
            except StackError as err:
                await self.stop()
                last_error = err
                if "address already in use" not in str(err).lower():
                    raise
        assert last_error is not None
        raise last_error

    async def _start_once(self, agent_webhook: str) -> StackInfo:
        options = self.options
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        settings_file = self.log_dir / "local.settings.json"
        settings_file.write_text(
            json.dumps({"IsEncrypted": False, "Values": host_settings(options, endpoint)}, indent=2) + "\n",
            encoding="utf-8",
        )
        host = ChildProcess(
            "Functions host",
            [
                *_LAUNCH, "devstack.functions_host", "--host", "127.0.0.1", "--port", "0",
                "--app-dir", str(options.app_dir), "--settings", str(settings_file),
                "--log-level", options.log_level,
            ],
            env=self._env(),
            log_path=self.log_dir / "functions-host.log",
            cwd=options.app_dir,
            on_line=self.tally.feed_line,
        )  # fmt: skip
        self._children.append(host)
        await host.start()
        announced = (await host.wait_for_line(_HOST_READY, self._startup_timeout))["url"]
        host_url = announced.split("/runtime/", 1)[0]
        # The host names one function's URL only when the app has a single Event Grid function.
        webhook_url = f"{host_url}{WEBHOOK_PATH}?functionName={FUNCTION_NAME}"
        lifecycle_url = (
            f"{host_url}{WEBHOOK_PATH}?functionName={LIFECYCLE_FUNCTION_NAME}" if options.fleet_file else None
        )
        argv = [*_LAUNCH, "devstack.jobrouter", "--host", "127.0.0.1", "--port", str(port)]
        for spec in webhook_specs(webhook_url, agent_webhook, lifecycle_url=lifecycle_url):
            argv += ["--webhook", spec]
        argv += ["--schema", options.schema, "--retry-scale", f"{options.retry_scale:g}"]
        argv += ["--log-level", options.log_level]
        if options.seed is not None:
            argv += ["--seed", str(options.seed)]
        if options.event_log_limit is not None:
            argv += ["--event-log-limit", str(options.event_log_limit)]
        if options.worker_idle_seconds is not None:
            argv += ["--worker-idle-seconds", f"{options.worker_idle_seconds:g}"]
        emulator = ChildProcess(
            "Job Router emulator",
            argv,
            env=self._env(),
            log_path=self.log_dir / "emulator.log",
            cwd=options.app_dir,
        )
        self._children.append(emulator)
        await emulator.start()
        await emulator.wait_for_line(_EMULATOR_READY, self._startup_timeout)
        await wait_until_validated(endpoint, timeout=15.0)
        return StackInfo(
            endpoint=endpoint,
            access_key=DEV_ACCESS_KEY,
            host_url=host_url,
            webhook_url=webhook_url,
            agent_webhook=agent_webhook,
            schema=options.schema,
            logs={"emulator": emulator.log_path, "functions host": host.log_path},
        )

    async def stop(self) -> None:
        """Stop the emulator, then the host (idempotent)."""
        # The emulator first, so no event is sent to a host that is going away.
        children, self._children = self._children, []
        for child in reversed(children):
            await child.stop()
