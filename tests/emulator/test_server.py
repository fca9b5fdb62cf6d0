"""Starting and stopping the emulator in-process: free ports, clean shutdown, bad configuration."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from azure.core.exceptions import HttpResponseError

from devstack.jobrouter import DEV_ACCESS_KEY, Emulator, EmulatorConfig, EmulatorThread
from tests.emulator.helpers import response_text, router_client


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_port_zero_picks_a_free_port_and_the_addresses_follow_it() -> None:
    with EmulatorThread() as emu:
        assert emu.port > 0
        assert emu.endpoint == f"http://127.0.0.1:{emu.port}"
        assert emu.connection_string == f"endpoint=http://127.0.0.1:{emu.port}/;accesskey={DEV_ACCESS_KEY}"
        assert port_is_open(emu.port)


def test_stop_closes_the_port_and_leaves_no_thread_behind() -> None:
    before = {t.ident for t in threading.enumerate()}
    emu = EmulatorThread()
    emu.start()
    with router_client(emu) as client:
        assert list(client.list_jobs()) == []
    port = emu.port
    emu.stop()
    emu.stop()  # idempotent
    assert not port_is_open(port)
    assert {t.ident for t in threading.enumerate()} <= before


def test_two_emulators_run_side_by_side() -> None:
    with EmulatorThread() as first, EmulatorThread() as second:
        assert first.port != second.port
        with router_client(first) as client:
            client.upsert_worker("w", {"capacity": 1})
        with router_client(second) as client:
            assert list(client.list_workers()) == []


def test_a_busy_port_fails_the_start_with_an_os_error() -> None:
    with EmulatorThread() as running, pytest.raises(OSError, match="address already in use"):
        EmulatorThread(EmulatorConfig(port=running.port)).start()


def test_an_access_key_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        Emulator(EmulatorConfig(access_key="not base64!!"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"port": 70000}, "port"),
        ({"processing_delay": -1.0}, "processing_delay"),
        ({"default_page_size": 0}, "default_page_size"),
        ({"bearer_token": " "}, "bearer_token"),
        ({"event_log_limit": 0}, "event_log_limit"),
    ],
    ids=["port", "processing-delay", "page-size", "empty-bearer-token", "event-log-limit"],
)
def test_bad_settings_are_refused_by_the_config(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorConfig(**kwargs)  # type: ignore[arg-type]


def test_the_config_repr_hides_the_key_and_token() -> None:
    text = repr(EmulatorConfig(bearer_token="secret-token"))
    assert DEV_ACCESS_KEY not in text
    assert "secret-token" not in text


def test_the_async_emulator_starts_and_stops_on_the_callers_loop() -> None:
    async def scenario() -> int:
        emu = Emulator()
        await emu.start()
        port = emu.port
        with pytest.raises(RuntimeError):
            await emu.start()
        await emu.stop()
        await emu.stop()
        return port

    port = asyncio.run(scenario())
    assert not port_is_open(port)


def test_an_internal_error_is_a_500_in_the_service_envelope_and_the_emulator_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(kind: str, resource_id: str) -> object:
        raise RuntimeError("simulated emulator bug")

    with EmulatorThread() as emu, router_client(emu) as client:
        router = emu.emulator.router
        emu.call(lambda: setattr(router, "get", broken))
        with pytest.raises(HttpResponseError) as raised:
            client.get_worker("w")
        assert raised.value.status_code == 500
        assert "InternalError" in response_text(raised.value)
        assert list(client.list_workers()) == []
    assert "simulated emulator bug" in caplog.text
