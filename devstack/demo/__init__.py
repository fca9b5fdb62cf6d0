"""``python -m devstack``: the offer flow end to end on this machine, with a summary.

The orchestrator starts the Job Router emulator and the Functions host stand-in as processes
(:mod:`devstack.demo.process_stack`), applies a scenario (:mod:`devstack.demo.scenario`, read by
:mod:`devstack.demo.scenario_document`) through the SDK, runs a simulated agent app for the human workers
(:mod:`devstack.demo.agent`) fed by its own Event Grid webhook (:mod:`devstack.demo.webhook`), submits
jobs, shows progress (:mod:`devstack.demo.ui`) and sums the run up (:mod:`devstack.demo.summary`).
Usage and the scenario format: docs/demo.md.
"""

from devstack.demo.agent import AgentApp, AgentStats
from devstack.demo.inprocess_stack import InProcessStack
from devstack.demo.process_stack import ProcessStack
from devstack.demo.run import Demo, DemoOptions
from devstack.demo.scenario import Scenario, ScenarioError
from devstack.demo.scenario_document import load_scenario
from devstack.demo.stack import StackInfo, StackOptions
from devstack.demo.summary import Summary

__all__ = [
    "AgentApp",
    "AgentStats",
    "Demo",
    "DemoOptions",
    "InProcessStack",
    "ProcessStack",
    "Scenario",
    "ScenarioError",
    "StackInfo",
    "StackOptions",
    "Summary",
    "load_scenario",
]
