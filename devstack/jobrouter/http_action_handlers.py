"""The /routing action handlers: job and assignment actions, offer answers, and the queue queries.

``POST jobs/{id}:cancel|reclassify``, ``POST jobs/{id}/assignments/{id}:complete|close|unassign``,
``POST workers/{id}/offers/{id}:accept|decline``, ``GET jobs/{id}/position`` and
``GET queues/{id}/statistics``. Bodies are optional JSON objects; their fields are checked here.
"""

from __future__ import annotations

from devstack.jobrouter.engine import Router
from devstack.jobrouter.errors import BadRequest
from devstack.jobrouter.http_messages import Call, Reply, optional_string, options_body
from devstack.jobrouter.wire import parse_time

__all__ = ["ActionHandlers"]


class ActionHandlers:
    """The action and query endpoints, each calling one engine operation."""

    def __init__(self, router: Router) -> None:
        self._router = router

    def job_action(self, call: Call) -> Reply:
        """``:cancel`` (note, dispositionCode) or ``:reclassify``."""
        job_id, verb = call.params
        body = options_body(call.body)
        if verb == "cancel":
            self._router.cancel_job(
                job_id, optional_string(body, "note"), optional_string(body, "dispositionCode")
            )
        else:
            self._router.reclassify_job(job_id)
        return Reply(200, {})

    def assignment_action(self, call: Call) -> Reply:
        """``:complete`` (note), ``:close`` (dispositionCode, closeAt, note) or ``:unassign``."""
        job_id, assignment_id, verb = call.params
        body = options_body(call.body)
        if verb == "complete":
            self._router.complete_job(job_id, assignment_id, optional_string(body, "note"))
            return Reply(200, {})
        if verb == "close":
            close_at = (
                parse_time(body["closeAt"], field="closeAt") if body.get("closeAt") is not None else None
            )
            self._router.close_job(
                job_id,
                assignment_id,
                optional_string(body, "dispositionCode"),
                close_at,
                optional_string(body, "note"),
            )
            return Reply(200, {})
        suspend = body.get("suspendMatching", False)
        if not isinstance(suspend, bool):
            raise BadRequest("'suspendMatching' must be true or false.")
        return Reply(200, self._router.unassign_job(job_id, assignment_id, suspend))

    def offer_action(self, call: Call) -> Reply:
        """``:accept`` (answers the assignment) or ``:decline`` (retryOfferAt)."""
        worker_id, offer_id, verb = call.params
        if verb == "accept":
            return Reply(200, self._router.accept_offer(worker_id, offer_id))
        body = options_body(call.body)
        retry = (
            parse_time(body["retryOfferAt"], field="retryOfferAt")
            if body.get("retryOfferAt") is not None
            else None
        )
        self._router.decline_offer(worker_id, offer_id, retry)
        return Reply(200, {})

    def position(self, call: Call) -> Reply:
        """A queued job's position in its queue."""
        (job_id,) = call.params
        return Reply(200, self._router.queue_position(job_id))

    def statistics(self, call: Call) -> Reply:
        """A queue's statistics."""
        (queue_id,) = call.params
        return Reply(200, self._router.queue_statistics(queue_id))
