"""``python -m offer_handlers report``: the workbook's figures from a decision log file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from offer_handlers.__main__ import main
from offer_handlers.report import figures_of
from tests.fixtures import REPO_ROOT
from tests.fixtures.cli import help_text

HOST = "2030-01-01 12:00:00,000 INFO offer_handlers.decisions: "
LOG = [
    "2030-01-01 12:00:00,000 INFO devstack.functions_host.host: Executed 'on_offer_issued' (Succeeded, ...)",
    HOST + "v=2 decision=accept reason=bots outcome=accepted offer_age_ms=100 time_left_ms=900",
    HOST + "v=2 decision=accept reason=bots outcome=accepted offer_age_ms=300 time_left_ms=700",
    HOST + "v=2 decision=decline reason=vip outcome=declined offer_age_ms=200 time_left_ms=800",
    HOST + "v=2 decision=leave reason=humans outcome=left offer_age_ms=400",
    HOST + "v=2 decision=accept reason=bots outcome=gone status=404 offer_age_ms=500",
    HOST + "v=2 decision=accept reason=bots outcome=expired offer_age_ms=5000 time_left_ms=-10",
    HOST
    + "v=2 decision=accept reason=bots outcome=error error=RetryableServiceError status=503 offer_age_ms=600",
    HOST
    + "v=2 decision=accept reason=bots outcome=error error=ConfigurationError status=401 offer_age_ms=700",
    HOST + "v=2 decision=none reason=not-an-offer-event outcome=ignored event_type=x",
    HOST + "v=2 decision=none reason=invalid-event outcome=invalid field=data.offerId",
    HOST + 'v=2 decision=accept reason="cut',
    "decision=leave reason=humans retry_at=- outcome=left",  # a version 1 line, bare: not found
    "v=1 decision=leave reason=humans outcome=left",  # a bare message with its version: found
]


def test_the_report_counts_offers_by_decision_outcome_and_reason() -> None:
    figures = figures_of(LOG)

    assert (figures.lines, figures.unreadable, figures.versions) == (11, 1, ((1, 1), (2, 10)))
    assert dict(figures.by_decision) == {"accept": 6, "decline": 1, "leave": 2, "none": 2}
    assert dict(figures.by_outcome) == {
        "accepted": 2,
        "declined": 1,
        "left": 2,
        "gone": 1,
        "expired": 1,
        "error": 2,
        "ignored": 1,
        "invalid": 1,
    }
    assert dict(figures.by_reason)["bots"] == 6


def test_offer_age_percentiles_are_nearest_rank_over_the_lines_that_carry_it() -> None:
    figures = figures_of(LOG)

    # 100 200 300 400 500 600 700 5000: p50 is the 4th, p95 and p99 the 8th
    assert (figures.offer_age_count, dict(figures.offer_age_ms)) == (
        8,
        {"p50": 400, "p95": 5000, "p99": 5000},
    )


def test_shares_are_of_the_offer_issued_events_only() -> None:
    figures = figures_of(LOG)

    assert figures.offers == 9  # everything but ignored and invalid
    assert (figures.expired_share, figures.gone_share) == (1 / 9, 1 / 9)


def test_failures_are_grouped_by_error_class_and_status_and_configuration_errors_counted() -> None:
    figures = figures_of(LOG)

    assert figures.failures == (("ConfigurationError", "401", 1), ("RetryableServiceError", "503", 1))
    assert figures.configuration_errors == 1


def test_the_cli_prints_the_report_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "functions-host.log"
    log.write_text("\n".join(LOG) + "\n", encoding="utf-8")

    assert main(["report", str(log)]) == 0
    text = capsys.readouterr().out
    assert main(["report", str(log), "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)

    assert "Offers by outcome" in text
    shares = text.split("Shares of the 9 offer-issued events")[1]
    assert "11.11%" in next(line for line in shares.splitlines() if line.strip().startswith("expired"))
    assert "RetryableServiceError 503" in text
    assert as_json["by_outcome"]["accepted"] == 2
    assert as_json["offer_age_ms"] == {"p50": 400, "p95": 5000, "p99": 5000}


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("hello\nworld\n", "holds no decision line")],
    ids=["missing-file", "no-decision-lines"],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    log = tmp_path / "x.log"
    if content is not None:
        log.write_text(content, encoding="utf-8")

    assert main(["report", str(log)]) == 2
    assert message in capsys.readouterr().err


# --- the figures, precisely -------------------------------------------------------------------------


def test_counts_are_ranked_most_frequent_first_and_ties_by_name() -> None:
    figures = figures_of(LOG)

    assert figures.by_decision == (("accept", 6), ("leave", 2), ("none", 2), ("decline", 1))
    assert figures.by_outcome[:4] == (("accepted", 2), ("error", 2), ("left", 2), ("declined", 1))


@pytest.mark.parametrize(
    ("ages", "percentiles"),
    [
        ([700], {"p50": 700, "p95": 700, "p99": 700}),
        ([700, 100], {"p50": 100, "p95": 700, "p99": 700}),
        ([float(a) for a in range(1, 101)], {"p50": 50, "p95": 95, "p99": 99}),
    ],
    ids=["one-age", "two-ages", "a-hundred-ages"],
)
def test_each_percentile_is_the_age_at_its_nearest_rank(
    ages: list[float], percentiles: dict[str, float]
) -> None:
    figures = figures_of(f"v=2 decision=accept outcome=accepted offer_age_ms={a:g}" for a in ages)

    assert dict(figures.offer_age_ms) == percentiles


def test_failures_are_ranked_by_count_and_a_missing_class_or_status_reads_dash() -> None:
    figures = figures_of(
        [
            "v=2 decision=accept outcome=error error=RetryableServiceError status=503",
            "v=2 decision=accept outcome=error error=InvalidDeciderError",
            "v=2 decision=accept outcome=error error=RetryableServiceError status=503",
            "v=2 decision=accept outcome=error status=500",
            "v=2 decision=accept outcome=error error=ConfigurationError status=401",
        ]
    )

    assert figures.failures == (
        ("RetryableServiceError", "503", 2),
        ("-", "500", 1),
        ("ConfigurationError", "401", 1),
        ("InvalidDeciderError", "-", 1),
    )
    assert figures.configuration_errors == 2


def test_a_line_without_decision_reason_or_outcome_is_counted_under_dash() -> None:
    figures = figures_of(["v=2 offer_id=o-1", "v=2 decision=accept reason=bots outcome=accepted"])

    assert (figures.by_decision, figures.by_reason, figures.by_outcome) == (
        (("-", 1), ("accept", 1)),
        (("-", 1), ("bots", 1)),
        (("-", 1), ("accepted", 1)),
    )


def test_every_unreadable_decision_line_is_counted() -> None:
    figures = figures_of(['v=2 decision=accept reason="cut', 'v=2 decision=leave reason="cut'])

    assert (figures.lines, figures.unreadable) == (0, 2)


def test_without_offer_issued_events_the_shares_are_zero() -> None:
    figures = figures_of(["v=2 decision=none reason=not-an-offer-event outcome=ignored"])

    assert (figures.offers, figures.expired_share, figures.gone_share) == (0, 0.0, 0.0)


# --- the command line, word for word -------------------------------------------------------------------


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


FULL_REPORT = """\
Decision log {log}: 11 decision lines
  1 decision line could not be read (cut or mangled)
  format versions: v1 1, v2 10

Offers by decision
  accept                                  6
  leave                                   2
  none                                    2
  decline                                 1

Offers by outcome
  accepted                                2
  error                                   2
  left                                    2
  declined                                1
  expired                                 1
  gone                                    1
  ignored                                 1
  invalid                                 1

Offers by reason
  bots                                    6
  humans                                  2
  invalid-event                           1
  not-an-offer-event                      1
  vip                                     1

Offer age when answered (ms, 8 offers)
  p50                                   400
  p95                                  5000
  p99                                  5000

Shares of the 9 offer-issued events
  expired                            11.11%
  gone (404/409)                     11.11%

Failures by error class and status
  ConfigurationError 401                  1
  RetryableServiceError 503               1

Configuration errors: 1
"""


def test_the_text_report_shows_every_figure_in_its_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "host.log", LOG)

    assert main(["report", str(log)]) == 0

    assert capsys.readouterr().out == FULL_REPORT.format(log=log)


V1_REPORT = """\
Decision log {log}: 1 decision line
  format versions: v1 1

Offers by decision
  leave                                   1

Offers by outcome
  left                                    1

Offers by reason
  humans                                  1

Offer age when answered (ms, 0 offers)
  no line carries offer_age_ms (version 1 lines, or no offer had offeredOn)

Shares of the 1 offer-issued events
  expired                             0.00%
  gone (404/409)                      0.00%

Failures by error class and status
  none

Configuration errors: 0
"""


def test_the_text_report_says_when_no_line_has_an_age_and_nothing_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "v1.log", ["v=1 decision=leave reason=humans outcome=left"])

    assert main(["report", str(log)]) == 0

    assert capsys.readouterr().out == V1_REPORT.format(log=log)


def test_the_json_report_holds_every_figure_indented_by_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "host.log", LOG)

    assert main(["report", str(log), "--json"]) == 0

    expected = {
        "lines": 11,
        "unreadable": 1,
        "versions": {"1": 1, "2": 10},
        "by_decision": {"accept": 6, "leave": 2, "none": 2, "decline": 1},
        "by_outcome": {
            "accepted": 2,
            "error": 2,
            "left": 2,
            "declined": 1,
            "expired": 1,
            "gone": 1,
            "ignored": 1,
            "invalid": 1,
        },
        "by_reason": {"bots": 6, "humans": 2, "invalid-event": 1, "not-an-offer-event": 1, "vip": 1},
        "offers": 9,
        "offer_age_ms": {"p50": 400.0, "p95": 5000.0, "p99": 5000.0},
        "offer_age_count": 8,
        "expired_share": 1 / 9,
        "gone_share": 1 / 9,
        "failures": [
            {"error": "ConfigurationError", "status": "401", "count": 1},
            {"error": "RetryableServiceError", "status": "503", "count": 1},
        ],
        "configuration_errors": 1,
    }
    assert capsys.readouterr().out == json.dumps(expected, indent=2) + "\n"


def test_a_log_whose_decision_lines_are_all_unreadable_is_still_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "cut.log", ['v=2 decision=accept reason="cut'])

    assert main(["report", str(log), "--json"]) == 0

    assert json.loads(capsys.readouterr().out)["unreadable"] == 1


def test_bytes_that_are_not_utf8_are_replaced_rather_than_failing_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "latin1.log"
    log.write_bytes(b"v=2 decision=accept reason=caf\xe9 outcome=accepted\n")

    assert main(["report", str(log), "--json"]) == 0

    assert json.loads(capsys.readouterr().out)["by_reason"] == {"caf\ufffd": 1}


def test_the_log_is_read_as_utf8_so_the_figures_do_not_depend_on_the_locale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "host.log", ["v=2 decision=accept reason=café-rule outcome=accepted"])
    assert main(["report", str(log), "--json"]) == 0  # here, in a UTF-8 locale
    here = capsys.readouterr().out
    # the C locale without Python's UTF-8 coercion: the platform's default encoding is ASCII
    ascii_locale = {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}

    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed command
        [sys.executable, "-m", "offer_handlers", "report", str(log), "--json"],
        cwd=REPO_ROOT,
        env={**os.environ, **ascii_locale},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["by_reason"] == {"café-rule": 1}
    assert result.stdout == here


def test_a_missing_file_exits_2_naming_it_and_the_system_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "missing.log"

    assert main(["report", str(log)]) == 2

    assert capsys.readouterr().err == f"error: cannot read {str(log)!r}: No such file or directory\n"


def test_a_file_without_decision_lines_exits_2_naming_it_and_the_logger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "other.log", ["hello", "world"])

    assert main(["report", str(log)]) == 2

    assert capsys.readouterr().err == (
        f"error: {str(log)!r} holds no decision line (logger offer_handlers.decisions)\n"
    )


REPORT_HELP = """\
usage: python -m offer_handlers report [-h] [--json] LOGFILE

Read LOGFILE (the Functions host's log, or decision lines one per line) and print offers by decision, \
outcome and reason, offer age percentiles, expired and gone shares, failures and configuration errors.

positional arguments:
  LOGFILE     a log file holding decision lines

options:
  -h, --help  show this help message and exit
  --json      print the figures as JSON
"""


def test_help_describes_the_report_command_and_its_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert help_text(["report", "--help"], capsys, monkeypatch) == REPORT_HELP


def test_the_command_list_says_what_report_is_for(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "    report    the operations figures of a decision log file\n" in help_text(
        ["--help"], capsys, monkeypatch
    )


def test_a_console_that_cannot_show_a_reason_gets_it_escaped_not_a_crash(tmp_path: Path) -> None:
    log = write_log(tmp_path / "host.log", ["v=2 decision=accept reason=café-rule outcome=accepted"])
    ascii_locale = {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}

    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed command
        [sys.executable, "-m", "offer_handlers", "report", str(log)],
        cwd=REPO_ROOT,
        env={**os.environ, **ascii_locale},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "caf\\xe9-rule" in result.stdout


def test_the_cli_escapes_what_an_ascii_stdout_cannot_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path / "host.log", ["v=2 decision=accept reason=café-rule outcome=accepted"])
    raw = io.BytesIO()
    console = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", console)

    assert main(["report", str(log)]) == 0

    console.flush()
    assert "caf\\xe9-rule" in raw.getvalue().decode("ascii")
