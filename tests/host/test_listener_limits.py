"""Every dev-stack listener (emulator, host stand-in, demo webhook) drops clients that send too slowly and
never logs what a malformed request carried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from devstack import web as dev_web
from devstack.demo.webhook import AgentWebhook
from devstack.functions_host import FunctionsHost
from devstack.jobrouter import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
SECRET = "c2VjcmV0LXNpZ25hdHVyZS1uZXZlci1sb2dnZWQ"

Listener = Callable[[], AbstractAsyncContextManager[int]]


@asynccontextmanager
async def _emulator() -> AsyncIterator[int]:
    async with Emulator(EmulatorConfig()) as emulator:
        yield emulator.port


@asynccontextmanager
async def _host() -> AsyncIterator[int]:
    host = FunctionsHost(ROOT, {"FUNCTIONS_WORKER_RUNTIME": "python"})
    await host.start()
    try:
        yield int(host.url.rsplit(":", 1)[1])
    finally:
        await host.stop()


@asynccontextmanager
async def _webhook() -> AsyncIterator[int]:
    webhook = AgentWebhook(lambda event: None)
    await webhook.start()
    try:
        yield int(webhook.url.split(":")[2].split("/")[0])
    finally:
        await webhook.close()


LISTENERS: dict[str, Listener] = {"emulator": _emulator, "host": _host, "demo-webhook": _webhook}


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server ends the connection (EOF or a response, then EOF) within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    return True


def _run[T](coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@pytest.mark.parametrize("listener", LISTENERS.values(), ids=LISTENERS.keys())
def test_a_client_that_never_finishes_its_headers_is_disconnected(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev_web, "HEADER_TIMEOUT_SECONDS", 0.5)

    async def scenario() -> bool:
        async with listener() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and nothing more
            await writer.drain()
            closed = await _closed_by_server(reader, within=5.0)
            writer.close()
            return closed

    assert _run(scenario())


@pytest.mark.parametrize("listener", LISTENERS.values(), ids=LISTENERS.keys())
def test_a_client_that_never_finishes_its_body_gets_408_and_is_disconnected(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev_web, "BODY_TIMEOUT_SECONDS", 0.5)

    async def scenario() -> bytes:
        async with listener() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"partial": '
            )
            await writer.drain()
            async with asyncio.timeout(5.0):
                status_line = await reader.readline()  # the rest of the body is never sent
            writer.close()
            return status_line

    assert _run(scenario()).startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize("listener", LISTENERS.values(), ids=LISTENERS.keys())
def test_an_oversize_authorization_header_is_refused_without_logging_it(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> bytes:
        async with listener() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            header = f"HMAC-SHA256 SignedHeaders=x-ms-date;host&Signature={SECRET}{'A' * 20_000}"
            writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {header}\r\n\r\n".encode())
            await writer.drain()
            async with asyncio.timeout(5.0):
                answer = await reader.read()
            writer.close()
            return answer

    assert _run(scenario()).startswith(b"HTTP/1.0 400")
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "LineTooLong" in logged  # the refusal is logged ...
    assert SECRET not in logged  # ... without what the client sent
    assert "Signature" not in logged
