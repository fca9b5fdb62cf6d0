"""aiohttp helpers shared by the dev stack's servers (emulator, host stand-in, demo webhook)."""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

__all__ = ["close_runner"]

# Loop turns to let accepts already under way register their connection (asyncio needs two or three).
_SETTLE_TURNS: Final = 5


async def close_runner(runner: web.AppRunner) -> None:
    """``runner.cleanup()``, then close every connection the server accepted while it was shutting down.

    aiohttp's ``Server.shutdown`` closes the connections it knows and then forgets them all; a client that
    connected just before the listening socket closed (an Event Grid redelivery racing a host restart, say)
    registers during or right after the shutdown and is never closed, which leaks its socket.
    """
    server = runner.server
    # The listening asyncio servers: since 3.13 they can close every transport they accepted. aiohttp keeps
    # them in a private attribute (aiohttp is pinned; without it we still close what aiohttp knows).
    listeners = [
        listener
        for site in runner.sites
        if isinstance(listener := getattr(site, "_server", None), asyncio.Server)
    ]
    known = server.connections if server is not None else []
    await runner.cleanup()
    for handler in known:  # shutdown forgets them even when a handler stuck in a request kept its socket
        handler.force_close()
    for _ in range(_SETTLE_TURNS):
        await asyncio.sleep(0)
        if server is not None:
            for handler in server.connections:
                handler.force_close()
    for listener in listeners:
        listener.close_clients()
