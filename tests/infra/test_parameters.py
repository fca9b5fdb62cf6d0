"""main.parameters.json maps each parameter to an azd environment variable: same defaults, all documented."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep import Template
from tests.infra.conftest import INFRA, REPO

PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
REFERENCE = re.compile(r"^\$\{(?P<var>[A-Z][A-Z0-9_]*)(?:=(?P<default>[^}]*))?\}$")
MAPPED = {name: REFERENCE.match(entry["value"]) for name, entry in PARAMETERS.items()}
DEPLOY_DOC = REPO / "docs" / "deploy.md"


def _as_env(value: object) -> str:
    """How a Bicep default is written as an environment variable default."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_every_main_parameter_is_mapped_and_nothing_else(main: Template) -> None:
    assert set(PARAMETERS) == set(main.parameters)


@pytest.mark.parametrize("name", sorted(PARAMETERS), ids=sorted(PARAMETERS))
def test_parameter_reads_an_azd_environment_variable(name: str) -> None:
    assert MAPPED[name], f"{name}: {PARAMETERS[name]['value']!r} is not ${{VAR}} or ${{VAR=default}}"


@pytest.mark.parametrize("name", sorted(PARAMETERS), ids=sorted(PARAMETERS))
def test_environment_default_is_the_bicep_default(main: Template, name: str) -> None:
    match = MAPPED[name]
    assert match
    bicep_default = main.param_default(name)
    if bicep_default is None:
        assert match["default"] is None, f"{name} is required in Bicep but defaulted in the parameters file"
    else:
        assert match["default"] is not None, f"{name}: give ${{{match['var']}}} the Bicep default"
        assert match["default"] == _as_env(bicep_default)


@pytest.mark.parametrize("name", sorted(PARAMETERS), ids=sorted(PARAMETERS))
def test_parameter_is_described_in_bicep_and_in_docs_deploy_md(main: Template, name: str) -> None:
    assert main.decorator(name, "description"), f"{name} has no @description"
    match = MAPPED[name]
    assert match
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    assert f"`{match['var']}`" in doc, f"docs/deploy.md does not document {match['var']}"
