"""Fixtures for the template checks: checkov and its Bicep parser live in a separate venv, .venv-infra.

That venv is created by ``make`` (see the Makefile) from requirements-infra.txt. These fixtures call it by
path, through subprocess, once per session. When it is absent the template tests SKIP with the command that
creates it; nothing else is ever a reason to skip. Set INFRA_VENV to use a venv elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import Template

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
DUMP_SCRIPT = Path(__file__).with_name("dump_templates.py")
MAIN = "infra/main.bicep"

# Offline and quiet: no download from the vendor's platform, no PyPI version check.
CHECKOV_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"}


def infra_venv() -> Path:
    return Path(os.environ.get("INFRA_VENV", REPO / ".venv-infra"))


@pytest.fixture(scope="session")
def infra_bin() -> Path:
    """``.venv-infra/bin``; skips the template tests, with the fix, when that venv is absent."""
    venv = infra_venv()
    if not (venv / "bin" / "checkov").is_file():
        pytest.skip(
            f"{venv} is absent (no checkov there): create it with "
            "`python3.13 -m venv .venv-infra && .venv-infra/bin/pip install -r requirements-infra.txt` "
            "(`make test` does this)"
        )
    return venv / "bin"


def _run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv built from repository paths, no shell
        cmd,
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="session")
def dumped(infra_bin: Path) -> dict[str, Any]:
    """Every infra/**/*.bicep parsed by checkov's parser, plus azure.yaml, as one JSON document."""
    proc = _run([str(infra_bin / "python"), str(DUMP_SCRIPT), str(REPO)])
    assert proc.returncode == 0, f"dump_templates.py failed:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="session")
def templates(dumped: dict[str, Any]) -> dict[str, Template]:
    """The Bicep files that parsed, by path relative to the repository root."""
    return {
        path: Template(path, entry["template"])
        for path, entry in dumped["bicep"].items()
        if "template" in entry
    }


@pytest.fixture(scope="session")
def main(templates: dict[str, Template]) -> Template:
    return templates[MAIN]


def module_template(templates: dict[str, Template], main: Template, symbol: str) -> Template:
    """The template a module of main.bicep deploys, by the module's symbolic name."""
    modules = {m.symbol: m for m in main.modules()}
    assert symbol in modules, f"main.bicep has no module {symbol!r}"
    return templates[f"infra/{modules[symbol].path}"]


@pytest.fixture(scope="session")
def checkov_report(infra_bin: Path) -> dict[str, Any]:
    """checkov's JSON report for infra/, run exactly as infra/.checkov.yaml configures it."""
    proc = _run(
        [str(infra_bin / "checkov"), "--config-file", str(INFRA / ".checkov.yaml"), "--output", "json"],
        **CHECKOV_ENV,
    )
    assert proc.stdout.strip(), f"checkov printed no report (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout)
    # One framework configured, so one report object (checkov returns a list only for several).
    assert isinstance(report, dict), f"expected one report, got {type(report).__name__}"
    report["exit_code"] = proc.returncode
    return report
