"""The scenario's bot fleet: the fleet file its bots come from, the reconciliation schedule, hand edits.

``"fleet": {"file": "fleet.json", "reconcileSchedule": "*/5 * * * * *", "handEdits": [...]}`` in a
scenario (docs/demo.md, "Scenario file format"). The fleet is read with the product's own loader
(``offer_handlers.fleet``); its enabled bots become the scenario's bots, and every error names the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from devstack.demo.scenario import ChannelSpec, HandEdit, ScenarioError, ScenarioFleet, WorkerSpec
from devstack.functions_host.ncrontab import CrontabError, parse_schedule
from offer_handlers.errors import InvalidFleetError
from offer_handlers.fleet import BotWorker, Fleet, load_fleet_file
from offer_handlers.json_document import JsonObject

__all__ = ["parse_scenario_fleet"]

_MAX_HAND_EDIT_SECONDS: Final = 3600.0


def parse_scenario_fleet(
    obj: JsonObject, *, base_dir: Path, listed: Sequence[WorkerSpec], queue_ids: set[str]
) -> tuple[ScenarioFleet, tuple[WorkerSpec, ...]]:
    """The ``fleet`` object and the fleet's enabled bots as scenario workers (``declared``).

    A bot is listed in one place only: the fleet or the scenario's ``workers``.
    """
    obj.only({"file", "reconcileSchedule", "handEdits"})
    raw = obj.get("file")
    if not isinstance(raw, str) or not raw:
        obj.fail("file", "expected the path of a fleet file (README.md, 'The bot fleet')")
    path = Path(raw) if Path(raw).is_absolute() else (base_dir / raw).resolve()
    if not path.is_file():
        obj.fail("file", f"no such file: {path}")
    try:
        fleet = load_fleet_file(path)
    except InvalidFleetError as err:
        obj.fail("file", f"{path}: {err}")
    bots = _bots(obj, fleet, path, listed, queue_ids)
    workers = {w.id for w in (*listed, *bots)}
    return (
        ScenarioFleet(
            file=path,
            worker_ids=frozenset(fleet.by_id),
            reconcile_schedule=_schedule(obj),
            hand_edits=_hand_edits(obj, workers),
        ),
        bots,
    )


def _bots(
    obj: JsonObject, fleet: Fleet, path: Path, listed: Sequence[WorkerSpec], queue_ids: set[str]
) -> tuple[WorkerSpec, ...]:
    listed_ids = {w.id: index for index, w in enumerate(listed)}
    bots: list[WorkerSpec] = []
    for bot in fleet.workers:
        if bot.worker_id in listed_ids:
            raise ScenarioError(
                f"{bot.worker_id!r} is declared in the fleet ({path.name}); list a bot in one place",
                field=f"workers[{listed_ids[bot.worker_id]}].id",
            )
        unknown = [q for q in bot.queues if q not in queue_ids]
        if unknown:
            obj.fail(
                "file",
                f"fleet worker {bot.worker_id!r} listens on queue {unknown[0]!r}, which the scenario "
                "does not create",
            )
        if bot.enabled:
            bots.append(_bot_spec(bot))
    return tuple(bots)


def _bot_spec(bot: BotWorker) -> WorkerSpec:
    return WorkerSpec(
        id=bot.worker_id,
        role="bot",
        queues=bot.queues,
        capacity=bot.capacity,
        channels=tuple(
            ChannelSpec(c.channel_id, c.capacity_cost_per_job, c.max_number_of_jobs) for c in bot.channels
        ),
        labels=dict(bot.labels),
        tags=dict(bot.tags),
        declared=True,
    )


def _schedule(obj: JsonObject) -> str | None:
    raw = obj.get("reconcileSchedule")
    if raw is None:
        return None
    if not isinstance(raw, str):
        obj.fail("reconcileSchedule", 'expected an NCRONTAB schedule, e.g. "*/5 * * * * *"')
    try:
        parse_schedule(raw)
    except CrontabError as err:
        obj.fail("reconcileSchedule", str(err))
    return raw


def _hand_edits(obj: JsonObject, workers: set[str]) -> tuple[HandEdit, ...]:
    raw = obj.get("handEdits")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        obj.fail("handEdits", "expected an array of changes made by hand during the run")
    edits = []
    for index, _ in enumerate(raw):
        item = obj.item("handEdits", index)
        item.only({"afterSeconds", "workerId", "queues", "description"})
        after = item.get("afterSeconds")
        if isinstance(after, bool) or not isinstance(after, int | float):
            item.fail("afterSeconds", "expected a number of seconds after the first job")
        if not 0 <= after <= _MAX_HAND_EDIT_SECONDS:
            item.fail("afterSeconds", f"must be between 0 and {_MAX_HAND_EDIT_SECONDS:g}")
        worker_id = item.get("workerId")
        if worker_id not in workers:
            item.fail("workerId", f"{worker_id!r} is not a worker of the scenario")
        queues = item.get("queues")
        if not isinstance(queues, list) or not all(isinstance(q, str) and q for q in queues):
            item.fail("queues", "expected an array of queue ids (the worker's queues after the change)")
        edits.append(HandEdit(float(after), str(worker_id), tuple(queues)))
    return tuple(edits)
