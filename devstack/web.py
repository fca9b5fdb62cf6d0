"""aiohttp helpers shared by the dev stack's servers (emulator, host stand-in, demo webhook).

``app_runner`` builds every listener the same way: a header read timeout, a body read timeout, and a server
error log that never prints what a client sent (a malformed or oversize header can hold a signature or key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["BODY_TIMEOUT_SECONDS", "HEADER_TIMEOUT_SECONDS", "app_runner", "close_runner"]

# How long a client may take to send a request's headers (and how long an idle keep-alive connection is
# kept): aiohttp closes a connection that has not delivered a whole request line and header block by then.
# Longer than aiohttp's client keep-alive (15 s, what the emulator's Event Grid publisher uses), so a client
# never reuses a connection the server is closing at the same moment.
HEADER_TIMEOUT_SECONDS: Final = 60.0
# How long a client may take to send a request's body once its headers have arrived.
BODY_TIMEOUT_SECONDS: Final = 30.0

_SERVER_LOG: Final = logging.getLogger("devstack.web.server")


class _NoClientBytes(logging.Filter):
    """Drops the client's bytes from aiohttp's "Error handling request" records.

    aiohttp logs a malformed request with the parser's exception, whose message quotes the offending line
    (for an oversize ``Authorization`` header, the start of the signature). Keep the peer, the exception type
    and the status; drop the text and the traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "malformed HTTP request from %s refused: %s (status %s)"
            record.args = (peer, type(exc).__name__, exc.code)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"  # the client's fault, not ours
        return True


_SERVER_LOG.addFilter(_NoClientBytes())


@web.middleware
async def _read_body_in_time(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Read the whole body within BODY_TIMEOUT_SECONDS (aiohttp caches it for the handler), else 408."""
    if request.body_exists:
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                await request.read()
        except TimeoutError:
            return web.json_response(
                {"error": {"code": "RequestTimeout", "message": "the request body did not arrive in time"}},
                status=408,
                headers={"Connection": "close"},
            )
    return await handler(request)


def app_runner(app: web.Application, *, shutdown_timeout: float) -> web.AppRunner:
    """An ``AppRunner`` with the dev stack's read timeouts and redacted server error log (no access log)."""
    app.middlewares.insert(0, _read_body_in_time)
    return web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=HEADER_TIMEOUT_SECONDS,
        logger=_SERVER_LOG,
    )


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
