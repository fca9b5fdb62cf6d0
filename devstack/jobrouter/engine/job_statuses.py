"""The job status sets the engine and the HTTP layer branch on (REST camelCase status names)."""

from __future__ import annotations

from typing import Final

__all__ = ["ACTIVE_JOB_STATUSES", "TERMINAL_JOB_STATUSES", "UNSETTLED_JOB_STATUSES"]

#: Statuses the ``active`` list filter selects (RouterJobStatusSelector.ACTIVE).
ACTIVE_JOB_STATUSES: Final = frozenset(
    {
        "pendingClassification",
        "queued",
        "assigned",
        "classificationFailed",
        "completed",
        "pendingSchedule",
        "scheduled",
        "scheduleFailed",
        "waitingForActivation",
    }
)
#: Statuses a job never leaves.
TERMINAL_JOB_STATUSES: Final = frozenset({"closed", "cancelled"})
#: Statuses from which an upsert or a reclassify can move a job forward again.
UNSETTLED_JOB_STATUSES: Final = frozenset(
    {
        "created",
        "pendingClassification",
        "queued",
        "classificationFailed",
        "pendingSchedule",
        "scheduled",
        "scheduleFailed",
        "waitingForActivation",
    }
)
