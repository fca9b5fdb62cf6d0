"""``python -m devstack`` refuses bad input before anything starts: exit 2 and a message naming what is wrong.

``main(argv)`` runs in-process; no emulator or Functions host is started (the runs themselves are specified
in tests/e2e/test_demo_cli.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.demo.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--jobs", "0"], "--jobs must be from 1 to 100000"),
        (["--rate", "-1"], "--rate must be above 0"),
        (["--schema", "xml"], "invalid choice: 'xml'"),
    ],
    ids=["no-jobs", "negative-rate", "unknown-schema"],
)
def test_bad_arguments_exit_2_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_scenario_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = json.loads((ROOT / "examples" / "scenario.json").read_text())
    scenario["workers"][1]["queues"] = ["nowhere"]
    scenario["policy"] = str(ROOT / "examples" / "contact-centre-policy.json")
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))

    assert main(["--scenario", str(path)]) == 2
    assert "workers[1].queues[0]: unknown queue 'nowhere'" in capsys.readouterr().err


def test_a_bad_policy_exits_2_naming_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = json.loads((ROOT / "examples" / "contact-centre-policy.json").read_text())
    (vip,) = [rule for rule in policy["rules"] if rule["name"] == "vip-needs-senior"]
    vip["then"] = {"action": "decline"}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))

    assert main(["--policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert "vip-needs-senior" in err
    assert "retryAfterSeconds" in err
