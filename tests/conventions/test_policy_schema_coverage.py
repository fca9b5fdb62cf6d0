"""Every policy document the unit tests load gets the same verdict from the JSON Schema as from the loader.

The unit tests run again in a child pytest with a plugin that records each document ``parse_policy`` sees
(tests/conventions/policy_recorder.py); each recorded document is then checked the way
tests/unit/test_policy_schema.py checks its own. The property tests are left out of the child run: their
policy mutations are checked directly, in tests/unit/test_policy_schema.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_policy_schema import VALIDATOR, assert_agree, loader_verdict

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    record = tmp_path_factory.mktemp("record") / "policies.jsonl"
    record.touch()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conventions.policy_recorder",
            "tests/unit",
            "--ignore=tests/unit/test_properties.py",
            "--ignore=tests/unit/test_policy_schema.py",
        ],
        cwd=REPO,
        env={**os.environ, "POLICY_RECORD": str(record)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert child.returncode == 0, child.stdout[-4000:] + child.stderr[-4000:]
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def test_the_unit_tests_load_both_valid_and_invalid_policies(recorded: list[dict[str, Any]]) -> None:
    valid = [r for r in recorded if r["error"] is None]
    invalid = [r for r in recorded if r["error"] is not None]

    assert len(valid) >= 50
    assert len(invalid) >= 40
    assert not [r for r in recorded if r["not_json"]]


def test_every_valid_policy_the_unit_tests_load_validates_against_the_schema(
    recorded: list[dict[str, Any]],
) -> None:
    for entry in recorded:
        if entry["error"] is None:
            document = entry["document"]
            assert VALIDATOR.is_valid(document), (
                document,
                [e.message for e in VALIDATOR.iter_errors(document)],
            )


def test_every_policy_the_unit_tests_load_gets_the_same_verdict_from_schema_and_loader(
    recorded: list[dict[str, Any]],
) -> None:
    for entry in recorded:
        # The recorded verdict came from parse_policy; the loader's text path must give the same one.
        assert (loader_verdict(entry["document"]) is None) == (entry["error"] is None)
        assert_agree(entry["document"])
