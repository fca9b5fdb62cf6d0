"""``python -m offer_handlers report``: the workbook's figures from a decision log file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offer_handlers.__main__ import main
from offer_handlers.report import figures_of

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
