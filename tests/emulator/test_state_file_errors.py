"""``--state FILE`` that cannot be read or written: one clear error naming the file (and the record), never a
traceback, and a change that could not be written is never reported as saved."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.jobrouter.store import StateFileError, StateWriteError, Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _state_with_one_queue(path: Path) -> None:
    store = Store(path)
    store.create("queues", "q1", {"id": "q1", "distributionPolicyId": "dp"}, NOW)
    store.flush()
    store.close()


def _overwrite_a_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 2 * page, "the state file should have more than one page"
    data[page : 2 * page] = b"\xa5" * page
    path.write_bytes(bytes(data))


def test_a_state_file_with_an_overwritten_page_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    _state_with_one_queue(path)
    _overwrite_a_page(path)
    with pytest.raises(StateFileError, match=str(path)):
        Store(path)


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("body", "{not json", "Expecting property name"),
        ("body", "[1, 2]", "JSON objects"),
        ("body", json.dumps({"id": "other"}), "id is not the record's id"),
        ("internal", "null", "JSON objects"),
        ("last_modified", "yesterday", "Invalid isoformat"),
        ("last_modified", "2026-01-01T00:00:00", "no time zone"),
    ],
    ids=["body-not-json", "body-not-object", "body-other-id", "internal-null", "bad-date", "naive-date"],
)
def test_a_bad_record_is_refused_naming_the_file_and_the_record(
    tmp_path: Path, column: str, value: str, problem: str
) -> None:
    path = tmp_path / "state.sqlite"
    _state_with_one_queue(path)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(f"UPDATE records SET {column} = ? WHERE kind = 'queues' AND id = 'q1'", (value,))  # noqa: S608
    with pytest.raises(StateFileError) as caught:
        Store(path)
    message = str(caught.value)
    assert str(path) in message
    assert "queues/q1" in message
    assert problem in message


@pytest.fixture
def read_only_state(tmp_path: Path) -> Iterator[Path]:
    """A state file nobody may write: ``chattr +i`` (root ignores mode bits), else mode 0444."""
    path = tmp_path / "state.sqlite"
    _state_with_one_queue(path)
    chattr = shutil.which("chattr")
    immutable = (
        chattr is not None
        and subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode == 0  # noqa: S603
    )
    if not immutable:
        if os.geteuid() == 0:
            pytest.skip("root writes mode-0444 files, and chattr +i is not available here")
        path.chmod(0o444)
    yield path
    if immutable:
        assert chattr is not None
        subprocess.run([chattr, "-i", str(path)], check=True)  # noqa: S603


def test_a_state_file_that_cannot_be_written_is_refused_at_start(read_only_state: Path) -> None:
    with pytest.raises(StateFileError, match=str(read_only_state)):
        Store(read_only_state)


def test_the_cli_refuses_a_state_file_it_cannot_write_with_exit_2(read_only_state: Path) -> None:
    result = _run_cli(read_only_state)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(read_only_state) in result.stderr


def test_a_write_that_fails_raises_and_keeps_the_change_marked(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = Store(path)
    store.create("queues", "q1", {"id": "q1"}, NOW)
    assert store._db is not None
    store._db.execute("PRAGMA query_only = ON")  # every write now fails, as on a read-only or full disk
    with pytest.raises(StateWriteError, match=str(path)):
        store.flush()
    store._db.execute("PRAGMA query_only = OFF")
    store.flush()  # the change was kept and is written once the file is writable again
    store.close()
    reopened = Store(path)
    assert reopened.get("queues", "q1") is not None
    reopened.close()


def test_the_cli_ends_a_corrupt_state_file_with_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    _state_with_one_queue(path)
    _overwrite_a_page(path)
    result = _run_cli(path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert str(path) in errors[0]


def _run_cli(state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "devstack.jobrouter", "--port", "0", "--state", str(state)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
