"""Shared helpers for the Functions host stand-in tests: sample apps, event builders, a running host."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from devstack.functions_host import FunctionsHost

HERE = Path(__file__).parent
SAMPLE_APP = HERE / "sample_app"
BROKEN_APP = HERE / "broken_app"

_ids = itertools.count(1)
_ACS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Communication/communicationServices/acs"


def eg_event(data: object, *, event_id: str | None = None) -> dict[str, Any]:
    """An Event Grid schema event as Event Grid delivers it (7-digit fractional seconds included)."""
    return {
        "id": event_id or f"eg-{next(_ids)}",
        "topic": _ACS,
        "subject": "job/j1/channel/voice/worker/w1",
        "eventType": "Microsoft.Communication.RouterWorkerOfferIssued",
        "eventTime": "2026-01-01T00:00:00.1234567Z",
        "data": data,
        "dataVersion": "1.0",
        "metadataVersion": "1",
    }


def cloud_event(data: object, *, event_id: str | None = None) -> dict[str, Any]:
    """A CloudEvents 1.0 event as Event Grid delivers it."""
    return {
        "specversion": "1.0",
        "id": event_id or f"ce-{next(_ids)}",
        "source": _ACS,
        "subject": "job/j1/channel/voice/worker/w1",
        "type": "Microsoft.Communication.RouterWorkerOfferIssued",
        "time": "2026-01-01T00:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def barrier_data(name: str, parties: int = 2) -> dict[str, object]:
    """Event data that makes a sample function wait until ``parties`` invocations reach the barrier."""
    return {"action": "barrier", "barrier": name, "parties": parties}


class Client:
    """Posts to a running host's webhook; returns (status, body text)."""

    def __init__(self, host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        self.host = host
        self.session = session

    async def post(
        self,
        function_name: str | None,
        body: object | bytes,
        event_type: str | None = "Notification",
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str]:
        url = (
            self.host.webhook_url(function_name)
            if function_name is not None
            else f"{self.host.url}/runtime/webhooks/eventgrid"
        )
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if event_type is not None:
            headers["aeg-event-type"] = event_type
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(url, data=data, headers=headers) as response:
            return response.status, await response.text()


@contextlib.asynccontextmanager
async def running_host(
    app_dir: Path = SAMPLE_APP, settings: Mapping[str, str] | None = None
) -> AsyncIterator[Client]:
    """A started host on a free loopback port with a client session; both closed on exit."""
    async with FunctionsHost(app_dir, settings) as host, aiohttp.ClientSession() as session:
        yield Client(host, session)
