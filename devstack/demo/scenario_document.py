"""Loading the demo scenario: a JSON file, validated into the frozen model of ``scenario.py``.

Every validation error is a ``ScenarioError`` naming the file and the field's path. The format is
documented field by field in docs/demo.md; examples/scenario.json is the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Self, cast

from azure.communication.jobrouter.models import RouterJobStatus

from devstack.demo.scenario import (
    SCENARIO_VERSION,
    AgentAppSpec,
    ChannelSpec,
    DistributionPolicySpec,
    JobTemplate,
    LabelValue,
    QueueSpec,
    Range,
    RunDefaults,
    Scenario,
    ScenarioError,
    WorkerSpec,
    WrapUpSpec,
)
from devstack.demo.scenario_fleet import parse_scenario_fleet
from offer_handlers.json_document import ErrorFactory, JsonObject, parse_json_text

__all__ = ["DEFAULT_SCENARIO", "JOB_STATUSES", "load_scenario", "parse_scenario"]

DEFAULT_SCENARIO: Final = Path(__file__).resolve().parent.parent.parent / "examples" / "scenario.json"
#: Job Router's job statuses (REST API 2023-11-01), the values ``expectedFinalStatuses`` may name.
JOB_STATUSES: Final = frozenset(status.value for status in RouterJobStatus)
_MODES: Final = ("longestIdle", "roundRobin", "bestWorker")
_ROLES: Final = ("bot", "human")
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def load_scenario(path: Path) -> Scenario:
    """Read, parse and validate a scenario file (``ScenarioError`` names the file and the field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read the scenario file: {err}", source=str(path)) from None
    document = parse_json_text(text, _scenario_error(str(path)))
    try:
        return parse_scenario(document, base_dir=path.resolve().parent)
    except ScenarioError as err:
        raise ScenarioError(err.message, field=err.field, source=str(path)) from None


def _scenario_error(source: str | None) -> ErrorFactory:
    """The scenario's error for a field of the file ``source`` (``None``: named by the caller)."""

    def error(message: str, field: str | None) -> ScenarioError:
        return ScenarioError(message, field=field, source=source)

    return error


def parse_scenario(document: object, *, base_dir: Path) -> Scenario:
    """Validate a decoded scenario document; relative paths in it start at ``base_dir``."""
    top = _ScenarioObject(document, error=_scenario_error(None))
    top.only(
        {
            "version",
            "name",
            "description",
            "policy",
            "fleet",
            "distributionPolicy",
            "queues",
            "workers",
            "jobs",
            "agentApp",
            "wrapUp",
            "expectedFinalStatuses",
            "run",
        }
    )
    version = top.get("version")
    if version != SCENARIO_VERSION or isinstance(version, bool):
        top.fail("version", f"expected {SCENARIO_VERSION}, got {version!r}")
    name = top.text("name", default="scenario")
    description = top.optional_text("description")
    policy_file = _file(top, "policy", base_dir)

    distribution = _distribution_policy(top.child("distributionPolicy"))
    queues = tuple(_queue(q) for q in top.items("queues"))
    _unique([q.id for q in queues], "queues")
    queue_ids = {q.id for q in queues}
    has_fleet = top.get("fleet") is not None
    listed = () if has_fleet and top.get("workers") is None else top.items("workers")
    workers = tuple(_worker(w, queue_ids) for w in listed)
    _unique([w.id for w in workers], "workers")
    fleet = None
    if has_fleet:
        fleet, bots = parse_scenario_fleet(
            top.child("fleet"), base_dir=base_dir, listed=workers, queue_ids=queue_ids
        )
        workers = bots + workers  # bots first: created first, they have been idle longest
    if not workers:
        top.fail("workers", "expected a non-empty array (or a fleet with an enabled bot)")

    jobs = top.child("jobs")
    jobs.only({"idPrefix", "templates"})
    prefix = jobs.text("idPrefix", default="job-")
    if not set(prefix) <= _ID_CHARS:
        jobs.fail("idPrefix", "use letters, digits, '.', '_' or '-' only")
    templates = tuple(_template(t, queue_ids) for t in jobs.items("templates"))
    _unique([t.name for t in templates], "jobs.templates", key="name")
    for template, obj in zip(templates, jobs.items("templates"), strict=True):
        if not any(_serves(w, template) for w in workers):
            obj.fail(
                None,
                f"no worker listens on queue {template.queue_id!r} with channel {template.channel_id!r}, "
                "so these jobs could never be offered",
            )

    agent = _agent_app(top.child("agentApp"))
    wrap_up = None if top.get("wrapUp") is None else _wrap_up(top.child("wrapUp"))
    default_expected = frozenset({"closed"} if wrap_up is not None else {"assigned"})
    expected = (
        default_expected
        if top.get("expectedFinalStatuses") is None
        else _statuses(top, "expectedFinalStatuses")
    )
    defaults = _run_defaults(
        top.child("run")
        if top.get("run") is not None
        else _ScenarioObject({}, path="run", error=_scenario_error(None))
    )
    return Scenario(
        name=name,
        description=description,
        policy_file=policy_file,
        distribution_policy=distribution,
        queues=queues,
        workers=workers,
        job_id_prefix=prefix,
        job_templates=templates,
        agent_app=agent,
        wrap_up=wrap_up,
        expected_final_statuses=expected,
        defaults=defaults,
        fleet=fleet,
    )


def _file(top: _ScenarioObject, key: str, base_dir: Path) -> Path | None:
    """The existing file named under ``key``, relative to ``base_dir`` (None when the key is absent)."""
    raw = top.optional_text(key)
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    if not path.is_file():
        top.fail(key, f"no such file: {path}")
    return path


def _serves(worker: WorkerSpec, template: JobTemplate) -> bool:
    return template.queue_id in worker.queues and any(
        c.channel_id == template.channel_id and c.capacity_cost_per_job <= worker.capacity
        for c in worker.channels
    )


def _distribution_policy(obj: _ScenarioObject) -> DistributionPolicySpec:
    obj.only({"id", "name", "mode", "offerExpiresAfterSeconds", "minConcurrentOffers", "maxConcurrentOffers"})
    mode = obj.get("mode", "longestIdle")
    if mode not in _MODES:
        obj.fail("mode", f"expected one of {', '.join(_MODES)}, got {mode!r}")
    minimum = obj.integer("minConcurrentOffers", default=1, minimum=1)
    maximum = obj.integer("maxConcurrentOffers", default=1, minimum=1)
    if minimum > maximum:
        obj.fail("minConcurrentOffers", f"is greater than maxConcurrentOffers ({maximum})")
    return DistributionPolicySpec(
        id=obj.identifier("id"),
        name=obj.optional_text("name"),
        mode=mode,
        offer_expires_after_seconds=obj.number("offerExpiresAfterSeconds", minimum=0.5, maximum=3600),
        min_concurrent_offers=minimum,
        max_concurrent_offers=maximum,
    )


def _queue(obj: _ScenarioObject) -> QueueSpec:
    obj.only({"id", "name", "labels"})
    return QueueSpec(id=obj.identifier("id"), name=obj.optional_text("name"), labels=obj.labels("labels"))


def _worker(obj: _ScenarioObject, queue_ids: set[str]) -> WorkerSpec:
    obj.only({"id", "role", "queues", "capacity", "channels", "labels", "tags"})
    role = obj.get("role")
    if role not in _ROLES:
        obj.fail(
            "role",
            f"expected {' or '.join(repr(r) for r in _ROLES)} (bots: the function answers; humans: the agent "
            f"app answers), got {role!r}",
        )
    raw_queues = obj.get("queues")
    if not isinstance(raw_queues, list) or not raw_queues or not all(isinstance(q, str) for q in raw_queues):
        obj.fail("queues", "expected a non-empty array of queue ids")
    for index, queue_id in enumerate(raw_queues):
        if queue_id not in queue_ids:
            obj.fail(f"queues[{index}]", f"unknown queue {queue_id!r}")
    channels = []
    for channel in obj.items("channels"):
        channel.only({"channelId", "capacityCostPerJob", "maxNumberOfJobs"})
        limit = channel.get("maxNumberOfJobs")
        channels.append(
            ChannelSpec(
                channel_id=channel.identifier("channelId"),
                capacity_cost_per_job=channel.integer("capacityCostPerJob", default=1, minimum=1),
                max_number_of_jobs=None
                if limit is None
                else channel.integer("maxNumberOfJobs", default=1, minimum=1),
            )
        )
    _unique([c.channel_id for c in channels], f"{obj.path}.channels", key="channelId")
    return WorkerSpec(
        id=obj.identifier("id"),
        role=role,
        queues=tuple(raw_queues),
        capacity=obj.integer("capacity", default=1, minimum=1),
        channels=tuple(channels),
        labels=obj.labels("labels"),
        tags=obj.labels("tags"),
    )


def _template(obj: _ScenarioObject, queue_ids: set[str]) -> JobTemplate:
    obj.only(
        {"name", "weight", "queueId", "channelId", "priority", "labels", "tags", "expectedFinalStatuses"}
    )
    queue_id = obj.identifier("queueId")
    if queue_id not in queue_ids:
        obj.fail("queueId", f"unknown queue {queue_id!r}")
    return JobTemplate(
        name=obj.identifier("name"),
        weight=obj.integer("weight", default=1, minimum=1),
        queue_id=queue_id,
        channel_id=obj.identifier("channelId"),
        priority=obj.integer("priority", default=1, minimum=-100, maximum=100),
        labels=obj.labels("labels"),
        tags=obj.labels("tags"),
        expected_final_statuses=None
        if obj.get("expectedFinalStatuses") is None
        else _statuses(obj, "expectedFinalStatuses"),
    )


def _agent_app(obj: _ScenarioObject) -> AgentAppSpec:
    obj.only({"acceptShare", "answerDelaySeconds", "reRegisterAfterSeconds"})
    return AgentAppSpec(
        accept_share=obj.number("acceptShare", minimum=0.0, maximum=1.0),
        answer_delay=obj.range("answerDelaySeconds"),
        re_register_after_seconds=obj.number("reRegisterAfterSeconds", minimum=0.0, maximum=600, default=0.5),
    )


def _wrap_up(obj: _ScenarioObject) -> WrapUpSpec:
    obj.only({"handleTimeSeconds"})
    return WrapUpSpec(handle_time=obj.range("handleTimeSeconds"))


def _run_defaults(obj: _ScenarioObject) -> RunDefaults:
    obj.only({"jobs", "ratePerSecond", "settleTimeoutSeconds", "eventGridRetryScale"})
    return RunDefaults(
        jobs=obj.integer("jobs", default=40, minimum=1, maximum=100_000),
        rate=obj.number("ratePerSecond", minimum=0.01, maximum=1000, default=4.0),
        settle_timeout_seconds=obj.number("settleTimeoutSeconds", minimum=1, maximum=86_400, default=60.0),
        event_grid_retry_scale=obj.number("eventGridRetryScale", minimum=0.0001, maximum=1.0, default=0.05),
    )


def _statuses(obj: _ScenarioObject, key: str) -> frozenset[str]:
    raw = obj.get(key)
    if not isinstance(raw, list) or not raw:
        obj.fail(key, "expected a non-empty array of job statuses")
    for index, status in enumerate(raw):
        if status not in JOB_STATUSES:
            obj.fail(
                f"{key}[{index}]", f"unknown job status {status!r}; one of {', '.join(sorted(JOB_STATUSES))}"
            )
    return frozenset(cast(list[str], raw))


def _unique(ids: list[str], path: str, *, key: str = "id") -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            raise ScenarioError(f"{key} {value!r} appears twice", field=f"{path}[{index}].{key}")
        seen.add(value)


class _ScenarioObject(JsonObject):
    """A JSON object inside the scenario, with the typed reads its fields need."""

    __slots__ = ()

    def child(self, key: str) -> Self:
        """The object under ``key``, which must be there."""
        if self.get(key) is None:
            self.fail(key, "missing")
        return super().child(key)

    def items(self, key: str) -> list[Self]:
        """The objects of the non-empty array under ``key``."""
        raw = self.get(key)
        if not isinstance(raw, list) or not raw:
            self.fail(key, "expected a non-empty array")
        return [self.item(key, index) for index in range(len(raw))]

    def text(self, key: str, *, default: str) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(key, "expected a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(key, "expected a string")
        return value

    def identifier(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value:
            self.fail(key, "expected a non-empty string")
        if not set(value) <= _ID_CHARS:
            self.fail(key, f"{value!r}: use letters, digits, '.', '_' or '-' only")
        return value

    def integer(self, key: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected a whole number, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            self.fail(key, f"must be {bounds}, got {value}")
        return value

    def number(self, key: str, *, minimum: float, maximum: float, default: float | None = None) -> float:
        value = self.get(key, default)
        if value is None:
            self.fail(key, "missing: expected a number")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(key, f"expected a number, got {value!r}")
        if not minimum <= value <= maximum:
            self.fail(key, f"must be between {minimum:g} and {maximum:g}, got {value:g}")
        return float(value)

    def range(self, key: str) -> Range:
        obj = self.child(key)
        obj.only({"min", "max"})
        minimum = obj.number("min", minimum=0.0, maximum=3600)
        maximum = obj.number("max", minimum=0.0, maximum=3600)
        if minimum > maximum:
            obj.fail("min", f"is greater than max ({maximum:g})")
        return Range(minimum, maximum)

    def labels(self, key: str) -> Mapping[str, LabelValue]:
        raw = self.get(key)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(key, "expected an object of labels")
        for name, value in raw.items():
            if not name:
                self.fail(key, "a label name is empty")
            if isinstance(value, float) and not math.isfinite(value):
                self.fail(f"{key}.{name}", "expected a finite number")
            if not isinstance(value, str | int | float | bool):
                self.fail(
                    f"{key}.{name}", f"expected a string, number or boolean, got {type(value).__name__}"
                )
        return dict(cast(dict[str, LabelValue], raw))
