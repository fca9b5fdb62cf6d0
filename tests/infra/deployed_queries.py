"""The KQL queries the template deploys, as the workbook and the alert rules receive them.

Queries live in ``infra/app/queries/``: ``alerts/*.kql`` for the scheduled query rules (loaded by
``infra/app/operations.bicep``), ``workbook/*.kql`` for the workbook (built into
``infra/app/workbook.json`` by ``tests/infra/workbook_builder.py``). A query that calls ``DecisionLines()``
is deployed with ``decision-lines.kql`` in front of it, exactly as :func:`compose` does here; Bicep writes
that as ``concat(decisionLines, loadTextContent(...))``. Workbook queries may use the workbook's parameter
tokens (``{TimeRange:grain}``); :data:`WORKBOOK_TOKENS` gives each a KQL value so the language service can
check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[2]
QUERIES: Final = REPO / "infra" / "app" / "queries"
PRELUDE: Final = QUERIES / "decision-lines.kql"
ALERT_QUERIES: Final = QUERIES / "alerts"
WORKBOOK_QUERIES: Final = QUERIES / "workbook"
PRELUDE_CALL: Final = "DecisionLines()"
# Workbook parameter token -> a KQL literal of the type the workbook substitutes (a timespan for a grain).
WORKBOOK_TOKENS: Final = {"{TimeRange:grain}": "1h"}


@dataclass(frozen=True, slots=True)
class DeployedQuery:
    """One query file and the text deployed for it."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.relative_to(QUERIES).as_posix()

    @property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def uses_prelude(self) -> bool:
        return PRELUDE_CALL in self.source

    @property
    def deployed(self) -> str:
        """What Azure receives: the prelude, when the query calls it, then the file as it is."""
        return compose(self.source)


def compose(text: str) -> str:
    """The deployed text of a query: ``decision-lines.kql`` + the query when it calls ``DecisionLines()``."""
    if PRELUDE_CALL in text:
        return PRELUDE.read_text(encoding="utf-8") + text
    return text


def with_workbook_tokens_resolved(text: str) -> str:
    """The query as the workbook runs it, each parameter token replaced by a value of its type."""
    for token, value in WORKBOOK_TOKENS.items():
        text = text.replace(token, value)
    return text


def alert_queries() -> list[DeployedQuery]:
    return [DeployedQuery(p) for p in sorted(ALERT_QUERIES.glob("*.kql"))]


def workbook_queries() -> list[DeployedQuery]:
    return [DeployedQuery(p) for p in sorted(WORKBOOK_QUERIES.glob("*.kql"))]
