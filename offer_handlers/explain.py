"""``python -m offer_handlers explain``: show what a policy decides for an event file, and why.

For people writing policies: prints the parsed offer, each rule tried (and the condition that
failed), the decision and the rule that matched. No network, no settings. Exit code 2 with a
clear message for an invalid policy, decider or event. ``trace`` and ``describe``, the pure part,
say which rules were tried and why each failed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, assert_never

from offer_handlers.decide import Accept, Decider, Decision, Decline, Leave, decide
from offer_handlers.errors import InvalidEventError, InvalidPolicyError, OfferHandlerError
from offer_handlers.events import (
    Envelope,
    LabelValue,
    Offer,
    envelopes_from_json,
    is_offer_issued,
    parse_offer,
)
from offer_handlers.policy import (
    NO_POLICY,
    Condition,
    LabelSelector,
    MinTimeLeft,
    OneOf,
    Policy,
    PriorityRange,
    Rule,
    TimeWindow,
)
from offer_handlers.policy_document import load_policy_file

__all__ = ["RuleTrace", "UsageError", "add_parser", "describe", "run", "trace"]

_SCHEMA_NAMES = {"eventgrid": "Event Grid schema", "cloudevents": "CloudEvents 1.0 schema"}


class UsageError(Exception):
    """Bad input for the CLI: printed as one line, exit code 2."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``explain`` sub-command."""
    parser = subparsers.add_parser(
        "explain",
        help="show what a policy decides for an event, and why",
        description="Parse EVENT (Event Grid or CloudEvents JSON), evaluate the policy and print the "
        "decision and the rule that matched. Makes no network call.",
    )
    parser.add_argument(
        "--policy", type=Path, help="policy JSON file (default: none, so every offer is accepted)"
    )
    parser.add_argument(
        "--decider", help="an OFFER_DECIDER plug-in, package.module:function, instead of the rules"
    )
    parser.add_argument(
        "--now",
        help="evaluate at this ISO 8601 time (default: the offer's offered-at time, else the current time)",
    )
    parser.add_argument(
        "event", type=Path, metavar="EVENT.json", help="the event, as delivered (array or object)"
    )
    parser.set_defaults(command=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Explain every event in the file; returns the exit code."""
    try:
        policy = load_policy_file(args.policy) if args.policy is not None else NO_POLICY
        decider: Decider = decide
        if args.decider:
            from offer_handlers.plugin import load_decider

            decider = load_decider(args.decider)
        now = _parse_now(args.now)
        # Parse every event before printing anything, so bad input prints only the error.
        events = [(e, parse_offer(e) if is_offer_issued(e) else None) for e in _read_events(args.event)]
        for index, (envelope, offer) in enumerate(events):
            if index:
                out.write("\n")
            _explain(envelope, offer, policy, decider, now=now, out=out, plugin=args.decider)
    except InvalidPolicyError as err:
        raise UsageError(f"invalid policy {str(args.policy)!r}: {err}") from err
    except InvalidEventError as err:
        raise UsageError(f"invalid event {str(args.event)!r}: {err}") from err
    except OfferHandlerError as err:
        raise UsageError(str(err)) from err
    return 0


def _parse_now(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--now: {raw!r} is not an ISO 8601 date-time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _read_events(path: Path) -> tuple[Envelope, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {str(path)!r}: {err}") from None
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise UsageError(f"invalid event {str(path)!r}: not valid JSON: {err}") from None
    return envelopes_from_json(body)


def _explain(
    envelope: Envelope,
    offer: Offer | None,
    policy: Policy,
    decider: Decider,
    *,
    now: datetime | None,
    out: TextIO,
    plugin: str | None,
) -> None:
    print(
        f"Event {envelope.event_id} ({_SCHEMA_NAMES[envelope.schema]}, type {envelope.event_type})", file=out
    )
    if offer is None:
        print(
            "  not a RouterWorkerOfferIssued event: the function acknowledges it and makes no call", file=out
        )
        return
    _print_offer(offer, out)
    if now is not None:
        at, why = now, "given with --now"
    elif offer.offered_at is not None:
        at, why = offer.offered_at, "the offer's offered-at time; change it with --now"
    else:
        at, why = datetime.now(UTC), "the current time; change it with --now"
    left = (offer.expires_at - at).total_seconds()
    print(f"Evaluated at {at.isoformat()} ({why}); {left:.15g} s left before the offer expires", file=out)

    if plugin:
        print(f"Decided by the plug-in {plugin} (OFFER_DECIDER), not by the rules", file=out)
        matched = f"plug-in {plugin}"
    else:
        steps = trace(offer, policy, now=at)
        if steps:
            print("Rules, in order (the first whose conditions all hold wins):", file=out)
        for number, step in enumerate(steps, start=1):
            verdict = "MATCHED" if step.failed is None else f"skipped, not true: {describe(step.failed)}"
            print(f"  {number}. {step.rule.name}: {verdict}", file=out)
        if steps and steps[-1].failed is None:
            matched = f"rule {steps[-1].rule.name!r} (#{len(steps)})"
        else:
            matched = "no rule matched, so the policy's default"
    decision = decider(offer, policy, now=at)
    print(f"Decision: {_describe_decision(decision)}", file=out)
    print(f"Reason:   {decision.reason} (from {matched})", file=out)


def _print_offer(offer: Offer, out: TextIO) -> None:
    rows: Sequence[tuple[str, object]] = (
        ("offer", offer.offer_id),
        ("worker", offer.worker_id),
        ("job", offer.job_id),
        ("priority", offer.job_priority),
        ("queue", offer.queue_id),
        ("channel", offer.channel_id),
        ("channel reference", offer.channel_reference),
        ("offered at", offer.offered_at.isoformat() if offer.offered_at else None),
        ("expires at", offer.expires_at.isoformat()),
        ("job labels", _labels(offer.job_labels)),
        ("job tags", _labels(offer.job_tags)),
        ("worker labels", _labels(offer.worker_labels)),
        ("worker tags", _labels(offer.worker_tags)),
    )
    for name, value in rows:
        print(f"  {name + ':':<19}{'-' if value is None else value}", file=out)


def _labels(labels: Mapping[str, LabelValue]) -> str:
    if not labels:
        return "(none)"
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in labels.items())


def _describe_decision(decision: Decision) -> str:
    match decision:
        case Accept():
            return "ACCEPT (accept_job_offer)"
        case Decline(retry_at=None):
            return (
                "DECLINE for good (no retryOfferAt: the job is never offered to this worker again "
                "unless the worker re-registers)"
            )
        case Decline(retry_at=retry_at):
            assert retry_at is not None
            return f"DECLINE with retry (retryOfferAt {retry_at.isoformat()}: offered again from then on)"
        case Leave():
            return "LEAVE (no call: someone else answers the offer, or it expires)"


# --- explaining: which rules were tried and why each failed (pure) ---------------------------------


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule fared: ``failed`` is the first condition that did not hold (``None``: it matched)."""

    rule: Rule
    failed: Condition | None


def trace(offer: Offer, policy: Policy, *, now: datetime) -> tuple[RuleTrace, ...]:
    """Evaluate rules in order up to and including the first match, recording why each earlier one failed."""
    traces = []
    for rule in policy.rules:
        failed = next(
            (c for c, p in zip(rule.conditions, rule.predicates, strict=True) if not p(offer, now)), None
        )
        traces.append(RuleTrace(rule, failed))
        if failed is None:
            break
    return tuple(traces)


def describe(condition: Condition) -> str:
    """A one-line, human-readable form of a condition."""
    match condition:
        case OneOf(attribute=attribute, values=values):
            name = {"queue_id": "queue", "channel_id": "channel", "worker_id": "worker"}[attribute]
            return f"{name} is one of {', '.join(sorted(values))}"
        case PriorityRange(minimum=minimum, maximum=maximum):
            low = "-inf" if minimum is None else str(minimum)
            high = "+inf" if maximum is None else str(maximum)
            return f"job priority in [{low}, {high}]"
        case LabelSelector(source=source, key=key, operator=operator, value=value):
            if operator in ("present", "absent"):
                return f"{source} {key!r} is {operator}"
            return f"{source} {key!r} {operator} {json.dumps(value)}"
        case TimeWindow(zone=zone, days=days, start=start, end=end):
            names = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in sorted(days))
            until = "24:00" if end is None else end.strftime("%H:%M")
            return f"local time in {zone.key} on {names} between {start.strftime('%H:%M')} and {until}"
        case MinTimeLeft(seconds=seconds):
            return f"at least {seconds:.15g} s left before the offer expires"
        case _:
            assert_never(condition)
