"""Bad payloads: hypothesis strategies for whole delivered events, by category, built on the unit
suite's strategies (``tests/unit/test_properties.py``) and the real fixtures in ``tests/fixtures``."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from hypothesis import strategies as st

from offer_handlers.events import OFFER_ISSUED
from tests.fixtures import OFFER_FIXTURES, fresh, load_event, single
from tests.unit.test_properties import WIRE_KEYS, json_values, mutated_events

__all__ = ["CATEGORIES", "bad_bodies", "bad_events"]

FIXTURES: Final = [single(load_event(name)) for name in OFFER_FIXTURES]
OTHER_EVENTS: Final = [
    single(load_event(n)) for n in ("offer_revoked.eventgrid", "worker_registered.cloudevents")
]
REQUIRED: Final = ("offerId", "workerId", "jobId", "expiresOn")
ROUTER_TYPES: Final = [
    f"Microsoft.Communication.{t}"
    for t in (
        "RouterWorkerOfferRevoked",
        "RouterWorkerOfferExpired",
        "RouterWorkerOfferAccepted",
        "RouterJobReceived",
        "RouterWorkerRegistered",
        "RouterWorkerOfferissued",
    )
] + ["", "RouterWorkerOfferIssued", OFFER_ISSUED.lower(), f" {OFFER_ISSUED}"]
BAD_DATES: Final = [
    "",
    "yesterday",
    "2024-13-01T00:00:00Z",
    "2024-02-30T10:00:00Z",
    "10:00",
    "0000-00-00",
    "2024-03-05T25:61:00Z",
    "9999-99-99T99:99:99Z",
    "2024-03-05T10:16:02.12345678901Z",
    "1e309",
    "2024-03-05T10:16:02+25:00",
    "\u0661\u0669\u0667\u0660-01-01",
]
WRONG_TYPED: Final = [None, True, 0, -1, 1.5, 2**64, float("inf"), [], ["a"], {}, {"a": 1}, "x"]

CATEGORIES: Final = (
    "envelope",
    "mutation",
    "wrong-type",
    "missing",
    "extra",
    "huge-string",
    "huge-map",
    "bad-date",
    "event-type",
    "schema",
    "double-encoded",
)


def _fresh_offer(event: dict[str, Any]) -> dict[str, Any]:
    """A fixture re-timed to expire in 10 minutes, with a unique offer id (so a valid one is called once)."""
    result = fresh(event, seconds_left=600)
    result["id"] = str(uuid.uuid4())
    result["data"]["offerId"] = str(uuid.uuid4())
    return result


def _eventgrid_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@st.composite
def bad_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(category, one event object) - most are invalid, some stay valid (the oracle tells which)."""
    category = draw(st.sampled_from(CATEGORIES))
    event = _fresh_offer(copy.deepcopy(draw(st.sampled_from(FIXTURES))))
    data = event["data"]
    match category:
        case "envelope":
            for key in draw(
                st.sets(st.sampled_from(["id", "subject", "data", "eventType", "type"]), min_size=1)
            ):
                event[key] = draw(json_values)
        case "mutation":
            event = draw(mutated_events())
            event["id"] = str(uuid.uuid4())
        case "wrong-type":
            for key in draw(st.sets(st.sampled_from(WIRE_KEYS), min_size=1, max_size=3)):
                data[key] = draw(st.sampled_from(WRONG_TYPED))
        case "missing":
            for key in draw(st.sets(st.sampled_from([*REQUIRED, "offeredOn", "data", "id"]), min_size=1)):
                (event if key in ("data", "id") else data).pop(key, None)
                if key == "expiresOn":
                    data.pop("expiryTimeUtc", None)
        case "extra":
            extra = draw(
                st.dictionaries(st.text(min_size=1, max_size=12), json_values, min_size=1, max_size=6)
            )
            target = draw(st.sampled_from(["data", "envelope", "labels"]))
            if target == "data":
                data.update({k: v for k, v in extra.items() if k not in WIRE_KEYS})
            elif target == "envelope":
                event.update({k: v for k, v in extra.items() if k not in event})
            else:
                data["jobLabels"] = {**(data.get("jobLabels") or {}), **extra}
        case "huge-string":
            size = draw(st.sampled_from([1_025, 10_000, 100_000]))  # Event Grid caps an event at 1 MB
            key = draw(st.sampled_from([*REQUIRED, "queueId", "channelId", "subject", "id"]))
            text = draw(st.sampled_from(["a", "\u00e9", "\u2603", " "])) * size
            (event if key in ("subject", "id") else data)[key] = text
        case "huge-map":
            size = draw(st.sampled_from([1_000, 10_000]))
            key = draw(st.sampled_from(["jobLabels", "jobTags", "workerLabels", "workerTags"]))
            value = draw(st.sampled_from(["v", 1, None, [1], {"deep": 1}]))
            data[key] = {f"k{i}": value for i in range(size)}
        case "bad-date":
            for key in draw(st.sets(st.sampled_from(["offeredOn", "expiresOn"]), min_size=1)):
                data[key] = draw(st.sampled_from(BAD_DATES) | st.text(max_size=30))
        case "event-type":
            other = draw(st.sampled_from(ROUTER_TYPES))
            if draw(st.booleans()):
                event = copy.deepcopy(draw(st.sampled_from(OTHER_EVENTS)))
            else:
                event["type" if "specversion" in event else "eventType"] = other
        case "schema":
            match draw(st.sampled_from(["cloud-to-grid", "grid-to-cloud", "no-data-version", "both"])):
                case "cloud-to-grid":  # a CloudEvent that lost its specversion: read as Event Grid
                    event.pop("specversion", None)
                    event.setdefault("eventTime", _eventgrid_time())
                case "grid-to-cloud":  # an Event Grid event claiming to be a CloudEvent
                    event["specversion"] = draw(st.sampled_from(["1.0", "0.3", "", 1]))
                case "no-data-version":
                    event.pop("dataVersion", None)
                case _:
                    event.update({"specversion": "1.0", "eventType": OFFER_ISSUED, "type": OFFER_ISSUED})
        case _:  # double-encoded: data as a JSON string (some publishers do it), sometimes broken
            text = json.dumps(data)
            event["data"] = draw(st.sampled_from([text, text[:-1], text + "x", "null", "[]", '"x"']))
    return category, event


NON_JSON: Final = [
    b"",
    b"\x00\x01\x02",
    b"not json",
    b"[{",
    b"{'id': 1}",
    b"\xff\xfe[]",
    b"[1,]",
    b"NaN x",
    b"<xml/>",
    b"[" * 5000,
    b"{" * 100_000,
]


@st.composite
def bad_bodies(draw: st.DrawFn) -> tuple[str, bytes, list[dict[str, Any]]]:
    """(category, HTTP body, the event objects in it) for the host's webhook."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        body = draw(st.sampled_from(NON_JSON) | st.binary(max_size=64).filter(_not_json))
        return "non-json", body, []
    pairs = draw(st.lists(bad_events(), min_size=1, max_size=3))
    events = [event for _, event in pairs]
    shape = draw(st.sampled_from(["array", "single", "array-with-scalar"]))
    if shape == "single":
        events = events[:1]
        return pairs[0][0], json.dumps(events[0]).encode(), events
    if shape == "array-with-scalar":
        scalar = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return "non-object", json.dumps([*events, scalar]).encode(), events
    return pairs[0][0], json.dumps(events).encode(), events


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False
