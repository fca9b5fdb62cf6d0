"""``python -m offer_handlers check``: exit 0 when every case passes, 1 with a readable diff when one fails,
2 with one clear line for invalid input; and every example policy passes its shipped cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offer_handlers.__main__ import main
from tests.fixtures import EXAMPLES_DIR, REPO_ROOT
from tests.fixtures.cli import help_text

EXAMPLE_POLICIES = sorted(EXAMPLES_DIR.glob("*policy.json"))


def check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["check", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cases_for(policy: Path) -> Path:
    return policy.with_name(policy.name.removesuffix(".json") + ".cases.json")


def test_every_example_policy_has_cases() -> None:
    assert [p.name for p in EXAMPLE_POLICIES] == ["contact-centre-policy.json", "policy.json"]
    assert all(cases_for(policy).is_file() for policy in EXAMPLE_POLICIES)


@pytest.mark.parametrize("policy", EXAMPLE_POLICIES, ids=[p.name for p in EXAMPLE_POLICIES])
def test_every_example_policy_passes_its_shipped_cases(
    capsys: pytest.CaptureFixture[str], policy: Path
) -> None:
    code, out, err = check(capsys, "--policy", policy, cases_for(policy))

    cases = json.loads(cases_for(policy).read_text())["cases"]
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == f"{len(cases)} passed, 0 failed"
    assert out.count("\npass  ") == len(cases)


def test_the_shipped_cases_cover_every_rule_and_the_default() -> None:
    for policy in EXAMPLE_POLICIES:
        rules = {rule["name"] for rule in json.loads(policy.read_text())["rules"]}
        reasons = {case["expect"]["reason"] for case in json.loads(cases_for(policy).read_text())["cases"]}
        assert reasons == rules | {"default"}, policy.name


@pytest.fixture
def changed_cases(tmp_path: Path) -> Path:
    """examples/policy.cases.json with one expected decision changed (120 s became 60 s)."""
    document = json.loads((EXAMPLES_DIR / "policy.cases.json").read_text())
    (vip,) = [c for c in document["cases"] if c["expect"]["reason"] == "vip-needs-senior"]
    vip["expect"]["retryAfterSeconds"] = 60
    for entry in document["cases"]:
        entry["event"] = str(EXAMPLES_DIR / entry["event"])
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(document))
    return path


def test_a_changed_expectation_exits_1_with_expected_actual_and_the_rules_tried(
    capsys: pytest.CaptureFixture[str], changed_cases: Path
) -> None:
    code, out, _ = check(capsys, "--policy", EXAMPLES_DIR / "policy.json", changed_cases)

    assert code == 1
    lines = out.splitlines()
    (row,) = [line for line in lines if line.startswith("FAIL  ")]
    assert "decline, retry after 60 s (vip-needs-senior)" in row
    assert row.rstrip().endswith("decline, retry after 120 s (vip-needs-senior)")
    detail = out[out.index("\nFAIL junior") :]
    assert "evaluated at 2024-03-05T14:40:11.500000+00:00 (the offer's offered-at time)" in detail
    assert "  - expected: decline, retry after 60 s (vip-needs-senior)" in detail
    assert "  + actual:   decline, retry after 120 s (vip-needs-senior)" in detail
    assert "1. requires-human: skipped, not true: jobLabels 'requiresHuman' equal true" in detail
    assert "2. vip-needs-senior: MATCHED" in detail
    assert lines[-1] == "8 passed, 1 failed"


def test_a_failure_decided_by_the_default_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            {
                "version": 1,
                "cases": [
                    {
                        "name": "late-bot",
                        "event": str(EXAMPLES_DIR / "events" / "accept.eventgrid.json"),
                        "now": "2024-03-05T19:00:00Z",
                        "expect": {"action": "accept", "reason": "bots-in-office-hours"},
                    }
                ],
            }
        )
    )

    code, out, _ = check(capsys, "--policy", EXAMPLES_DIR / "policy.json", cases)

    assert code == 1
    assert "evaluated at 2024-03-05T19:00:00+00:00 (given)" in out
    assert "4. bots-in-office-hours: skipped, not true: local time in Europe/London" in out
    assert "no rule matched, so the policy's default decided" in out


def test_invalid_input_exits_2_with_one_line_naming_the_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad_policy = tmp_path / "policy.json"
    bad_policy.write_text('{"version": 1, "default": {"action": "maybe"}}')
    bad_cases = tmp_path / "cases.json"
    bad_cases.write_text(
        json.dumps({"version": 1, "cases": [{"name": "c", "event": "x.json", "expect": {}}]})
    )
    good_cases = EXAMPLES_DIR / "policy.cases.json"
    good_policy = EXAMPLES_DIR / "policy.json"

    for args, message in [
        (("--policy", bad_policy, good_cases), "invalid policy"),
        (("--policy", tmp_path / "missing.json", good_cases), "cannot read"),
        (("--policy", good_policy, bad_cases), "invalid cases"),
        (("--policy", good_policy, tmp_path / "missing.json"), "cannot read cases file"),
    ]:
        code, out, err = check(capsys, *args)
        assert (code, out) == (2, ""), args
        assert err.startswith("error: "), err
        assert message in err, err
        assert err.count("\n") == 1


def test_the_policy_option_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", str(EXAMPLES_DIR / "policy.cases.json")])

    assert caught.value.code == 2
    assert "--policy" in capsys.readouterr().err


def test_python_dash_m_runs_the_check_without_importing_rich() -> None:
    # The command ships with the function app, whose requirements.txt has no rich.
    script = (
        "import runpy, sys\n"
        "sys.argv = ['offer_handlers', 'check', '--policy', 'examples/policy.json',\n"
        "            'examples/policy.cases.json']\n"
        "try:\n"
        "    runpy.run_module('offer_handlers', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert not [m for m in sys.modules if m.split('.')[0] == 'rich'], 'rich was imported'\n"
        "    raise\n"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "9 passed, 0 failed"


CHECK_HELP = """\
usage: python -m offer_handlers check [-h] --policy POLICY CASES.json

Decide each case of CASES.json with the policy and compare with the expected decision and reason. Exit 0: \
all pass; 1: a case failed; 2: invalid policy or cases. Makes no network call.

positional arguments:
  CASES.json       the test cases (event files are relative to it)

options:
  -h, --help       show this help message and exit
  --policy POLICY  the policy JSON file to check
"""


def test_check_help_describes_the_command_and_its_arguments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert help_text(["check", "--help"], capsys, monkeypatch) == CHECK_HELP


def test_the_command_list_summarises_check_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "\n    check     check that a policy decides its test cases as expected\n" in help_text(
        ["--help"], capsys, monkeypatch
    )


def test_the_output_is_a_table_of_the_cases_then_each_failure_in_detail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a pass, a failure decided by the first rule, and a failure decided by the default
    events = EXAMPLES_DIR / "events"
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            {
                "version": 1,
                "cases": [
                    {
                        "name": "bot-accepts",
                        "event": str(events / "accept.eventgrid.json"),
                        "expect": {"action": "accept", "reason": "bots-in-office-hours"},
                    },
                    {
                        "name": "first-rule",
                        "event": str(events / "decline-for-good.eventgrid.json"),
                        "expect": {"action": "leave", "reason": "requires-human"},
                    },
                    {
                        "name": "late",
                        "event": str(events / "accept.eventgrid.json"),
                        "now": "2024-03-05T19:00:00Z",
                        "expect": {"action": "accept", "reason": "bots-in-office-hours"},
                    },
                ],
            }
        )
    )
    policy = EXAMPLES_DIR / "policy.json"

    code, out, err = check(capsys, "--policy", policy, cases)

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"Policy {policy} · cases {cases}",
        "",
        "RESULT  CASE         EXPECTED                       ACTUAL",
        "pass    bot-accepts  accept (bots-in-office-hours)  accept (bots-in-office-hours)",
        "FAIL    first-rule   leave (requires-human)         decline for good (requires-human)",
        "FAIL    late         accept (bots-in-office-hours)  decline, retry after 30 s (default)",
        "",
        "FAIL first-rule: evaluated at 2024-03-05T11:02:39.987654+00:00 (the offer's offered-at time)",
        "  - expected: leave (requires-human)",
        "  + actual:   decline for good (requires-human)",
        "  rules, in order (the first whose conditions all hold wins):",
        "    1. requires-human: MATCHED",
        "",
        "FAIL late: evaluated at 2024-03-05T19:00:00+00:00 (given)",
        "  - expected: accept (bots-in-office-hours)",
        "  + actual:   decline, retry after 30 s (default)",
        "  rules, in order (the first whose conditions all hold wins):",
        "    1. requires-human: skipped, not true: jobLabels 'requiresHuman' equal true",
        "    2. vip-needs-senior: skipped, not true: jobLabels 'vip' equal true",
        "    3. humans-answer-in-their-app: skipped, not true: workerLabels 'kind' equal \"human\"",
        "    4. bots-in-office-hours: skipped, not true: local time in Europe/London on mon,tue,wed,thu,fri "
        "between 08:00 and 18:00",
        "    5. night-bot: skipped, not true: worker is one of bot-night-1",
        "  no rule matched, so the policy's default decided",
        "",
        "1 passed, 2 failed",
    ]
    assert out.endswith("failed\n")


def test_a_policy_without_rules_fails_a_case_with_the_default_and_no_rules_listed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "default": {"action": "leave"}}))
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            {
                "version": 1,
                "cases": [
                    {
                        "name": "bot",
                        "event": str(EXAMPLES_DIR / "events" / "accept.eventgrid.json"),
                        "expect": {"action": "accept", "reason": "default"},
                    }
                ],
            }
        )
    )

    code, out, _ = check(capsys, "--policy", policy, cases)

    assert code == 1
    assert out.split("\n\n")[2:] == [
        "FAIL bot: evaluated at 2024-03-05T10:15:02+00:00 (the offer's offered-at time)\n"
        "  - expected: accept (default)\n"
        "  + actual:   leave (default)\n"
        "  no rule matched, so the policy's default decided",
        "0 passed, 1 failed\n",
    ]


def test_an_invalid_policy_or_cases_file_is_one_line_naming_the_file_and_the_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad_policy = tmp_path / "policy.json"
    bad_policy.write_text('{"version": 1, "default": {"action": "maybe"}}')
    no_cases = tmp_path / "cases.json"
    no_cases.write_text('{"version": 1, "cases": []}')

    assert check(capsys, "--policy", bad_policy, EXAMPLES_DIR / "policy.cases.json") == (
        2,
        "",
        f"error: invalid policy {str(bad_policy)!r}: policy field 'default.action': "
        'expected "accept", "decline" or "leave", got \'maybe\'\n',
    )
    assert check(capsys, "--policy", EXAMPLES_DIR / "policy.json", no_cases) == (
        2,
        "",
        f"error: invalid cases {str(no_cases)!r}: cases field 'cases': expected a non-empty array of cases\n",
    )
