"""Benchmarks 2 and 3 as a pyperf script: decide() per offer, and event payload -> typed Offer.

Run by ``bench/micro.py`` as ``python bench/micro_pyperf.py --fast -o FILE`` (pyperf spawns its worker
processes itself); can be run by hand the same way, or with pyperf's own options (``--rigorous``).
"""

from __future__ import annotations

import copy
import functools
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyperf  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import azure.functions as func

from function_app import to_envelope
from offer_handlers.decide import decide
from offer_handlers.events import Envelope, parse_offer
from offer_handlers.policy_document import parse_policy

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
RULE_COUNTS = (1, 10, 100)


def policy_of(rules: int) -> Any:
    """``rules`` rules of two label conditions each; rule i matches workers of kind ``bot-i`` only."""
    return parse_policy(
        {
            "version": 1,
            "rules": [
                {
                    "name": f"rule-{i}",
                    "when": {
                        "workerLabels": [{"key": "kind", "labelOperator": "equal", "value": f"bot-{i}"}],
                        "jobLabels": [{"key": "language", "labelOperator": "equal", "value": "en"}],
                    },
                    "then": {"action": "accept"},
                }
                for i in range(rules)
            ],
            "default": {"action": "leave"},
        }
    )


def event_data(kind: str = "bot-0") -> dict[str, Any]:
    """The data of an offer-issued event from a worker labelled ``kind``."""
    return {
        "workerId": "bot-7",
        "jobId": "job-1001",
        "channelReference": "chat-2c9f",
        "channelId": "chat",
        "queueId": "support-en",
        "offerId": "0f4e1c1a-0000-4a5b-8c9d-000000001001",
        "offeredOn": "2026-03-04T10:00:00.0000000Z",
        "expiresOn": "2026-03-04T10:01:00.0000000Z",
        "jobPriority": 5,
        "jobLabels": {"language": "en", "vip": False, "estimatedMinutes": 7},
        "jobTags": {"crm": "case-77"},
        "workerLabels": {"Id": "bot-7", "kind": kind, "level": 2},
        "workerTags": {},
    }


def offer_for(kind: str) -> Any:
    """The parsed offer of ``event_data(kind)``."""
    return parse_offer(
        Envelope("eventgrid", "e-1", "Microsoft.Communication.RouterWorkerOfferIssued", "s", event_data(kind))
    )


def noop(offer: Any, policy: Any, *, now: datetime) -> None:
    """A decider that does nothing: the call-overhead baseline."""
    return None


def time_calls(loops: int, fn: Any, *args: Any) -> float:
    """Seconds for ``loops`` calls of ``fn(*args)`` (pyperf's time function protocol)."""
    timer = time.perf_counter  # what pyperf.perf_counter is
    rng = range(loops)
    t0 = timer()
    for _ in rng:
        fn(*args)
    return timer() - t0


def main() -> None:
    """Register every micro-benchmark with pyperf's runner."""
    runner = pyperf.Runner()
    offer0 = offer_for("bot-0")
    runner.bench_time_func("noop-call", time_calls, functools.partial(noop, now=NOW), offer0, policy_of(1))
    # The same partial wraps the baseline, so the call overhead is alike on both sides.
    decide_now = functools.partial(decide, now=NOW)
    for n in RULE_COUNTS:
        policy = policy_of(n)
        runner.bench_time_func(f"decide-{n}-first", time_calls, decide_now, offer0, policy)
        last = offer_for(f"bot-{n - 1}")
        runner.bench_time_func(f"decide-{n}-last", time_calls, decide_now, last, policy)

    data = event_data()
    eg_text = json.dumps(
        {
            "id": "7d1f0c2a",
            "topic": "/subscriptions/x",
            "subject": "worker/bot-7/job/job-1001",
            "eventType": "Microsoft.Communication.RouterWorkerOfferIssued",
            "eventTime": "2026-03-04T10:00:00.1234567Z",
            "dataVersion": "1.0",
            "data": data,
        }
    )
    eg_event = func.EventGridEvent(
        id="7d1f0c2a",
        data=copy.deepcopy(data),
        topic="/subscriptions/x",
        subject="worker/bot-7/job/job-1001",
        event_type="Microsoft.Communication.RouterWorkerOfferIssued",
        event_time=NOW - timedelta(seconds=1),
        data_version="1.0",
    )
    ce_event = func.CloudEvent(
        id="7d1f0c2a",
        source="/subscriptions/x",
        type="Microsoft.Communication.RouterWorkerOfferIssued",
        specversion="1.0",
        data=copy.deepcopy(data),
        time=NOW,
        subject="worker/bot-7/job/job-1001",
    )

    def parse_trigger(event: Any) -> Any:
        return parse_offer(to_envelope(event))

    runner.bench_time_func("json-loads-event", time_calls, json.loads, eg_text)
    runner.bench_time_func("parse-eventgrid", time_calls, parse_trigger, eg_event)
    runner.bench_time_func("parse-cloudevents", time_calls, parse_trigger, ce_event)


if __name__ == "__main__":
    main()
