"""The explain CLI: the offer, the rules tried, the decision and the matched rule; exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offer_handlers.__main__ import main
from tests.fixtures import EVENTS_DIR, EXAMPLES_DIR, REPO_ROOT

POLICY = EXAMPLES_DIR / "policy.json"
EVENTS = EXAMPLES_DIR / "events"


def explain(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("event", "decision", "reason"),
    [
        (
            "accept.eventgrid.json",
            "Decision: ACCEPT",
            "Reason:   bots-in-office-hours (from rule 'bots-in-office-hours'",
        ),
        (
            "decline-retry.cloudevents.json",
            "Decision: DECLINE with retry (retryOfferAt 2024-03-05T14:42:11.500000+00:00",
            "Reason:   vip-needs-senior (from rule 'vip-needs-senior' (#2))",
        ),
        (
            "decline-for-good.eventgrid.json",
            "Decision: DECLINE for good (no retryOfferAt",
            "Reason:   requires-human (from rule 'requires-human' (#1))",
        ),
        (
            "leave.eventgrid.json",
            "Decision: LEAVE (no call",
            "Reason:   humans-answer-in-their-app (from rule 'humans-answer-in-their-app' (#3))",
        ),
    ],
    ids=["accept", "decline-with-retry", "decline-for-good", "leave"],
)
def test_the_example_events_show_each_decision_with_the_matched_rule(
    capsys: pytest.CaptureFixture[str], event: str, decision: str, reason: str
) -> None:
    code, out, _ = explain(capsys, "--policy", POLICY, EVENTS / event)

    assert code == 0
    assert decision in out
    assert reason in out
    assert ": MATCHED" in out


def test_the_parsed_offer_and_the_failed_conditions_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = explain(capsys, "--policy", POLICY, EVENTS / "leave.eventgrid.json")

    assert "worker:            agent-3" in out
    assert 'job labels:        language="de", vip=true' in out
    assert "2. vip-needs-senior: skipped, not true: workerLabels 'level' lessThan 3" in out
    assert "Evaluated at 2024-03-05T16:20:00+00:00 (the offer's offered-at time" in out


def test_now_changes_the_evaluation_time(capsys: pytest.CaptureFixture[str]) -> None:
    # Saturday: outside the office-hours window, so the policy's default applies.
    _, out, _ = explain(
        capsys, "--policy", POLICY, "--now", "2024-03-09T10:15:30Z", EVENTS / "accept.eventgrid.json"
    )

    assert "Evaluated at 2024-03-09T10:15:30+00:00 (given with --now)" in out
    assert "no rule matched, so the policy's default" in out
    assert "Decision: DECLINE with retry" in out


def test_without_a_policy_every_offer_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = explain(capsys, EVENTS / "leave.eventgrid.json")

    assert "Decision: ACCEPT" in out
    assert "Reason:   no-policy" in out


def test_a_plug_in_can_be_explained(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = explain(
        capsys, "--decider", "tests.fixtures.deciders:always_accept", EVENTS / "leave.eventgrid.json"
    )

    assert "Decided by the plug-in tests.fixtures.deciders:always_accept" in out
    assert "Reason:   plugin-accept" in out


def test_other_event_types_are_explained_as_acknowledged(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = explain(capsys, "--policy", POLICY, EVENTS / "offer-revoked.eventgrid.json")

    assert code == 0
    assert "not a RouterWorkerOfferIssued event" in out


def test_every_event_of_a_batch_is_explained(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    batch = [
        json.loads((EVENTS / name).read_text())[0]
        for name in ("accept.eventgrid.json", "leave.eventgrid.json")
    ]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch))

    _, out, _ = explain(capsys, "--policy", POLICY, path)

    assert out.count("Decision:") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--policy", "{policy}", "{event}"), "invalid policy"),
        (("--policy", POLICY, "{bad_event}"), "invalid event"),
        (("--policy", POLICY, "{not_json}"), "not valid JSON"),
        (("--policy", POLICY, "{missing}"), "cannot read"),
        (("--policy", POLICY, "--now", "yesterday", "{event}"), "--now"),
        (("--decider", "nope", "{event}"), "OFFER_DECIDER"),
    ],
    ids=["invalid-policy", "invalid-event", "event-not-json", "event-missing", "bad-now", "bad-decider"],
)
def test_bad_input_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str | Path, ...], message: str
) -> None:
    bad_policy = tmp_path / "policy.json"
    bad_policy.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [{"name": "x", "then": {"action": "decline"}}],
                "default": {"action": "accept"},
            }
        )
    )
    bad_event = tmp_path / "event.json"
    event = json.loads((EVENTS_DIR / "offer_issued.eventgrid.json").read_text())
    del event[0]["data"]["offerId"]
    bad_event.write_text(json.dumps(event))
    not_json = tmp_path / "not.json"
    not_json.write_text("[{")
    paths = {
        "policy": bad_policy,
        "event": EVENTS / "accept.eventgrid.json",
        "bad_event": bad_event,
        "not_json": not_json,
        "missing": tmp_path / "missing.json",
    }
    argv = [str(a).format(**paths) if isinstance(a, str) else a for a in args]

    code, out, err = explain(capsys, *argv)

    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message in err


def test_the_invalid_policy_message_names_rule_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [{"name": "x", "when": {"queues": "q"}, "then": {"action": "accept"}}],
                "default": {"action": "accept"},
            }
        )
    )

    _, _, err = explain(capsys, "--policy", policy, EVENTS / "accept.eventgrid.json")

    assert "rule 'x' field 'when.queues'" in err


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(  # noqa: S603 - a fixed interpreter and arguments
        [
            sys.executable,
            "-m",
            "offer_handlers",
            "explain",
            "--policy",
            str(POLICY),
            str(EVENTS / "accept.eventgrid.json"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Decision: ACCEPT" in result.stdout
