"""Best-worker scoring with expression and function rules (batch scoring included), through the real SDK.

The expression is Microsoft's ``If(worker.HandleEscalation = true, 100, 1)`` (azure-sdk-for-net,
``Sample3_AdvancedDistributionAsync``); the function is a loopback stand-in scoring each worker by its
``Skill`` label. Ties go to the worker idle longest (https://learn.microsoft.com/azure/communication-services/concepts/router/distribution-concepts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.communication.jobrouter.models import (
    BestWorkerMode,
    ExpressionRouterRule,
    FunctionRouterRule,
    LongestIdleMode,
    RouterWorkerSelector,
    ScoringRuleOptions,
)

from devstack.polling import wait_until
from tests.emulator.helpers import add_job, add_worker, offers, setup_queue
from tests.emulator.rule_endpoints import RuleEndpointsThread

ESCALATION = ExpressionRouterRule(expression="If(worker.HandleEscalation = true, 100, 1)")


@pytest.fixture(scope="module")
def endpoints() -> Iterator[RuleEndpointsThread]:
    with RuleEndpointsThread() as running:
        yield running


def offered_to(client: JobRouterClient, job_id: str, workers: list[str]) -> str:
    def holder() -> str | None:
        return next((w for w in workers if any(o.job_id == job_id for o in offers(client, w))), None)

    return wait_until(holder, what=f"an offer for {job_id}")


def register(
    client: JobRouterClient, workers: dict[str, dict[str, Any]], *, queues: tuple[str, ...] = ("q",)
) -> None:
    """Workers registered in this order, so the first listed has been idle longest."""
    for worker_id, labels in workers.items():
        add_worker(client, worker_id, labels=labels, queues=queues)
        time.sleep(0.01)


def offer_order(client: JobRouterClient, workers: list[str]) -> list[str]:
    """Offer one job per worker (capacity 1 each): each job takes the best worker still free."""
    order = []
    for n in range(len(workers)):
        add_job(client, f"j{n}", labels={"Escalated": True})
        order.append(offered_to(client, f"j{n}", workers))
    return order


def test_an_expression_scoring_rule_offers_the_highest_score_first_whoever_idled_longest(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, mode=BestWorkerMode(scoring_rule=ESCALATION))
    register(client, {"plain": {}, "escalation": {"HandleEscalation": True}})
    assert offer_order(client, ["plain", "escalation"]) == ["escalation", "plain"]


def test_ascending_order_offers_the_lowest_score_first(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    options = ScoringRuleOptions(descending_order=False)
    setup_queue(admin, mode=BestWorkerMode(scoring_rule=ESCALATION, scoring_rule_options=options))
    register(client, {"escalation": {"HandleEscalation": True}, "plain": {}})
    assert offer_order(client, ["plain", "escalation"]) == ["plain", "escalation"]


def test_equal_scores_go_to_the_worker_idle_longest(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, mode=BestWorkerMode(scoring_rule=ESCALATION))
    register(client, {"b-first": {"HandleEscalation": True}, "a-second": {"HandleEscalation": True}})
    assert offer_order(client, ["a-second", "b-first"]) == ["b-first", "a-second"]


def test_an_expression_sees_the_job_labels_too(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    rule = ExpressionRouterRule(expression="If(worker.Language = job.Language, 10, 1)")
    setup_queue(admin, mode=BestWorkerMode(scoring_rule=rule))
    register(client, {"fr": {"Language": "fr"}, "en": {"Language": "en"}})
    add_job(client, "j", labels={"Language": "en"})
    assert offered_to(client, "j", ["fr", "en"]) == "en"


def test_a_worker_whose_expression_score_fails_is_not_offered_the_job(
    admin: JobRouterAdministrationClient, client: JobRouterClient
) -> None:
    setup_queue(admin, mode=BestWorkerMode(scoring_rule=ExpressionRouterRule(expression="worker.Skill * 10")))
    register(client, {"text-skill": {"Skill": "high"}, "number-skill": {"Skill": 1}})
    add_job(client, "j0")
    assert offered_to(client, "j0", ["text-skill", "number-skill"]) == "number-skill"
    add_job(client, "j1")
    time.sleep(0.3)
    assert offers(client, "text-skill") == []


# -------------------------------------------------------------------------------------- function rules


def scoring_mode(endpoints: RuleEndpointsThread, **options: Any) -> BestWorkerMode:
    return BestWorkerMode(
        scoring_rule=FunctionRouterRule(function_uri=endpoints.url("/api/score")),
        scoring_rule_options=ScoringRuleOptions(**options) if options else None,
    )


def score_calls_since(endpoints: RuleEndpointsThread, before: int) -> list[dict[str, Any]]:
    return [c.json() for c in endpoints.calls_to("/api/score")[before:]]


def test_a_function_scoring_rule_is_sent_the_job_its_selectors_and_one_worker_per_call(
    admin: JobRouterAdministrationClient, client: JobRouterClient, endpoints: RuleEndpointsThread
) -> None:
    setup_queue(admin, mode=scoring_mode(endpoints))
    register(client, {"novice": {"Skill": 2}, "expert": {"Skill": 9}})
    before = len(endpoints.calls_to("/api/score"))
    selector = RouterWorkerSelector(key="Skill", label_operator="greaterThan", value=1)
    add_job(client, "j", labels={"Language": "en"}, requested_worker_selectors=[selector])
    assert offered_to(client, "j", ["novice", "expert"]) == "expert"
    calls = score_calls_since(endpoints, before)
    assert sorted(c["worker"]["Id"] for c in calls) == ["expert", "novice"]
    assert calls[0]["job"] == {"Language": "en"}
    assert calls[0]["selectors"] == [
        {"key": "Skill", "labelOperator": "greaterThan", "value": 1, "expiresAfterSeconds": None}
    ]


def test_batch_scoring_sends_workers_in_batches_of_batch_size_and_reads_a_list_of_scores(
    admin: JobRouterAdministrationClient, client: JobRouterClient, endpoints: RuleEndpointsThread
) -> None:
    setup_queue(admin, mode=scoring_mode(endpoints, is_batch_scoring_enabled=True, batch_size=2))
    workers = {f"w{n}": {"Skill": n} for n in (3, 7, 1, 5, 2)}
    register(client, workers)
    before = len(endpoints.calls_to("/api/score"))
    add_job(client, "j")
    assert offered_to(client, "j", list(workers)) == "w7"
    calls = score_calls_since(endpoints, before)
    assert sorted(len(c["workers"]) for c in calls) == [1, 2, 2]
    assert all("worker" not in c for c in calls)
    assert sorted(w["Id"] for c in calls for w in c["workers"]) == sorted(workers)


def test_scoring_parameters_choose_what_the_function_is_sent(
    admin: JobRouterAdministrationClient, client: JobRouterClient, endpoints: RuleEndpointsThread
) -> None:
    setup_queue(admin, mode=scoring_mode(endpoints, scoring_parameters=["workerSelectors"]))
    register(client, {"only": {"Skill": 1}})
    before = len(endpoints.calls_to("/api/score"))
    add_job(client, "j", labels={"secret-ish": "not sent"})
    offered_to(client, "j", ["only"])
    [call] = score_calls_since(endpoints, before)
    assert sorted(call) == ["selectors", "worker"]


def test_scores_are_reused_while_the_job_and_worker_labels_are_unchanged(
    admin: JobRouterAdministrationClient, client: JobRouterClient, endpoints: RuleEndpointsThread
) -> None:
    setup_queue(admin, mode=scoring_mode(endpoints))
    register(client, {"w": {"Skill": 1}})
    before = len(endpoints.calls_to("/api/score"))
    add_job(client, "j")
    offered_to(client, "j", ["w"])
    [offer] = offers(client, "w")
    client.decline_job_offer("w", offer.offer_id)
    client.upsert_worker("w", {"availableForOffers": False})
    client.upsert_worker("w", {"availableForOffers": True})  # re-registering lifts the decline
    offered_to(client, "j", ["w"])
    assert len(score_calls_since(endpoints, before)) == 1


def test_a_job_waiting_for_its_scores_keeps_its_workers_from_lower_priority_jobs(
    admin: JobRouterAdministrationClient, client: JobRouterClient, endpoints: RuleEndpointsThread
) -> None:
    slow = BestWorkerMode(scoring_rule=FunctionRouterRule(function_uri=endpoints.url("/slow?seconds=0.3")))
    setup_queue(admin, queue_id="scored", policy_id="dp-scored", mode=slow)
    setup_queue(admin, queue_id="plain", policy_id="dp-plain", mode=LongestIdleMode())
    add_job(client, "high", queue_id="scored", priority=10)
    add_job(client, "low", queue_id="plain", priority=1)
    time.sleep(0.1)  # both queued before the only worker arrives
    register(client, {"w": {}}, queues=("scored", "plain"))
    assert offered_to(client, "high", ["w"]) == "w"
    assert [o.job_id for o in offers(client, "w")] == ["high"]


def test_a_failing_scoring_function_offers_the_job_to_no_one(
    admin: JobRouterAdministrationClient, client: JobRouterClient, endpoints: RuleEndpointsThread
) -> None:
    setup_queue(
        admin, mode=BestWorkerMode(scoring_rule=FunctionRouterRule(function_uri=endpoints.url("/fail")))
    )
    register(client, {"w": {}})
    before = len(endpoints.calls_to("/fail"))
    add_job(client, "j")
    wait_until(lambda: len(endpoints.calls_to("/fail")) > before, what="the scoring function to be called")
    time.sleep(0.3)
    assert offers(client, "w") == []
    assert client.get_job("j").status == "queued"
