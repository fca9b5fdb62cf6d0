"""The scenario file: the shipped example, its policy, validation errors, and how jobs are planned."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.demo.run import plan_jobs
from devstack.demo.scenario import ScenarioError
from devstack.demo.scenario_document import DEFAULT_SCENARIO, load_scenario, parse_scenario
from offer_handlers.decide import Accept, Decline, Leave, decide
from offer_handlers.events import Envelope, parse_offer
from offer_handlers.policy_document import load_policy_file

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE: dict[str, Any] = json.loads(DEFAULT_SCENARIO.read_text())


def _document(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    document["policy"] = str(ROOT / "examples" / "contact-centre-policy.json")
    document["fleet"]["file"] = str(ROOT / "examples" / "fleet.json")
    for dotted, value in changes.items():
        target: Any = document
        *path, last = dotted.split("__")
        for key in path:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return document


def test_the_example_scenario_loads_with_its_policy() -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)

    assert scenario.policy_file == (ROOT / "examples" / "contact-centre-policy.json").resolve()
    assert {w.role for w in scenario.workers} == {"bot", "human"}
    assert scenario.expected_final_statuses == frozenset({"closed"})
    assert scenario.defaults.jobs / scenario.defaults.rate <= 15  # a short default run


def test_the_example_policy_gives_every_kind_of_decision_for_the_example_scenario() -> None:
    """Each path of the demo needs its decision: bots accept, VIP declines with retry, needs-human
    declines for good, humans are left alone, and so is the bot standing in for one too slow to answer."""
    scenario = load_scenario(DEFAULT_SCENARIO)
    assert scenario.policy_file is not None
    policy = load_policy_file(scenario.policy_file)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    kinds: Counter[str] = Counter()
    for template in scenario.job_templates:
        for worker in scenario.workers:
            data = {
                "workerId": worker.id,
                "jobId": "job-1",
                "channelReference": "chat-1",
                "channelId": template.channel_id,
                "queueId": template.queue_id,
                "offerId": "offer-1",
                "offeredOn": now.isoformat(),
                "expiresOn": (now + timedelta(seconds=4)).isoformat(),
                "jobPriority": template.priority,
                "jobLabels": dict(template.labels),
                "jobTags": {},
                "workerLabels": dict(worker.labels),
                "workerTags": {},
            }
            offer = parse_offer(
                Envelope("eventgrid", "e1", "Microsoft.Communication.RouterWorkerOfferIssued", "", data)
            )
            match decide(offer, policy, now=now):
                case Accept():
                    kinds["accept"] += 1
                    assert worker.role == "bot"
                case Decline(retry_at=None):
                    kinds["decline for good"] += 1
                case Decline():
                    kinds["decline with retry"] += 1
                case Leave():
                    kinds["leave"] += 1
                    assert worker.role == "human" or worker.labels.get("simulate") == "missesOffers"

    assert set(kinds) == {"accept", "decline for good", "decline with retry", "leave"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"version": 2}, "version", "expected 1"),
        ({"surprise": True}, "surprise", "unknown field"),
        ({"workers__1__queues": ["nowhere"]}, "workers[1].queues[0]", "unknown queue 'nowhere'"),
        ({"workers__0__role": "robot"}, "workers[0].role", "expected 'bot' or 'human'"),
        ({"workers__2__id": "agent-ana"}, "workers[2].id", "appears twice"),
        ({"workers__2__id": "bot-1"}, "workers[2].id", "'bot-1' is declared in the fleet"),
        ({"fleet__file": "missing.json"}, "fleet.file", "no such file"),
        ({"fleet__reconcileSchedule": "every minute"}, "fleet.reconcileSchedule", "NCRONTAB has 6"),
        ({"fleet__handEdits__0__workerId": "bot-9"}, "fleet.handEdits[0].workerId", "not a worker"),
        ({"jobs__templates__0__queueId": "nowhere"}, "jobs.templates[0].queueId", "unknown queue"),
        ({"jobs__templates__1__channelId": "voice"}, "jobs.templates[1]", "no worker listens"),
        ({"jobs__templates__0__weight": 0}, "jobs.templates[0].weight", "must be at least 1"),
        ({"agentApp__acceptShare": 1.5}, "agentApp.acceptShare", "between 0 and 1"),
        (
            {"agentApp__answerDelaySeconds": {"min": 3, "max": 1}},
            "agentApp.answerDelaySeconds.min",
            "greater",
        ),
        ({"expectedFinalStatuses": ["done"]}, "expectedFinalStatuses[0]", "unknown job status 'done'"),
        ({"distributionPolicy__mode": "random"}, "distributionPolicy.mode", "expected one of"),
        ({"policy": "missing.json"}, "policy", "no such file"),
        ({"queues": []}, "queues", "non-empty array"),
    ],
    ids=[
        "version",
        "unknown-field",
        "worker-on-unknown-queue",
        "unknown-role",
        "duplicate-worker",
        "bot-in-the-fleet-and-the-scenario",
        "missing-fleet-file",
        "bad-reconcile-schedule",
        "hand-edit-of-an-unknown-worker",
        "template-on-unknown-queue",
        "template-nobody-serves",
        "zero-weight",
        "share-above-one",
        "delay-min-above-max",
        "unknown-status",
        "unknown-mode",
        "missing-policy-file",
        "no-queues",
    ],
)
def test_an_invalid_scenario_is_refused_naming_the_field(
    changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_document(**changes), base_dir=ROOT / "examples")

    assert raised.value.field == field
    assert message in raised.value.message


def test_a_scenario_without_wrap_up_expects_assigned_jobs() -> None:
    scenario = parse_scenario(_document(wrapUp=None, expectedFinalStatuses=None), base_dir=ROOT)

    assert scenario.wrap_up is None
    assert scenario.expected_final_statuses == frozenset({"assigned"})


def test_an_unreadable_scenario_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{ not json")

    with pytest.raises(ScenarioError, match=r"broken\.json: not valid JSON"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"version": 1, "version": 1}', "version: appears twice in the same object"),
        ('{"version": 1, "run": {"jobs": NaN}}', "NaN is not a JSON number"),
    ],
    ids=["duplicate-key", "nan"],
)
def test_a_scenario_file_that_is_not_strict_json_is_refused_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "loose.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ScenarioError, match=rf"loose\.json: {message}"):
        load_scenario(path)


def test_jobs_are_planned_the_same_way_for_the_same_seed_and_differently_for_another() -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)

    first, again, other = plan_jobs(scenario, 27, 7), plan_jobs(scenario, 27, 7), plan_jobs(scenario, 27, 8)

    assert first == again
    assert [j.template for j in first] != [j.template for j in other]
    assert [j.job_id for j in first[:2]] == ["job-0001", "job-0002"]


def test_every_block_of_planned_jobs_holds_the_templates_in_proportion() -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)
    block = sum(t.weight for t in scenario.job_templates)

    plan = plan_jobs(scenario, block * 3, seed=11)

    for start in range(0, len(plan), block):
        counts = Counter(j.template for j in plan[start : start + block])
        assert counts == {t.name: t.weight for t in scenario.job_templates}


# --- the bot fleet ----------------------------------------------------------------------------------


def _with_fleet(tmp_path: Path, fleet: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet), encoding="utf-8")
    return _document(fleet={"file": str(path)})


def _bot(worker_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": worker_id,
        "queues": ["support-en"],
        "capacity": 3,
        "channels": [{"channelId": "chat", "capacityCostPerJob": 1}],
        "labels": {"kind": "bot", "level": 1},
        **fields,
    }


def test_the_example_scenarios_bots_are_the_enabled_bots_of_its_fleet() -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)

    bots = {w.id for w in scenario.workers if w.role == "bot"}
    assert scenario.fleet is not None
    assert scenario.fleet.file == (ROOT / "examples" / "fleet.json").resolve()
    assert bots == {"bot-1", "bot-2", "bot-senior", "bot-slow"}
    assert all(w.declared == (w.role == "bot") for w in scenario.workers)
    assert scenario.fleet.worker_ids == bots | {"bot-voice-trial"}  # disabled: declared, never created
    assert scenario.fleet.reconcile_schedule == "*/5 * * * * *"
    (edit,) = scenario.fleet.hand_edits
    assert (edit.worker_id, edit.queues) == ("bot-2", ("support-fr",))


def test_a_fleet_bot_keeps_its_declared_queues_channels_labels_and_tags(tmp_path: Path) -> None:
    fleet = {"version": 1, "workers": [_bot("bot-x", capacity=5, tags={"owner": "team"})]}

    scenario = parse_scenario(_with_fleet(tmp_path, fleet), base_dir=ROOT)

    (bot,) = [w for w in scenario.workers if w.id == "bot-x"]
    assert (bot.role, bot.queues, bot.capacity, bot.tags) == ("bot", ("support-en",), 5, {"owner": "team"})
    assert [(c.channel_id, c.capacity_cost_per_job) for c in bot.channels] == [("chat", 1)]


def test_an_invalid_fleet_is_refused_naming_the_fleet_the_worker_and_the_field(tmp_path: Path) -> None:
    fleet = {"version": 1, "workers": [_bot("bot-x", capacity=0)]}

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_with_fleet(tmp_path, fleet), base_dir=ROOT)

    assert raised.value.field == "fleet.file"
    assert "fleet worker 'bot-x' field 'capacity'" in raised.value.message


def test_a_fleet_bot_on_a_queue_the_scenario_does_not_create_is_refused(tmp_path: Path) -> None:
    fleet = {"version": 1, "workers": [_bot("bot-x", queues=["nowhere"])]}

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_with_fleet(tmp_path, fleet), base_dir=ROOT)

    assert raised.value.field == "fleet.file"
    assert "'bot-x' listens on queue 'nowhere'" in raised.value.message
