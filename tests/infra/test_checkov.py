"""checkov's Bicep policies pass over infra/, and every skipped check is justified where it is skipped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.infra.conftest import INFRA, REPO

SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(?P<id>CKV2?_[A-Z]+_\d+)(?::\s*(?P<reason>.*))?$")


def _checks(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = report["results"].get(kind, [])
    return checks


def _skip_comments() -> list[tuple[str, int, str, str]]:
    """(file, line, check id, reason) for every ``// checkov:skip=`` comment under infra/."""
    found = []
    for path in sorted(INFRA.rglob("*.bicep")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if match := SKIP_COMMENT.search(line.strip()):
                found.append((path.relative_to(REPO).as_posix(), number, match["id"], match["reason"] or ""))
    return found


def test_checkov_passes_over_infra(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in _checks(checkov_report, "failed_checks")
    ]
    assert failed == [], "checkov failed checks:\n" + "\n".join(failed)
    assert checkov_report["exit_code"] == 0


def test_checkov_parsed_every_bicep_file(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0, checkov_report["results"].get("parsing_errors")
    # A parser that silently dropped files would also "pass": make sure it saw the resources.
    assert summary["resource_count"] >= 30
    assert summary["passed"] > 0


def test_every_skip_has_a_written_reason_next_to_the_resource(checkov_report: dict[str, Any]) -> None:
    for check in _checks(checkov_report, "skipped_checks"):
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 40, (
            f"{check['check_id']} on {check['resource']} is skipped without a real reason"
        )
        assert reason != "No comment provided"


def test_every_skip_comment_suppresses_a_check_that_would_fail(checkov_report: dict[str, Any]) -> None:
    """No stale skips: each comment matches a check checkov actually evaluated on that resource."""
    skipped = {(Path(c["file_path"]).name, c["check_id"]) for c in _checks(checkov_report, "skipped_checks")}
    comments = _skip_comments()
    assert comments, "expected skip comments (see the resources in infra/app/)"
    stale = [(f, n, cid) for f, n, cid, _ in comments if (Path(f).name, cid) not in skipped]
    assert stale == [], f"skip comments that suppress nothing: {stale}"


def test_no_check_is_skipped_globally() -> None:
    config = (INFRA / ".checkov.yaml").read_text(encoding="utf-8")
    assert "skip-check" not in config
    assert "soft-fail" not in config
