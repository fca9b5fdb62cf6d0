"""Replay the live-service recordings (SDK 1.0.0, 2023-11-14) against the emulator through the SDK's pipeline.

The recordings are ``recordings/jobrouter-2023-11-14.json.gz`` (see recordings/README.md for provenance).

Each recorded request is sent with ``client.send_request`` (so it is HMAC-signed like any SDK call) and the
emulator's answer is compared with the recorded one: status code and, for upserts, deletes and errors, the
body's keys (in order) and values. What cannot match by construction is masked or skipped, each for a reason:

- etags and server timestamps (``etag``, ``enqueuedAt``, ``scheduledAt``, ``assignedAt``...) and server GUIDs;
- setup upserts that answered 200 because the shared test resource already held the object (we answer 201);
  for those, volatile fields are dropped altogether, since their presence reflects the earlier run;
- GETs of jobs and workers, whose status depends on timing the recordings do not capture, and list pages,
  whose recorded items include other tests' objects on the shared resource;
- the assignment scenario, whose URLs carry server-generated offer ids (test_lifecycle.py covers it).
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from azure.core.rest import HttpRequest

from devstack.jobrouter import EmulatorThread
from tests.emulator.helpers import router_client

RECORDINGS = Path(__file__).parent / "recordings" / "jobrouter-2023-11-14.json.gz"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_VOLATILE = {
    "etag",
    "enqueuedAt",
    "scheduledAt",
    "assignedAt",
    "completedAt",
    "closedAt",
    "offeredAt",
    "expiresAt",
}
_SKIP_FILES = {"test_assignment_scenario"}

with gzip.open(RECORDINGS, "rt", encoding="utf-8") as _file:
    ALL_RECORDINGS: dict[str, list[dict[str, Any]]] = json.load(_file)
FILES = sorted(name for name in ALL_RECORDINGS if not any(name.startswith(prefix) for prefix in _SKIP_FILES))


def masked(value: Any, *, drop: bool = False) -> Any:
    """The value with volatile fields and GUIDs replaced by placeholders (or dropped), key order kept."""
    if isinstance(value, dict):
        return {
            k: "<volatile>" if k in _VOLATILE else masked(v, drop=drop)
            for k, v in value.items()
            if not (drop and k in _VOLATILE)
        }
    if isinstance(value, list):
        return [masked(v, drop=drop) for v in value]
    if isinstance(value, str) and _GUID.match(value):
        return "<guid>"
    return value


def compared(entry: dict[str, Any]) -> bool:
    method, path = entry["RequestMethod"], entry["RequestUri"].split("?")[0]
    return not (
        method == "GET"
        and (re.search(r"/routing/(jobs|workers)(/|$)", path) or re.search(r"/routing/\w+$", path))
    )


@pytest.mark.parametrize(
    "recording", FILES, ids=[name.split(".py")[1].removeprefix("Test") for name in FILES]
)
def test_the_emulator_answers_like_the_recording(recording: str) -> None:
    entries = ALL_RECORDINGS[recording]
    mismatches: list[str] = []
    with EmulatorThread() as emu, router_client(emu) as client:
        for number, entry in enumerate(entries):
            uri = entry["RequestUri"].removeprefix("https://sanitized.communication.azure.net")
            headers = {k: v for k, v in entry["RequestHeaders"].items() if k.lower() in ("content-type",)}
            body = entry["RequestBody"]
            request = (
                HttpRequest(entry["RequestMethod"], uri, json=body, headers=headers)
                if body is not None
                else HttpRequest(entry["RequestMethod"], uri, headers=headers)
            )
            response = client.send_request(request)
            if not compared(entry):
                continue
            expected_status, status = entry["StatusCode"], response.status_code
            pre_existing = (expected_status, status) == (200, 201)
            if {expected_status, status} != {200, 201} and expected_status != status:
                mismatches.append(
                    f"entry {number} {entry['RequestMethod']} {uri}: status {status}, recorded {expected_status}"  # noqa: E501
                )
                continue
            recorded = entry["ResponseBody"]
            got = json.loads(response.text()) if response.text() else None
            # compared as JSON text, so key order counts at every level
            got_text = json.dumps(masked(got, drop=pre_existing))
            recorded_text = json.dumps(masked(recorded, drop=pre_existing))
            if got_text != recorded_text:
                mismatches.append(
                    f"entry {number} {entry['RequestMethod']} {uri}:\n"
                    f"  got      {got_text}\n  recorded {recorded_text}"
                )
    assert not mismatches, "\n".join(mismatches)
