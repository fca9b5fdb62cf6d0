"""The demo scenario's model: a small contact centre as frozen values.

A scenario names a distribution policy, queues, workers (bots answered by the function, humans answered
by the simulated agent app; the bots usually come from a bot fleet the function keeps registered), job
templates mixed by weight, how the agent app behaves, whether jobs are
wrapped up (completed and closed), which final job statuses count as success and the run's defaults.
``scenario_document`` reads and validates it from JSON (the format: docs/demo.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "SCENARIO_VERSION",
    "AgentAppSpec",
    "ChannelSpec",
    "DistributionPolicySpec",
    "HandEdit",
    "JobTemplate",
    "LabelValue",
    "Mode",
    "QueueSpec",
    "Range",
    "Role",
    "RunDefaults",
    "Scenario",
    "ScenarioError",
    "ScenarioFleet",
    "WorkerSpec",
    "WrapUpSpec",
]

SCENARIO_VERSION: Final = 1

type LabelValue = str | int | float | bool
type Role = Literal["bot", "human"]
type Mode = Literal["longestIdle", "roundRobin", "bestWorker"]


class ScenarioError(ValueError):
    """The scenario file is unreadable or invalid; ``field`` is the JSON path of the bad value."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        where = f"{field}: " if field else ""
        origin = f"{source}: " if source else ""
        super().__init__(f"{origin}{where}{message}")
        self.field = field
        self.source = source
        self.message = message


# --- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    """A closed interval of seconds ``[minimum, maximum]`` to draw a random duration from."""

    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True)
class DistributionPolicySpec:
    """The one distribution policy every queue of the scenario uses."""

    id: str
    name: str | None
    mode: Mode
    offer_expires_after_seconds: float
    min_concurrent_offers: int
    max_concurrent_offers: int


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue (served by the scenario's distribution policy)."""

    id: str
    name: str | None
    labels: Mapping[str, LabelValue]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel a worker serves and what one job on it costs."""

    channel_id: str
    capacity_cost_per_job: int
    max_number_of_jobs: int | None


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """A worker: a bot (the function answers its offers) or a human (the agent app answers them).

    ``declared``: a bot of the scenario's fleet, which the function registers again when Job Router
    deregisters it (nobody else does).
    """

    id: str
    role: Role
    queues: tuple[str, ...]
    capacity: int
    channels: tuple[ChannelSpec, ...]
    labels: Mapping[str, LabelValue]
    tags: Mapping[str, LabelValue]
    declared: bool = False


@dataclass(frozen=True, slots=True)
class JobTemplate:
    """A kind of job; ``weight`` is its share of the submitted jobs."""

    name: str
    weight: int
    queue_id: str
    channel_id: str
    priority: int
    labels: Mapping[str, LabelValue]
    tags: Mapping[str, LabelValue]
    expected_final_statuses: frozenset[str] | None  # None: the scenario's


@dataclass(frozen=True, slots=True)
class AgentAppSpec:
    """How the simulated agent app answers the offers of human workers."""

    accept_share: float
    answer_delay: Range
    re_register_after_seconds: float


@dataclass(frozen=True, slots=True)
class WrapUpSpec:
    """Assigned jobs are completed and closed after a handle time drawn from ``handle_time``."""

    handle_time: Range


@dataclass(frozen=True, slots=True)
class RunDefaults:
    """What ``python -m devstack`` does without flags."""

    jobs: int
    rate: float
    settle_timeout_seconds: float
    event_grid_retry_scale: float


@dataclass(frozen=True, slots=True)
class HandEdit:
    """A change someone makes by hand during the run.

    ``after_seconds`` after the first job, the worker's queues become ``queues``: on a fleet bot, drift
    that the reconciliation timer repairs.
    """

    after_seconds: float
    worker_id: str
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScenarioFleet:
    """The bot fleet the function app keeps registered in the run (``FLEET_FILE``).

    ``worker_ids``: every worker the fleet declares, disabled ones included (the function touches only
    these). ``reconcile_schedule``: the reconciliation timer's schedule (``FLEET_RECONCILE_SCHEDULE``;
    None: the app's default, every minute).
    """

    file: Path
    worker_ids: frozenset[str]
    reconcile_schedule: str | None = None
    hand_edits: tuple[HandEdit, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario. ``policy_file`` and the fleet's file are resolved against the scenario's folder.

    With a fleet, its enabled bots are among ``workers`` (``declared``); its disabled ones are not created.
    """

    name: str
    description: str | None
    policy_file: Path | None
    distribution_policy: DistributionPolicySpec
    queues: tuple[QueueSpec, ...]
    workers: tuple[WorkerSpec, ...]
    job_id_prefix: str
    job_templates: tuple[JobTemplate, ...]
    agent_app: AgentAppSpec
    wrap_up: WrapUpSpec | None
    expected_final_statuses: frozenset[str]
    defaults: RunDefaults
    fleet: ScenarioFleet | None = None
    version: int = SCENARIO_VERSION

    def expected_for(self, template: JobTemplate) -> frozenset[str]:
        """The final statuses that count as success for jobs of ``template``."""
        return template.expected_final_statuses or self.expected_final_statuses

    def template(self, name: str) -> JobTemplate:
        """The job template called ``name`` (KeyError if there is none)."""
        for template in self.job_templates:
            if template.name == name:
                return template
        raise KeyError(name)

    @property
    def humans(self) -> tuple[WorkerSpec, ...]:
        """The workers whose offers the agent app answers."""
        return tuple(w for w in self.workers if w.role == "human")
