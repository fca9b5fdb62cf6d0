"""``python -m offer_handlers report`` over the log the dev stack wrote: the demo runs ten jobs, then the
report's figures are checked against the host log itself (one decision line per invocation)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.fixtures import REPO_ROOT


def run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own interpreter and modules)
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_report_over_the_demos_host_log_counts_every_invocation_once(tmp_path: Path) -> None:
    demo = run("-m", "devstack", "--jobs", "10", "--seed", "11", "--log-dir", str(tmp_path), timeout=180)
    assert demo.returncode == 0, demo.stderr[-3000:]
    host_log = tmp_path / "functions-host.log"

    done = run("-m", "offer_handlers", "report", str(host_log), "--json", timeout=60)

    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    text = host_log.read_text(encoding="utf-8")
    invocations = len(re.findall(r"Executed 'on_offer_issued' \((?:Succeeded|Failed)", text))
    outcomes = Counter(re.findall(r"offer_handlers\.decisions: .*?\boutcome=(\w+)", text))
    assert invocations > 0
    assert figures["lines"] == invocations
    assert figures["unreadable"] == 0
    assert figures["versions"] == {"2": invocations}
    assert figures["by_outcome"] == dict(outcomes)
    ages = figures["offer_age_ms"]
    assert figures["offer_age_count"] > 0
    assert 0 <= ages["p50"] <= ages["p95"] <= ages["p99"]
    assert figures["offers"] == invocations - outcomes["ignored"] - outcomes["invalid"]
    assert figures["expired_share"] == outcomes["expired"] / figures["offers"]
