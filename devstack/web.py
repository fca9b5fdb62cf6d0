"""aiohttp helpers shared by the dev stack's servers (emulator, host stand-in, demo webhook)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["close_runner"]


async def close_runner(runner: web.AppRunner) -> None:
    """``runner.cleanup()``, then close any connection the server accepted while it was shutting down.

    aiohttp's ``Server.shutdown`` closes the connections it knows and then forgets them all; a client that
    connects in that window (an Event Grid redelivery racing a host restart, say) is registered afterwards
    and never closed, which leaks its socket.
    """
    server = runner.server
    await runner.cleanup()
    if server is not None:
        for handler in server.connections:
            handler.force_close()
