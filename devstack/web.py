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
    await runner.cleanup()
    if server is None:
        return
    for _ in range(_SETTLE_TURNS):
        await asyncio.sleep(0)
        for handler in server.connections:
            handler.force_close()
