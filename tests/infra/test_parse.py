"""Every Bicep file parses with checkov's parser, and main.bicep wires every module that exists."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.bicep import Template
from tests.infra.conftest import INFRA, MAIN, REPO

BICEP_FILES = sorted(p.relative_to(REPO).as_posix() for p in INFRA.rglob("*.bicep"))


@pytest.mark.parametrize("path", BICEP_FILES, ids=BICEP_FILES)
def test_bicep_file_parses_with_checkovs_parser(dumped: dict[str, Any], path: str) -> None:
    entry = dumped["bicep"][path]
    # checkov skips a file it cannot parse and still reports success; this test is what catches it.
    assert "error" not in entry, f"{path} does not parse: {entry.get('error')}"


def test_main_is_a_subscription_deployment(main: Template) -> None:
    assert main.target_scope == "subscription"


def test_every_module_file_is_deployed_by_main_and_exists(
    templates: dict[str, Template], main: Template
) -> None:
    deployed = {f"infra/{m.path}" for m in main.modules()}
    modules_on_disk = {p for p in BICEP_FILES if p != MAIN}
    assert deployed == modules_on_disk
    assert deployed <= set(templates)


def test_module_calls_pass_exactly_the_parameters_each_module_declares(
    templates: dict[str, Template], main: Template
) -> None:
    for module in main.modules():
        declared = templates[f"infra/{module.path}"].parameters
        passed = set(module.params)
        required = {name for name, p in declared.items() if p.get("default") is None}
        assert passed <= set(declared), f"{module.symbol}: unknown params {passed - set(declared)}"
        assert required <= passed, f"{module.symbol}: missing params {required - passed}"
