"""Every KQL query the template deploys is accepted by Microsoft's Kusto language service.

``tests/infra/kql/check_kql.js`` runs ``Kusto.Language`` from the npm package
``@kusto/language-service-next`` (offline, in Node) against the Application Insights schema in
``tests/infra/kql/application-insights-schema.json``: a query that does not parse, or names a column or table
that schema does not have, gets a diagnostic, and any diagnostic fails its test. Checked: each alert rule's
query as deployed (decision-lines prelude included) and each query in ``infra/app/workbook.json`` as deployed
(parameter tokens given values). The last tests prove the check can fail: a real query with a misspelt
column, and one with a missing parenthesis, are both rejected.

Node and the package are installed by ``make test`` (``npm ci`` in ``tests/infra/kql``); without them these
tests skip and say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.deployed_queries import (
    DeployedQuery,
    alert_queries,
    compose,
    with_workbook_tokens_resolved,
)
from tests.infra.workbook_builder import WORKBOOK_JSON

KQL_DIR = Path(__file__).with_name("kql")
SCHEMA = KQL_DIR / "application-insights-schema.json"
CHECKER = KQL_DIR / "check_kql.js"
LANGUAGE_SERVICE = KQL_DIR / "node_modules" / "@kusto" / "language-service-next"

ALERTS = alert_queries()
ALERT_IDS = [q.name for q in ALERTS]
WORKBOOK_ITEMS = [
    item for item in json.loads(WORKBOOK_JSON.read_text(encoding="utf-8"))["items"] if item["type"] == 3
]
WORKBOOK_IDS = [item["name"] for item in WORKBOOK_ITEMS]

# Two real queries, each broken one way: a column that does not exist, and a missing closing parenthesis.
FAILED_INVOCATIONS = next(q for q in ALERTS if q.name == "alerts/failed-invocations.kql")
UNKNOWN_COLUMN = FAILED_INVOCATIONS.deployed.replace("take_any(resultCode)", "take_any(resultcodes)")
SYNTAX_ERROR = FAILED_INVOCATIONS.deployed.replace("not(tobool(success))", "not(tobool(success)")

type Diagnostics = dict[str, list[dict[str, Any]]]


def _queries() -> dict[str, str]:
    queries = {f"alert:{q.name}": q.deployed for q in ALERTS}
    queries |= {
        f"workbook:{item['name']}": with_workbook_tokens_resolved(item["content"]["query"])
        for item in WORKBOOK_ITEMS
    }
    queries["prelude"] = compose("DecisionLines() | take 1")
    queries["broken:unknown-column"] = UNKNOWN_COLUMN
    queries["broken:syntax-error"] = SYNTAX_ERROR
    return queries


@pytest.fixture(scope="module")
def diagnostics() -> Diagnostics:
    """Diagnostics per query, from one run of the language service over every query (it takes seconds)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: install Node.js 20+ to check the KQL queries")
    if not LANGUAGE_SERVICE.is_dir():
        pytest.skip(f"{LANGUAGE_SERVICE} is absent: run `npm ci` in tests/infra/kql (`make test` does this)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    request = {
        "database": schema["database"],
        "tables": schema["tables"],
        "queries": [{"name": name, "text": text} for name, text in _queries().items()],
    }
    proc = subprocess.run(  # noqa: S603 - fixed argv: node and a file of this repository, no shell
        [node, str(CHECKER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=KQL_DIR,
        env={**os.environ, "NODE_OPTIONS": ""},
    )
    assert proc.returncode == 0, f"check_kql.js failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    return {r["name"]: r["diagnostics"] for r in json.loads(proc.stdout)["results"]}


def _explain(text: str, found: list[dict[str, Any]]) -> str:
    lines = []
    for d in found:
        start = int(d["start"])
        lines.append(
            f"{d['code']} {d['severity']}: {d['message']} at {text[max(0, start - 30) : start + 30]!r}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("query", ALERTS, ids=ALERT_IDS)
def test_alert_query_passes_the_kusto_language_service(
    diagnostics: Diagnostics, query: DeployedQuery
) -> None:
    found = diagnostics[f"alert:{query.name}"]
    assert found == [], _explain(query.deployed, found)


@pytest.mark.parametrize("item", WORKBOOK_ITEMS, ids=WORKBOOK_IDS)
def test_workbook_query_passes_the_kusto_language_service(
    diagnostics: Diagnostics, item: dict[str, Any]
) -> None:
    found = diagnostics[f"workbook:{item['name']}"]
    assert found == [], _explain(item["content"]["query"], found)


def test_decision_lines_prelude_passes_on_its_own(diagnostics: Diagnostics) -> None:
    assert diagnostics["prelude"] == []


def test_a_misspelt_column_in_a_deployed_query_is_rejected(diagnostics: Diagnostics) -> None:
    found = diagnostics["broken:unknown-column"]
    assert any("resultcodes" in d["message"] and d["severity"] == "Error" for d in found), found


def test_a_syntax_error_in_a_deployed_query_is_rejected(diagnostics: Diagnostics) -> None:
    found = diagnostics["broken:syntax-error"]
    assert any(d["severity"] == "Error" and "Expected" in d["message"] for d in found), found


def test_every_query_of_the_workbook_was_checked() -> None:
    # The parametrised tests above walk these lists; empty ones would pass vacuously.
    assert len(WORKBOOK_ITEMS) >= 8
    assert len(ALERTS) >= 4
