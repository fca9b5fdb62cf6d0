"""The end-to-end floor: an Event Grid webhook that does nothing but a bare SDK accept per offer.

``python -m bench.bare_subscriber ENDPOINT KEY`` listens on a free loopback port, prints
``bare subscriber listening on URL``, answers the validation handshake, and for every delivered
``RouterWorkerOfferIssued`` event calls ``accept_job_offer`` with the async SDK before answering 200. No
parsing into types, no policy, no worker library, no logging: the least a subscriber must do.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from aiohttp import web
from azure.communication.jobrouter.aio import JobRouterClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError


async def main(endpoint: str, key: str) -> None:
    """Serve the Event Grid webhook: accept every delivered offer with one async SDK call."""
    client = JobRouterClient(endpoint, AzureKeyCredential(key), retry_total=0)

    async def handle(request: web.Request) -> web.Response:
        items: Any = json.loads(await request.read())
        items = items if isinstance(items, list) else [items]
        if request.headers.get("aeg-event-type", "").lower() == "subscriptionvalidation":
            return web.json_response({"validationResponse": items[0]["data"]["validationCode"]})
        for item in items:
            data = item["data"]
            try:
                await client.accept_job_offer(data["workerId"], data["offerId"])
            except HttpResponseError as err:
                if err.status_code not in (404, 409):
                    return web.Response(status=500)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/bare", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    print(f"bare subscriber listening on http://127.0.0.1:{port}/bare", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
