"""devstack.web.close_runner: no connection outlives a server's shutdown."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from devstack.web import close_runner


async def _late_connection_survives(close: bool) -> bool:
    """Register a connection after aiohttp's shutdown forgot its list (the race); is it still open?"""
    runner = web.AppRunner(web.Application(), shutdown_timeout=0.1)
    await runner.setup()
    server = runner.server
    assert server is not None
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    original = server.shutdown

    late: list[asyncio.Future[object]] = []

    async def shutdown_then_accept(timeout: float | None = None) -> None:
        await original(timeout)
        # A connection accepted just before the listener closed registers only after the shutdown.
        late.append(asyncio.ensure_future(loop.connect_accepted_socket(server, ours)))

    server.shutdown = shutdown_then_accept  # type: ignore[method-assign]
    try:
        if close:
            await close_runner(runner)
        else:
            await runner.cleanup()
        await asyncio.gather(*late)
        await asyncio.sleep(0.05)
        theirs.setblocking(False)
        try:
            return theirs.recv(1) != b""  # b"" means the server side was closed
        except BlockingIOError:
            return True
    finally:
        for handler in server.connections:  # the plain-cleanup case: don't leak into other tests
            handler.force_close()
        await asyncio.sleep(0)
        theirs.close()


def test_a_connection_registered_during_shutdown_is_closed_by_close_runner() -> None:
    assert asyncio.run(_late_connection_survives(close=True)) is False


def test_plain_cleanup_leaves_such_a_connection_open_which_is_why_close_runner_exists() -> None:
    assert asyncio.run(_late_connection_survives(close=False)) is True
