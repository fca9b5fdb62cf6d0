"""The editor and dev container files: valid JSON, and wired the way the Functions tooling expects.

VS Code's Functions extension starts ``func host start`` through the task ``func: host start``, which the
launch configuration names as its pre-launch task, and attaches to the Python worker's debugger on port 9091.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
JSON_FILES = sorted([*(REPO / ".vscode").glob("*.json"), *(REPO / ".devcontainer").glob("*.json")])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = {key for key in keys if keys.count(key) > 1}
    assert not duplicated, f"duplicate keys {sorted(duplicated)}"
    return dict(pairs)


def load(relative: str) -> Any:
    return json.loads((REPO / relative).read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)


def test_the_editor_and_container_folders_hold_the_expected_files() -> None:
    assert {path.relative_to(REPO).as_posix() for path in JSON_FILES} == {
        ".vscode/extensions.json",
        ".vscode/launch.json",
        ".vscode/settings.json",
        ".vscode/tasks.json",
        ".devcontainer/devcontainer.json",
    }


@pytest.mark.parametrize("path", JSON_FILES, ids=[p.relative_to(REPO).as_posix() for p in JSON_FILES])
def test_each_file_is_strict_json(path: Path) -> None:
    # Strict: no comments, no trailing commas, no repeated keys (VS Code would accept the first two).
    assert isinstance(load(path.relative_to(REPO).as_posix()), dict)


def test_the_launch_configuration_attaches_to_the_python_worker_started_by_the_host_task() -> None:
    (attach,) = load(".vscode/launch.json")["configurations"]
    tasks = {task["label"]: task for task in load(".vscode/tasks.json")["tasks"]}

    assert (attach["type"], attach["request"], attach["connect"]) == (
        "debugpy",
        "attach",
        {"host": "localhost", "port": 9091},
    )
    host = tasks[attach["preLaunchTask"]]
    assert (host["type"], host["command"], host["isBackground"]) == ("func", "host start", True)
    assert host["problemMatcher"] == "$func-python-watch"
    assert host["dependsOn"] in tasks


def test_the_host_task_installs_the_runtime_requirements_into_the_projects_venv() -> None:
    settings = load(".vscode/settings.json")
    (pip,) = [
        task for task in load(".vscode/tasks.json")["tasks"] if task["label"] == "pip install (functions)"
    ]

    assert settings["azureFunctions.pythonVenv"] == ".venv"
    assert re.search(r"^VENV := \.venv$", (REPO / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    for system in ("linux", "osx", "windows"):
        assert pip[system]["command"].endswith("python -m pip install -r requirements.txt")
    assert settings["azureFunctions.deploySubpath"] == "."
    assert settings["azureFunctions.projectLanguageModel"] == 2


def test_the_policy_schema_is_associated_with_every_example_policy_and_no_cases_file() -> None:
    (association,) = load(".vscode/settings.json")["json.schemas"]
    examples = [p.relative_to(REPO).as_posix() for p in (REPO / "examples").glob("*.json")]

    def associated(path: str) -> bool:
        return any(fnmatch.fnmatchcase("/" + path, "*" + glob) for glob in association["fileMatch"])

    assert (REPO / association["url"]).is_file()
    assert sorted(p for p in examples if associated(p)) == sorted(
        p for p in examples if p.endswith("policy.json")
    )
    assert associated("policies/prod.json")
    assert not associated("examples/policy.cases.json")


def test_the_dev_container_and_the_workspace_recommend_the_same_extensions() -> None:
    container = load(".devcontainer/devcontainer.json")

    recommended = load(".vscode/extensions.json")["recommendations"]
    assert {"ms-azuretools.vscode-azurefunctions", "ms-python.python"} <= set(recommended)
    assert container["customizations"]["vscode"]["extensions"] == recommended


def test_the_dev_container_brings_python_3_13_core_tools_azd_the_azure_cli_and_azurite() -> None:
    container = load(".devcontainer/devcontainer.json")
    features = " ".join(container["features"])
    script = REPO / ".devcontainer" / "post-create.sh"
    setup = script.read_text(encoding="utf-8")

    assert re.search(r"/python:3\.13\b", container["image"])
    assert "features/azure-cli:" in features
    assert "azure-dev/azd:" in features
    assert "features/node:" in features
    assert container["postCreateCommand"] == "bash .devcontainer/post-create.sh"
    assert "azure-functions-core-tools@4" in setup
    assert "azurite@3" in setup
    assert "make venv" in setup
    assert 7071 in container["forwardPorts"]
