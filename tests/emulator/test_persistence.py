"""``--state FILE``: a restart keeps policies, queues, workers, jobs and pending offers, and timers resume."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from azure.communication.jobrouter.models import (
    CancelExceptionAction,
    ClassificationPolicy,
    ExceptionPolicy,
    ExceptionRule,
    WaitTimeExceptionTrigger,
)

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.jobrouter.store import StateFileError, Store
from devstack.polling import wait_until
from tests.emulator.helpers import (
    add_job,
    add_worker,
    admin_client,
    router_client,
    setup_queue,
    wait_offer,
    wait_worker,
)


def test_a_restart_keeps_every_resource_and_the_pending_offer(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "state.sqlite")
    with EmulatorThread(config) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin, offer_expires_after_seconds=300)
        admin.upsert_classification_policy("cp", ClassificationPolicy(fallback_queue_id="q"))
        admin.upsert_exception_policy(
            "ep",
            ExceptionPolicy(
                exception_rules=[
                    ExceptionRule(
                        id="r",
                        trigger=WaitTimeExceptionTrigger(threshold_seconds=3600),
                        actions=[CancelExceptionAction()],
                    )
                ]
            ),
        )
        add_worker(client, "w", labels={"lang": "en"})
        add_job(client, "j", labels={"vip": True})
        offer = wait_offer(client, "w", "j")
        before = {
            "dp": admin.get_distribution_policy("dp").as_dict(),
            "q": admin.get_queue("q").as_dict(),
            "cp": admin.get_classification_policy("cp").as_dict(),
            "ep": admin.get_exception_policy("ep").as_dict(),
            "w": client.get_worker("w").as_dict(),
            "j": client.get_job("j").as_dict(),
        }

    with EmulatorThread(config) as emu, admin_client(emu) as admin, router_client(emu) as client:
        after = {
            "dp": admin.get_distribution_policy("dp").as_dict(),
            "q": admin.get_queue("q").as_dict(),
            "cp": admin.get_classification_policy("cp").as_dict(),
            "ep": admin.get_exception_policy("ep").as_dict(),
            "w": client.get_worker("w").as_dict(),
            "j": client.get_job("j").as_dict(),
        }
        assert after == before  # etags included: nothing changed
        accepted = client.accept_job_offer("w", offer.offer_id)
        assert (client.get_job("j").assignments or {})[accepted.assignment_id].worker_id == "w"


def test_an_offer_that_expired_while_down_expires_at_start(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "state.sqlite")
    with EmulatorThread(config) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin, offer_expires_after_seconds=1.0)
        add_worker(client, "w")
        add_job(client, "j")
        wait_offer(client, "w", "j")
    time.sleep(1.2)

    with EmulatorThread(config) as emu, router_client(emu) as client:
        worker = wait_worker(client, "w", lambda worker: worker.state == "inactive")
        assert worker.offers == []
        assert [e.event_type.rsplit(".", 1)[1] for e in emu.events] == [
            "RouterWorkerOfferExpired",
            "RouterWorkerDeregistered",
        ]


def test_a_pending_timer_fires_after_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "state.sqlite")
    with EmulatorThread(config) as emu, admin_client(emu) as admin, router_client(emu) as client:
        setup_queue(admin, offer_expires_after_seconds=1.5)
        add_worker(client, "w")
        add_job(client, "j")
        wait_offer(client, "w", "j")

    with EmulatorThread(config) as emu, router_client(emu) as client:
        assert client.get_worker("w").offers  # still pending right after the restart ...
        wait_until(lambda: client.get_worker("w").state == "inactive", timeout=5)  # ... and expires on time


def test_the_list_order_survives_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "state.sqlite")
    with EmulatorThread(config) as emu, admin_client(emu) as admin:
        for n in range(3):
            admin.upsert_distribution_policy(f"dp{n}", {"offerExpiresAfterSeconds": 10})
    with EmulatorThread(config) as emu, admin_client(emu) as admin:
        admin.upsert_distribution_policy("dp3", {"offerExpiresAfterSeconds": 10})
        assert [p.id for p in admin.list_distribution_policies()] == ["dp3", "dp2", "dp1", "dp0"]


def test_a_deleted_resource_stays_deleted_after_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(state_file=tmp_path / "state.sqlite")
    with EmulatorThread(config) as emu, admin_client(emu) as admin:
        admin.upsert_distribution_policy("dp", {"offerExpiresAfterSeconds": 10})
        admin.delete_distribution_policy("dp")
    with EmulatorThread(config) as emu, admin_client(emu) as admin:
        assert list(admin.list_distribution_policies()) == []


def test_a_state_file_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schemaVersion'")
    db.close()
    with pytest.raises(StateFileError, match="schema version"):
        Store(path)
