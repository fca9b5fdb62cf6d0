"""devstack.web.close_runner: no connection outlives a server's shutdown."""

from __future__ import annotations

import asyncio
import gc
import select
import socket
import sys
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from devstack.web import close_runner

# Connections waiting in the listener's queue when the shutdown starts.
_CLIENTS = 5


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


async def _connections_accepted_as_the_server_closes(
    close: Callable[[web.AppRunner], Coroutine[Any, Any, None]],
) -> None:
    """Close a listener between asyncio's accept and the transport it builds; count the sockets left open.

    asyncio accepts in one loop turn and attaches each connection to its server in a task on the next; a
    shutdown that starts in between is the race a host restart hit under load.
    """
    runner = web.AppRunner(web.Application(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(_CLIENTS)]
    listener = getattr(site, "_server", None)
    assert isinstance(listener, asyncio.Server)
    select.select(list(listener.sockets), [], [], 5.0)  # the kernel holds them: the next turn accepts them
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def start_closing() -> None:  # runs first on the turn after the accept, before the accepted tasks
        task: asyncio.Task[None] = asyncio.Task(close(runner), loop=loop, eager_start=True)
        task.add_done_callback(lambda _: closed.set_result(None))

    await asyncio.sleep(0)  # this turn's select saw the listener readable: the accept runs right after us
    loop.call_soon(start_closing)
    await closed
    for client in clients:
        client.close()


def _unclosed_after(close: Callable[[web.AppRunner], Coroutine[Any, Any, None]]) -> list[str]:
    """Run the race with warnings as errors; the ResourceWarnings of sockets nobody closed."""
    caught: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: caught.append(str(unraisable.exc_value))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            asyncio.run(_connections_accepted_as_the_server_closes(close))
            gc.collect()
    finally:
        sys.unraisablehook = previous
    return [text for text in caught if "unclosed" in text]


def test_connections_accepted_as_the_listener_closes_are_closed_by_close_runner() -> None:
    assert _unclosed_after(close_runner) == []


def test_plain_cleanup_leaks_them_which_is_why_close_runner_stops_accepting_first() -> None:
    leaked = _unclosed_after(lambda runner: runner.cleanup())
    assert any("unclosed <socket.socket" in text for text in leaked), leaked
