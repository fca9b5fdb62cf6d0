"""A whole demo run (``Demo``) over an in-process stack: every path of the scenario, every job closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from devstack.demo.inprocess_stack import InProcessStack
from devstack.demo.run import Demo, DemoOptions, Progress
from devstack.demo.scenario import Scenario
from devstack.demo.scenario_document import parse_scenario
from devstack.demo.stack import StackInfo, StackOptions
from devstack.demo.summary import Summary
from tests.e2e.support import RETRY_SCALE, ROOT


class QuietView:
    """A ``DemoView`` that keeps what it is told."""

    def __init__(self) -> None:
        self.progress_calls = 0
        self.summary: Summary | None = None

    def started(self, scenario: Scenario, options: DemoOptions, info: StackInfo) -> None:
        pass

    def progress(self, progress: Progress) -> None:
        self.progress_calls += 1

    def finished(self, summary: Summary) -> None:
        self.summary = summary

    def keep_running(self, info: StackInfo) -> None:
        raise AssertionError("not asked to keep running")


def _fast_contact_centre() -> Scenario:
    """examples/scenario.json with shorter offers and handle times and a shyer agent app."""
    document: dict[str, Any] = json.loads((ROOT / "examples" / "scenario.json").read_text())
    document["distributionPolicy"]["offerExpiresAfterSeconds"] = 1.5
    document["agentApp"] = {
        "acceptShare": 0.5,
        "answerDelaySeconds": {"min": 0.1, "max": 0.4},
        "reRegisterAfterSeconds": 0.1,
    }
    document["wrapUp"] = {"handleTimeSeconds": {"min": 0.1, "max": 0.3}}
    # The timer every second and the hand edit early, so that the short run sees the drift repaired.
    document["fleet"]["reconcileSchedule"] = "* * * * * *"
    document["fleet"]["handEdits"][0]["afterSeconds"] = 0.5
    return parse_scenario(document, base_dir=ROOT / "examples")


def test_the_contact_centre_scenario_exercises_every_path_and_closes_every_job() -> None:
    scenario = _fast_contact_centre()
    assert scenario.policy_file is not None
    stack = InProcessStack(
        StackOptions(
            policy_file=scenario.policy_file,
            fleet_file=scenario.fleet.file if scenario.fleet else None,
            reconcile_schedule=scenario.fleet.reconcile_schedule if scenario.fleet else None,
            seed=4,
            retry_scale=RETRY_SCALE,
        )
    )
    view = QuietView()
    demo = Demo(scenario, DemoOptions(jobs=27, rate=15, seed=4, settle_timeout=30), stack, view)

    async def run() -> Summary:
        try:
            return await demo.run()
        finally:
            await demo.aclose()

    summary = asyncio.run(run())

    assert summary.ok, summary.reason
    assert summary.jobs_by_status == (("closed", 27),)
    assert [p.name for p in summary.paths if not p.ok] == []
    offers = dict(summary.offers)
    assert offers["issued"] == summary.invocations_ok
    assert summary.invocations_failed == 0
    assert offers["accepted by the function"] + offers["accepted in the agent app"] == 27
    latency = dict(summary.latency)
    assert latency["by the function"] is not None
    assert latency["in the agent app"] is not None
    assert summary.agent.errors == 0
    # The function registered the fleet's bots again (the agent app registers only people).
    fleet = dict(summary.fleet)
    assert fleet["bots registered again"] >= 1
    assert fleet["drift repaired (reconciliation)"] >= 1  # bot-2's queues, changed by hand
    assert fleet["reconciliation runs"] >= 1
    assert fleet["failed"] == 0
    assert summary.fleet_invocations_failed == 0
    assert view.summary is summary
    assert view.progress_calls > 0
