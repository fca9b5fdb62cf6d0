"""The emulator under bad input and faults, counted: poisonous objects never stall a queue, a failed write is
never acknowledged, and slow clients are disconnected while everyone else is served.

Each test records its counts for RELIABILITY.md (section ``hardening``).
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any, Final

import pytest
from azure.core.rest import HttpRequest

from devstack import web as dev_web
from devstack.jobrouter import Emulator, EmulatorConfig, EmulatorThread
from devstack.jobrouter.http_api import API_VERSION
from tests.emulator.helpers import add_job, add_worker, admin_client, router_client, setup_queue, wait_offer
from tests.reliability.figures import record

COMMAND: Final = "pytest tests/reliability/test_emulator_hardening.py"

# Bodies a careless or hostile client can send; each must get a 400 naming what is wrong, never a 5xx.
BAD_BODIES: Final[list[tuple[str, str]]] = [
    ("workers/w-nan", '{"labels": {"score": NaN}}'),
    ("workers/w-inf", '{"labels": {"score": Infinity}}'),
    ("workers/w-minus-inf", '{"tags": {"score": -Infinity}}'),
    ("workers/w-overflow", '{"labels": {"score": 1e999}}'),
    ("workers/w-capacity", '{"capacity": 1e308}'),
    ("workers/w-deep", '{"labels": ' * 80 + "{}" + "}" * 80),
    ("workers/w-very-deep", "[" * 50_000 + "]" * 50_000),
    ("jobs/j-priority-high", '{"channelId": "voice", "queueId": "q", "priority": 101}'),
    ("jobs/j-priority-low", '{"channelId": "voice", "queueId": "q", "priority": -1000000}'),
    (
        "jobs/j-selector",
        '{"channelId": "voice", "queueId": "q", "requestedWorkerSelectors": '
        '[{"key": "k", "labelOperator": "equal", "value": 1, "expiresAfterSeconds": 1e308}]}',
    ),
    (
        "jobs/j-late",
        '{"channelId": "voice", "queueId": "q", "matchingMode": '
        '{"kind": "scheduleAndSuspend", "scheduleAt": "9999-12-31T23:59:59-05:00"}}',
    ),
    (
        "jobs/j-early",
        '{"channelId": "voice", "queueId": "q", "matchingMode": '
        '{"kind": "scheduleAndSuspend", "scheduleAt": "0001-01-01T00:00:00+05:00"}}',
    ),
    ("distributionPolicies/dp-long", '{"offerExpiresAfterSeconds": 2.5e11, "mode": {"kind": "longestIdle"}}'),
    ("distributionPolicies/dp-nan", '{"offerExpiresAfterSeconds": NaN, "mode": {"kind": "longestIdle"}}'),
    ("exceptionPolicies/ep", '{"exceptionRules": [{"id": "r", "trigger": {"kind": "waitTime", '
     '"thresholdSeconds": 1e300}, "actions": [{"kind": "cancel"}]}]}'),
]  # fmt: skip
POISONED_QUEUES: Final = 20


def _patch(client: Any, endpoint: str, path: str, body: str) -> int:
    request = HttpRequest(
        "PATCH",
        f"{endpoint}/routing/{path}?api-version={API_VERSION}",
        content=body,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    return int(client.send_request(request).status_code)


def test_poisonous_objects_get_400s_and_never_stall_a_queue() -> None:
    with EmulatorThread(EmulatorConfig()) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin)
        statuses = [_patch(client, emu.endpoint, path, body) for path, body in BAD_BODIES]
        # Objects that slipped past validation (an old state file, a bug): one per queue, each with a job.
        for n in range(POISONED_QUEUES):
            setup_queue(admin, queue_id=f"poisoned-{n}", policy_id=f"poison-{n}")
            emu.call(functools.partial(_poison, emu, f"poison-{n}"))
            add_worker(client, f"pw-{n}", queues=[f"poisoned-{n}"])
            add_job(client, f"pj-{n}", queue_id=f"poisoned-{n}")
        setup_queue(admin, queue_id="healthy", policy_id="fine")
        add_worker(client, "healthy-worker", queues=["healthy"])
        add_job(client, "healthy-job", queue_id="healthy")
        offered = wait_offer(client, "healthy-worker", "healthy-job", timeout=10)
        still_queued = sum(client.get_job(f"pj-{n}").status == "queued" for n in range(POISONED_QUEUES))
    counts = {
        "bad bodies sent": len(statuses),
        "answered 400": statuses.count(400),
        "answered 5xx": sum(s >= 500 for s in statuses),
        "poisoned queues": POISONED_QUEUES,
        "poisoned jobs left queued (not lost)": still_queued,
        "healthy queues stalled": 0 if offered else 1,
    }
    record("hardening", "poison", counts, command=COMMAND + " -k poison")
    assert statuses == [400] * len(BAD_BODIES)
    assert still_queued == POISONED_QUEUES


def _poison(emu: EmulatorThread, policy_id: str) -> None:
    record_ = emu.emulator.router.store.get("distributionPolicies", policy_id)
    assert record_ is not None
    record_.body["offerExpiresAfterSeconds"] = 2.5e11


WRITE_ROUNDS: Final = 10
WRITES_PER_ROUND: Final = 5


def test_a_write_the_state_file_cannot_take_is_never_acknowledged(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    acknowledged: set[str] = set()
    refused = 0
    for round_ in range(WRITE_ROUNDS):
        with EmulatorThread(EmulatorConfig(state_file=state)) as emu, admin_client(emu) as admin:
            if round_ == 0:
                setup_queue(admin)
            for n in range(WRITES_PER_ROUND):
                admin.upsert_queue(f"q-{round_}-{n}", {"distributionPolicyId": "dp"})
                acknowledged.add(f"q-{round_}-{n}")
            emu.call(functools.partial(_refuse_writes, emu))
            with router_client(emu) as client:
                status = _patch(
                    client, emu.endpoint, f"queues/lost-{round_}", '{"distributionPolicyId": "dp"}'
                )
            refused += status == 503
    with EmulatorThread(EmulatorConfig(state_file=state)) as emu, admin_client(emu) as admin:
        kept = {q.id for q in admin.list_queues()}
    counts = {
        "failed writes": WRITE_ROUNDS,
        "answered 503": refused,
        "failed writes acknowledged": WRITE_ROUNDS - refused,
        "acknowledged writes": len(acknowledged),
        "acknowledged writes lost after restart": len(acknowledged - kept),
        "unacknowledged writes found after restart": len({f"lost-{r}" for r in range(WRITE_ROUNDS)} & kept),
    }
    record("hardening", "failed_writes", counts, command=COMMAND + " -k never_acknowledged")
    assert refused == WRITE_ROUNDS
    assert acknowledged <= kept
    assert not any(q.startswith("lost-") for q in kept)


def _refuse_writes(emu: EmulatorThread) -> None:
    db = emu.emulator.router.store._db
    assert db is not None
    db.execute("PRAGMA query_only = ON")


SLOW_CLIENTS: Final = 200


def test_slow_clients_are_disconnected_while_others_are_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev_web, "HEADER_TIMEOUT_SECONDS", 2.0)

    async def scenario() -> tuple[int, float, int]:
        async with Emulator(EmulatorConfig()) as emulator:
            connections = [
                await asyncio.open_connection("127.0.0.1", emulator.port) for _ in range(SLOW_CLIENTS)
            ]
            loop = asyncio.get_running_loop()
            started = loop.time()

            async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
                """One header byte a second until the server hangs up (True) or 10 s pass (False)."""
                request = b"GET /admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
                for byte in request:
                    try:
                        writer.write(bytes([byte]))
                        await writer.drain()
                        if await _closed_within(reader, 1.0):
                            return True
                    except ConnectionError:
                        return True
                    if loop.time() - started > 10:
                        return False
                return False

            slow = asyncio.gather(*(trickle(r, w) for r, w in connections))
            health = await _get_health(emulator.port)  # served while the slow clients hold their sockets
            closed = sum(await slow)
            elapsed = loop.time() - started
            for _, writer in connections:
                writer.close()
            return closed, elapsed, health

    closed, elapsed, health = asyncio.run(scenario())
    record(
        "hardening",
        "slow_clients",
        {
            "slow clients": SLOW_CLIENTS,
            "disconnected by the server": closed,
            "header timeout (s, test setting)": 2.0,
            "all gone after (s)": round(elapsed, 1),
            "health request meanwhile": health,
        },
        command=COMMAND + " -k slow_clients",
    )
    assert closed == SLOW_CLIENTS
    assert health == 200


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            return await reader.read(1) == b""
    except TimeoutError:
        return False


async def _get_health(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(json.loads(json.dumps(status_line.split()[1].decode())))
