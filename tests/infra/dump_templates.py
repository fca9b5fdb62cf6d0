"""Parse the deployment templates with checkov's own parsers and print them as one JSON document.

Run by tests/infra/conftest.py with ``.venv-infra/bin/python`` (checkov and its pinned Bicep parser,
pycep-parser, live only in that venv), never imported by pytest. Usage::

    .venv-infra/bin/python tests/infra/dump_templates.py REPO_ROOT

Output: ``{"bicep": {relative path: {"template": ... } | {"error": "..."}}, "azure_yaml": ...}``.
The Bicep JSON is pycep's: a tree of parameters, variables, resources, modules and outputs whose
expressions are nested ``{"function": ...}`` / ``{"operator": ...}`` objects. One limit to keep in mind:
pycep renders an identifier and a string literal the same way (``name`` and ``'name'`` are both
``"name"``); tests/infra/bicep.py resolves names against the file's parameters and variables.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pycep import BicepParser


def main(root: Path) -> dict[str, Any]:
    parser = BicepParser()
    bicep: dict[str, Any] = {}
    for path in sorted((root / "infra").rglob("*.bicep")):
        key = path.relative_to(root).as_posix()
        try:
            bicep[key] = {"template": parser.parse(file_path=path)}
        except Exception as exc:  # any parse failure is reported, not raised: the test names the file
            bicep[key] = {"error": f"{type(exc).__name__}: {exc}"}
    azure_yaml = yaml.safe_load((root / "azure.yaml").read_text(encoding="utf-8"))
    return {"bicep": bicep, "azure_yaml": azure_yaml}


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1])), sys.stdout, default=str)
