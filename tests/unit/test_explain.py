"""The explain CLI: the offer, the rules tried, the decision and the matched rule; exit 2 on bad input."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from offer_handlers.__main__ import main
from offer_handlers.events import OFFER_ISSUED as EVENT_TYPE
from offer_handlers.explain import describe, run
from offer_handlers.policy import Condition, LabelSelector, MinTimeLeft, OneOf, PriorityRange, TimeWindow
from tests.fixtures import EVENTS_DIR, EXAMPLES_DIR, REPO_ROOT
from tests.fixtures.cli import help_text

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


# --- the whole text, as a person reads it ---------------------------------------------------------------

LEAVE_EXPLAINED = "".join(
    f"{line}\n"
    for line in (
        "Event e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b (Event Grid schema, type "
        "Microsoft.Communication.RouterWorkerOfferIssued)",
        "  offer:             0f4e1c1a-0000-4a5b-8c9d-000000001004",
        "  worker:            agent-3",
        "  job:               job-1004",
        "  priority:          1",
        "  queue:             support-de",
        "  channel:           voice",
        "  channel reference: call-9d1e",
        "  offered at:        2024-03-05T16:20:00+00:00",
        "  expires at:        2024-03-05T16:21:00+00:00",
        '  job labels:        language="de", vip=true',
        "  job tags:          (none)",
        '  worker labels:     Id="agent-3", kind="human", level=4',
        "  worker tags:       (none)",
        "Evaluated at 2024-03-05T16:20:00+00:00 (the offer's offered-at time; change it "
        "with --now); 60 s left before the offer expires",
        "Rules, in order (the first whose conditions all hold wins):",
        "  1. requires-human: skipped, not true: jobLabels 'requiresHuman' equal true",
        "  2. vip-needs-senior: skipped, not true: workerLabels 'level' lessThan 3",
        "  3. humans-answer-in-their-app: MATCHED",
        "Decision: LEAVE (no call: someone else answers the offer, or it expires)",
        "Reason:   humans-answer-in-their-app (from rule 'humans-answer-in-their-app' (#3))",
    )
)


def test_the_explanation_shows_the_offer_each_rule_tried_the_decision_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = explain(capsys, "--policy", POLICY, EVENTS / "leave.eventgrid.json")

    assert (code, err) == (0, "")
    assert out == LEAVE_EXPLAINED


MINIMAL_BY_PLUG_IN = "".join(
    f"{line}\n"
    for line in (
        "Event 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b (Event Grid schema, type "
        "Microsoft.Communication.RouterWorkerOfferIssued)",
        "  offer:             offer-1",
        "  worker:            agent-1",
        "  job:               job-1",
        "  priority:          -",
        "  queue:             -",
        "  channel:           -",
        "  channel reference: -",
        "  offered at:        -",
        "  expires at:        2024-03-05T10:16:02+00:00",
        "  job labels:        (none)",
        "  job tags:          (none)",
        "  worker labels:     (none)",
        "  worker tags:       (none)",
        "Evaluated at 2024-03-05T10:15:32+00:00 (given with --now); 30 s left before the offer expires",
        "Decided by the plug-in tests.fixtures.deciders:vip_decline_else_leave "
        "(OFFER_DECIDER), not by the rules",
        "Decision: LEAVE (no call: someone else answers the offer, or it expires)",
        "Reason:   plugin-leave (from plug-in tests.fixtures.deciders:vip_decline_else_leave)",
    )
)


def test_a_plug_in_explanation_shows_missing_fields_as_dashes_and_a_naive_now_as_utc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = explain(
        capsys,
        "--decider",
        "tests.fixtures.deciders:vip_decline_else_leave",
        "--now",
        "2024-03-05T10:15:32",
        EVENTS_DIR / "offer_issued.minimal.json",
    )

    assert code == 0
    assert out == MINIMAL_BY_PLUG_IN


def test_an_offer_without_offered_at_is_evaluated_at_the_current_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = datetime.now(UTC)

    _, out, _ = explain(capsys, EVENTS_DIR / "offer_issued.minimal.json")

    (line,) = [x for x in out.splitlines() if x.startswith("Evaluated at ")]
    at = datetime.fromisoformat(line.removeprefix("Evaluated at ").split(" ")[0])
    assert before <= at <= datetime.now(UTC)
    assert "(the current time; change it with --now)" in line
    assert "Reason:   no-policy (from no rule matched, so the policy's default)" in out


def test_a_now_with_an_offset_is_kept_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    minimal = EVENTS_DIR / "offer_issued.minimal.json"

    _, out, _ = explain(capsys, "--now", "2024-03-05T11:15:32+01:00", minimal)

    assert "Evaluated at 2024-03-05T11:15:32+01:00 (given with --now); 30 s left" in out


def test_the_time_left_is_shown_in_full_seconds_however_far_off(capsys: pytest.CaptureFixture[str]) -> None:
    minimal = EVENTS_DIR / "offer_issued.minimal.json"

    _, out, _ = explain(capsys, "--now", "2024-01-01T00:00:00Z", minimal)

    assert "(given with --now); 5566562 s left before the offer expires" in out


def test_the_events_of_a_batch_are_separated_by_one_blank_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    batch = [
        json.loads((EVENTS / name).read_text())[0]
        for name in ("leave.eventgrid.json", "offer-revoked.eventgrid.json")
    ]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch))

    _, out, _ = explain(capsys, "--policy", POLICY, path)

    first, second = out.split("\n\n")
    assert first + "\n" == LEAVE_EXPLAINED
    assert second.splitlines() == [
        f"Event {batch[1]['id']} (Event Grid schema, type Microsoft.Communication.RouterWorkerOfferRevoked)",
        "  not a RouterWorkerOfferIssued event: the function acknowledges it and makes no call",
    ]


@pytest.mark.parametrize(
    ("event", "decision"),
    [
        (
            "decline-retry.cloudevents.json",
            "Decision: DECLINE with retry (retryOfferAt 2024-03-05T14:42:11.500000+00:00: offered again from "
            "then on)",
        ),
        (
            "decline-for-good.eventgrid.json",
            "Decision: DECLINE for good (no retryOfferAt: the job is never offered to this worker again "
            "unless the worker re-registers)",
        ),
        ("accept.eventgrid.json", "Decision: ACCEPT (accept_job_offer)"),
    ],
    ids=["decline-with-retry", "decline-for-good", "accept"],
)
def test_each_decision_is_spelled_out_with_the_call_it_makes(
    capsys: pytest.CaptureFixture[str], event: str, decision: str
) -> None:
    _, out, _ = explain(capsys, "--policy", POLICY, EVENTS / event)

    assert decision in out.splitlines()


def test_an_invalid_event_message_names_the_file_and_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps([{"id": "e1", "eventType": EVENT_TYPE, "data": {}}]))

    code, _, err = explain(capsys, path)

    assert code == 2
    assert err == f"error: invalid event {str(path)!r}: event 'e1': field 'data.offerId': missing\n"


def test_an_invalid_policy_message_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{")

    _, _, err = explain(capsys, "--policy", path, EVENTS / "accept.eventgrid.json")

    assert err.startswith(f"error: invalid policy {str(path)!r}: policy: not valid JSON")


# --- describe: one line per condition ----------------------------------------------------------------

UTC_ZONE = ZoneInfo("UTC")
DESCRIBED: list[tuple[str, Condition, str]] = [
    ("queues-sorted", OneOf("queue_id", frozenset({"q2", "q1"})), "queue is one of q1, q2"),
    ("channels", OneOf("channel_id", frozenset({"chat"})), "channel is one of chat"),
    ("workers", OneOf("worker_id", frozenset({"w1"})), "worker is one of w1"),
    ("priority-both", PriorityRange(1, 5), "job priority in [1, 5]"),
    ("priority-min-only", PriorityRange(2, None), "job priority in [2, +inf]"),
    ("priority-max-only", PriorityRange(None, 3), "job priority in [-inf, 3]"),
    ("priority-min-equals-max", PriorityRange(0, 0), "job priority in [0, 0]"),
    ("present", LabelSelector("jobLabels", "vip", "present"), "jobLabels 'vip' is present"),
    ("absent", LabelSelector("workerLabels", "x", "absent"), "workerLabels 'x' is absent"),
    ("equal-string", LabelSelector("jobTags", "crm", "equal", "a b"), "jobTags 'crm' equal \"a b\""),
    ("equal-bool", LabelSelector("jobLabels", "vip", "notEqual", False), "jobLabels 'vip' notEqual false"),
    ("float", LabelSelector("jobLabels", "m", "lessThanOrEqual", 4.5), "jobLabels 'm' lessThanOrEqual 4.5"),
    (
        "window-until-midnight",
        TimeWindow(UTC_ZONE, frozenset({0, 6}), time(20, 0), None),
        "local time in UTC on mon,sun between 20:00 and 24:00",
    ),
    (
        "window-every-day",
        TimeWindow(ZoneInfo("Europe/Paris"), frozenset(range(7)), time(0, 0), time(9, 5)),
        "local time in Europe/Paris on mon,tue,wed,thu,fri,sat,sun between 00:00 and 09:05",
    ),
    ("min-left-whole", MinTimeLeft(3.0), "at least 3 s left before the offer expires"),
    ("min-left-zero", MinTimeLeft(0.0), "at least 0 s left before the offer expires"),
    ("min-left-fraction", MinTimeLeft(2.25), "at least 2.25 s left before the offer expires"),
    ("min-left-in-full", MinTimeLeft(1234567.0), "at least 1234567 s left before the offer expires"),
]


@pytest.mark.parametrize(("condition", "text"), [c[1:] for c in DESCRIBED], ids=[c[0] for c in DESCRIBED])
def test_describe_says_each_condition_as_the_policy_would(condition: Condition, text: str) -> None:
    assert describe(condition) == text


# --- the command line itself ----------------------------------------------------------------------------

EXPLAIN_HELP = """\
usage: python -m offer_handlers explain [-h] [--policy POLICY] [--decider DECIDER] [--now NOW] EVENT.json

Parse EVENT (Event Grid or CloudEvents JSON), evaluate the policy and print the decision and the rule that \
matched. Makes no network call.

positional arguments:
  EVENT.json         the event, as delivered (array or object)

options:
  -h, --help         show this help message and exit
  --policy POLICY    policy JSON file (default: none, so every offer is accepted)
  --decider DECIDER  an OFFER_DECIDER plug-in, package.module:function, instead of the rules
  --now NOW          evaluate at this ISO 8601 time (default: the offer's offered-at time, else the current \
time)
"""
TOP_HELP = """\
usage: python -m offer_handlers [-h] COMMAND ...

Command line: ``python -m offer_handlers explain|check|report ...``.

positional arguments:
  COMMAND
    explain   show what a policy decides for an event, and why
    check     check that a policy decides its test cases as expected
    report    the operations figures of a decision log file

options:
  -h, --help  show this help message and exit
"""


@pytest.mark.parametrize(
    ("argv", "text"), [(["explain", "--help"], EXPLAIN_HELP), (["--help"], TOP_HELP)], ids=["explain", "top"]
)
def test_help_describes_every_command_and_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], text: str
) -> None:
    assert help_text(argv, capsys, monkeypatch) == text


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])

    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "python -m offer_handlers: error: the following arguments are required: COMMAND\n"
    )


def test_the_explanation_goes_to_the_stream_it_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    args = argparse.Namespace(policy=POLICY, decider=None, now=None, event=EVENTS / "leave.eventgrid.json")

    assert run(args, out) == 0

    assert out.getvalue() == LEAVE_EXPLAINED
    assert capsys.readouterr() == ("", "")


def test_a_missing_event_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    _, _, err = explain(capsys, missing)

    assert err.startswith(f"error: cannot read {str(missing)!r}: ")


def test_an_event_file_that_is_not_json_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "not.json"
    path.write_text("[{", encoding="utf-8")

    _, _, err = explain(capsys, path)

    assert err.startswith(f"error: invalid event {str(path)!r}: not valid JSON: ")


def test_every_line_goes_to_the_stream_it_is_given_plug_in_and_other_events_included(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    batch = [
        json.loads((EVENTS / name).read_text())[0]
        for name in ("leave.eventgrid.json", "offer-revoked.eventgrid.json")
    ]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch))
    out = io.StringIO()
    args = argparse.Namespace(
        policy=None, decider="tests.fixtures.deciders:always_accept", now="2024-03-05T16:20:00Z", event=path
    )

    assert run(args, out) == 0

    text = out.getvalue()
    assert (
        "Decided by the plug-in tests.fixtures.deciders:always_accept (OFFER_DECIDER), not by the rules\n"
        in text
    )
    assert "  not a RouterWorkerOfferIssued event: the function acknowledges it and makes no call\n" in text
    assert capsys.readouterr() == ("", "")
