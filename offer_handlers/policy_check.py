"""``python -m offer_handlers check``: run a policy against its test cases, like a test suite.

Prints one table row per case (pass or FAIL, expected and actual decision), then, for each failure, the
evaluation time and the rules tried with the condition that did not hold. Exit code 0 when every case
passes, 1 when any fails, 2 (one clear line) when the policy or the cases are invalid. Plain text, no
network, no settings: it runs anywhere the package does (README.md, "Policy tests as code").
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from offer_handlers.errors import InvalidCasesError, InvalidPolicyError
from offer_handlers.explain import UsageError, describe
from offer_handlers.policy_cases import (
    CaseResult,
    check_cases,
    describe_decision,
    describe_expected,
    load_cases_file,
)
from offer_handlers.policy_document import load_policy_file

__all__ = ["add_parser", "render", "run"]

_HEADER = ("RESULT", "CASE", "EXPECTED", "ACTUAL")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``check`` sub-command."""
    parser = subparsers.add_parser(
        "check",
        help="check that a policy decides its test cases as expected",
        description="Decide each case of CASES.json with the policy and compare with the expected decision "
        "and reason. Exit 0: all pass; 1: a case failed; 2: invalid policy or cases. Makes no network call.",
    )
    parser.add_argument("--policy", type=Path, required=True, help="the policy JSON file to check")
    parser.add_argument(
        "cases", type=Path, metavar="CASES.json", help="the test cases (event files are relative to it)"
    )
    parser.set_defaults(command=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Check every case; returns the exit code (0 all pass, 1 any failure)."""
    try:
        policy = load_policy_file(args.policy)
    except InvalidPolicyError as err:
        raise UsageError(f"invalid policy {str(args.policy)!r}: {err}") from err
    try:
        cases = load_cases_file(args.cases)
    except InvalidCasesError as err:
        raise UsageError(f"invalid cases {str(args.cases)!r}: {err}") from err
    results = check_cases(policy, cases)
    out.write(f"Policy {args.policy} · cases {args.cases}\n\n")
    out.write(render(results))
    return 0 if all(result.passed for result in results) else 1


def render(results: Sequence[CaseResult]) -> str:
    """The table, the failure details and the closing count, as text."""
    rows = [_HEADER] + [
        (
            "pass" if r.passed else "FAIL",
            r.case.name,
            describe_expected(r.case.expected),
            describe_decision(r.decision, r.case.now),
        )
        for r in results
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADER) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    for result in results:
        if not result.passed:
            lines += ["", *_failure(result)]
    failed = sum(not r.passed for r in results)
    lines += ["", f"{len(results) - failed} passed, {failed} failed"]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _failure(result: CaseResult) -> list[str]:
    case = result.case
    lines = [
        f"FAIL {case.name}: evaluated at {case.now.isoformat()} ({case.now_source})",
        f"  - expected: {describe_expected(case.expected)}",
        f"  + actual:   {describe_decision(result.decision, case.now)}",
    ]
    if result.steps:
        lines.append("  rules, in order (the first whose conditions all hold wins):")
    for number, step in enumerate(result.steps, start=1):
        verdict = "MATCHED" if step.failed is None else f"skipped, not true: {describe(step.failed)}"
        lines.append(f"    {number}. {step.rule.name}: {verdict}")
    if not result.steps or result.steps[-1].failed is not None:
        lines.append("  no rule matched, so the policy's default decided")
    return lines
