"""The routing engine: resources, job lifecycle, matching, offers, exception rules, timers and events.

Lifecycle (docs/emulator-support-matrix.md): a job is ``created`` (or ``pendingClassification`` with a
classification policy, ``pendingSchedule`` with ``scheduleAndSuspend``); a moment later
(``processing_delay``) it is classified and ``queued``; matching issues offers to eligible workers in the
distribution mode's order; the first accept makes it ``assigned`` and revokes the other offers;
``complete`` then ``close`` release the worker's capacity. Offers expire after the policy's
``offerExpiresAfterSeconds`` and the worker is then deregistered. Each state change publishes its
``Microsoft.Communication.Router*`` event.

Module map (each module is one lifecycle; all share one :class:`~.engine_context.EngineContext`)::

    router.py               Router: the entry point; routes upserts/deletes/actions to the modules below
    engine_context.py       EngineContext: store, clock, timers, event sink, "run a matching pass soon"
    administration.py       distribution policies, queues, classification and exception policies
    worker_lifecycle.py     create, register, update, deregister, delete a worker
    worker_state.py         a worker's derived state and load; releasing an assignment's capacity
    job_lifecycle.py        create/update, classify, queue, leave the queue, reclassify, cancel, delete
    job_scheduling.py       scheduleAndSuspend activation, waiting for activation, selector expiry
    exception_rules.py      queueLength/waitTime triggers and their actions (calls back into jobs)
    dispatch.py             the matching pass (eligibility rules in devstack/jobrouter/eligibility.py)
    matching_index.py       queued jobs and workers with room by queue and channel; changes since a pass
    offer_lifecycle.py      issue, take back, revoke and decline offers
    offer_expiry.py         an unanswered offer expires and deregisters its worker
    assignment_lifecycle.py accept an offer; complete, close, unassign an assignment
    queue_queries.py        queue statistics and job position
    resume.py               re-arm timers from a restored state
    record_refs.py          JobRef/OfferRef of stored records, for event payloads
    job_statuses.py         the job status sets
"""

from devstack.jobrouter.engine.job_statuses import ACTIVE_JOB_STATUSES, TERMINAL_JOB_STATUSES
from devstack.jobrouter.engine.router import Precondition, Router

__all__ = ["ACTIVE_JOB_STATUSES", "TERMINAL_JOB_STATUSES", "Precondition", "Router"]
