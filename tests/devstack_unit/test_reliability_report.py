"""devstack.reliability_report: what RELIABILITY.md shows of the figures a run recorded."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.reliability_report import MISSING, main, render


def _hardening_section(document: str) -> str:
    start = document.index("## 7. Bad objects")
    end = document.find("\n## ", start + 1)
    return document[start:] if end == -1 else document[start:end]


def test_the_hardening_counts_are_shown_with_the_command_that_produced_them() -> None:
    figures = {
        "hardening": {
            "failed_writes": {
                "value": {"failed writes": 10, "acknowledged writes lost after restart": 0},
                "command": "pytest tests/reliability/test_emulator_hardening.py -k never_acknowledged",
            }
        }
    }
    section = _hardening_section(render(figures))

    assert "| failed writes | 10 |" in section
    assert "| acknowledged writes lost after restart | 0 |" in section
    assert "Command: `pytest tests/reliability/test_emulator_hardening.py -k never_acknowledged`" in section
    assert section.count(MISSING) == 2  # the poison and slow-client runs did not record anything


def test_a_run_without_hardening_figures_says_so_for_each_part() -> None:
    assert _hardening_section(render({})).count(MISSING) == 3


def test_main_reads_a_results_directory_and_refuses_a_missing_one(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "hardening.json").write_text(
        json.dumps({"slow_clients": {"value": {"slow clients": 200}, "command": "pytest -k slow_clients"}}),
        encoding="utf-8",
    )
    output = tmp_path / "RELIABILITY.md"

    assert main([str(results), str(output)]) == 0
    assert "| slow clients | 200 |" in output.read_text(encoding="utf-8")
    assert main([str(tmp_path / "absent"), str(output)]) == 2
