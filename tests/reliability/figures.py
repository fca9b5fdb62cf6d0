"""Figures the reliability tests measure, collected for ``RELIABILITY.md``.

Each test calls :func:`record` with a section, a figure name, the value and the command that produced it.
Figures go to ``$RELIABILITY_RESULTS/<section>.json`` when that variable is set (``make reliability`` sets
it; ``devstack/reliability_report.py`` renders the files), and nowhere otherwise, so a plain ``pytest`` run
writes nothing into the tree.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Final

__all__ = ["RESULTS_ENV", "record", "results_dir"]

RESULTS_ENV: Final = "RELIABILITY_RESULTS"
_lock = threading.Lock()


def results_dir() -> Path | None:
    """Where figures are written, or None when they are not collected."""
    value = os.environ.get(RESULTS_ENV, "").strip()
    return Path(value) if value else None


def record(section: str, name: str, value: Any, *, command: str) -> None:
    """Store one figure (JSON-serialisable ``value``) under ``section``; a later value replaces it."""
    directory = results_dir()
    if directory is None:
        return
    with _lock:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{section}.json"
        figures: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        figures[name] = {"value": value, "command": command}
        path.write_text(json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
