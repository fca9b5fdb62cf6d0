"""Replay a recording against a fresh in-process emulator and compare every response.

Each recording gets its own :class:`~devstack.jobrouter.EmulatorThread` on a free loopback port. Requests
go out in recorded order through the real SDK client's pipeline (``JobRouterClient.send_request``), so they
are signed exactly as the SDK signs them (its HMAC-SHA256 policy) with the emulator's key.
Before sending, a request is prepared:

- server-made ids bound from earlier responses (offer, assignment ids) are substituted in its path;
- a ``continuationToken`` becomes the emulator's token for the recorded one;
- times in the body or query that were relative to the test run (``scheduleAt``, ``scheduledBefore``)
  are shifted by ``now - recording start`` so that, for example, a job scheduled 30 s ahead is still 30 s
  ahead; times far from the run (``0001-01-01``, a note from 2022) are sent unchanged.

GET requests whose recorded answer depends on timing (a job going ``created`` -> ``queued``, an offer
appearing) are repeated every ``poll_interval`` until they match or ``poll_timeout`` passes; the attempt
with the fewest differences is reported.

Objects that already existed on Microsoft's shared test resource (their first recorded upsert answered 200,
not 201) are *seeded*: upserted with the same body before the replay starts, with run-relative times one
hour earlier, as if left over from an earlier run. With ``seed_preexisting=False`` a 201 is accepted
for those upserts instead.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, unquote

from azure.communication.jobrouter import JobRouterClient
from azure.core.credentials import AzureKeyCredential
from azure.core.rest import HttpRequest

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.parity.compare import (
    ISO_TIME,
    Bindings,
    Context,
    Difference,
    Observed,
    Outcome,
    compare_exchange,
    parse_time,
)
from devstack.parity.recording import Exchange, Recording

__all__ = [
    "ExchangeResult",
    "RecordingResult",
    "ReplaySettings",
    "foreign_only_tokens",
    "replay",
    "shift_times",
]

#: Request times within this distance of the recording's start are relative to the run and get shifted.
_RELATIVE_WINDOW: Final = timedelta(days=1)
#: Seeded objects stand for leftovers of an earlier run: their run-relative times lie this much earlier.
_SEED_AGE: Final = timedelta(hours=1)
#: Job statuses a seeded job must leave before the replay starts.
_PENDING_JOB_STATUSES: Final = frozenset({"created", "pendingClassification", "pendingSchedule"})
_FRACTION: Final = re.compile(r"^.{19}\.(\d+)")


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """Timing knobs of the replay.

    ``processing_delay`` is the emulator's (how long a new job stays ``created``/``pendingClassification``
    or ``pendingSchedule``; the live service took 1-3 s); it must be longer than one request round trip so
    that the recorded intermediate states can be observed at all.
    """

    poll_timeout: float = 2.0
    poll_interval: float = 0.05
    processing_delay: float = 0.5
    #: upsert objects that pre-existed on Microsoft's shared resource before replaying (else accept 201)
    seed_preexisting: bool = True


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    """How one recorded exchange replayed."""

    exchange: Exchange
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: str | None = None  #: why the request was not sent (never a difference)
    attempts: int = 1
    seeded: bool = False  #: the object this upsert addresses was seeded first (it pre-existed live)

    @property
    def matched(self) -> bool:
        """Sent and no differences."""
        return self.skipped is None and not self.differences


@dataclass(frozen=True, slots=True)
class RecordingResult:
    """The replay of one recording."""

    recording: Recording
    results: tuple[ExchangeResult, ...]
    seconds: float

    @property
    def compared(self) -> int:
        """Exchanges that were sent and compared."""
        return sum(1 for r in self.results if r.skipped is None)

    @property
    def matched(self) -> int:
        """Exchanges with no difference."""
        return sum(1 for r in self.results if r.matched)

    @property
    def skipped(self) -> int:
        """Exchanges not sent (pages holding only foreign objects)."""
        return sum(1 for r in self.results if r.skipped is not None)

    def differences(self) -> Iterator[tuple[Exchange, Difference]]:
        """Every difference with its exchange, in order."""
        for result in self.results:
            for difference in result.differences:
                yield result.exchange, difference


@dataclass(frozen=True, slots=True)
class _Prepared:
    target: str
    headers: dict[str, str]
    body: str | None


def replay(recording: Recording, settings: ReplaySettings | None = None) -> RecordingResult:
    """Replay ``recording`` against a fresh emulator and compare every response."""
    settings = settings or ReplaySettings()
    started = time.monotonic()
    config = EmulatorConfig(processing_delay=settings.processing_delay, seed=0)
    with EmulatorThread(config) as emulator:
        client = JobRouterClient(emulator.endpoint, AzureKeyCredential(emulator.access_key), retry_total=0)
        with client:
            results = tuple(_Replayer(recording, settings, client, emulator.endpoint).run())
    return RecordingResult(recording, results, time.monotonic() - started)


class _Replayer:
    """The imperative shell around :func:`compare_exchange` for one recording."""

    def __init__(
        self, recording: Recording, settings: ReplaySettings, client: JobRouterClient, endpoint: str
    ) -> None:
        self.recording = recording
        self.settings = settings
        self.client = client
        self.endpoint = endpoint
        start = recording.started_at
        self.recorded_start = start
        self.shift = (datetime.now(UTC) - start) if start is not None else timedelta(0)
        self.bindings = Bindings()
        self.client_strings: set[str] = set()
        self.client_instants: dict[datetime, datetime] = {}
        self.foreign_only = foreign_only_tokens(recording)
        self.touched: set[tuple[str, str]] = set()
        self.seeded: set[tuple[str, str]] = set()

    def run(self) -> Iterator[ExchangeResult]:
        if self.settings.seed_preexisting:
            self._seed()
        for exchange in self.recording:
            yield self._one(exchange)
            if exchange.resource is not None:
                self.touched.add(exchange.resource)

    # ----------------------------------------------------------------------------- seeding

    def _seed(self) -> None:
        """Upsert every object whose first recorded upsert found it already there (recorded 200)."""
        first: dict[tuple[str, str], Exchange] = {}
        for exchange in self.recording:
            if exchange.resource is not None:
                first.setdefault(exchange.resource, exchange)
        for resource, exchange in first.items():
            if exchange.method != "PATCH" or exchange.status != 200:
                continue
            body = json.dumps(shift_times(exchange.request_body, self._seed_time))
            observed = self._request("PATCH", exchange.target, exchange.request_headers, body)
            if observed.status != 201:
                continue  # not seeded: the replay then accepts 201 for the recorded 200
            self.seeded.add(resource)
            if resource[0] == "jobs":
                self._settle(exchange.target)

    def _settle(self, path: str) -> None:
        """Wait (bounded) until a seeded job has left created/pending* states."""
        deadline = time.monotonic() + self.settings.poll_timeout
        while time.monotonic() < deadline:
            job = self._request("GET", path, {"Accept": "application/json"}, None).body
            if not isinstance(job, dict) or job.get("status") not in _PENDING_JOB_STATUSES:
                return
            time.sleep(self.settings.poll_interval)

    def _seed_time(self, text: str) -> str:
        instant = parse_time(text)
        start = self.recorded_start
        if instant is None or start is None or abs(instant - start) > _RELATIVE_WINDOW:
            return text
        return _format_like(text, instant + self.shift - _SEED_AGE)

    # ----------------------------------------------------------------------------- replay

    def _one(self, exchange: Exchange) -> ExchangeResult:
        token = exchange.continuation_token
        if token is not None and self.bindings.get(token) is None:
            if token in self.foreign_only:
                return ExchangeResult(
                    exchange,
                    skipped="next page of objects that pre-existed on the shared resource "
                    "(the emulator, holding only the test's objects, has no such page)",
                )
            missing = Difference(
                "request", "paging", "a nextLink to follow", "the emulator's previous page had no nextLink"
            )
            return ExchangeResult(exchange, differences=(missing,))
        prepared = self._prepare(exchange)
        resource = exchange.resource
        first_touch = resource is not None and resource not in self.touched
        context = Context(
            own_ids=self.recording.own_ids(exchange.list_collection)
            if exchange.list_collection
            else frozenset(),
            client_strings=frozenset(self.client_strings),
            client_instants=dict(self.client_instants),
            foreign_only_tokens=self.foreign_only,
            accept_created=exchange.method == "PATCH" and first_touch and resource not in self.seeded,
        )
        deadline = time.monotonic() + self.settings.poll_timeout
        attempts = 0
        best: Outcome | None = None
        while True:
            attempts += 1
            observed = self._request(exchange.method, prepared.target, prepared.headers, prepared.body)
            outcome = compare_exchange(exchange, observed, self.bindings, context)
            if best is None or len(outcome.differences) < len(best.differences):
                best = outcome
            if outcome.matched or exchange.method != "GET" or time.monotonic() >= deadline:
                break
            time.sleep(self.settings.poll_interval)
        self.bindings = best.bindings
        seeded = first_touch and resource in self.seeded
        return ExchangeResult(exchange, best.differences, best.notes, attempts=attempts, seeded=seeded)

    # --------------------------------------------------------------------------- requests

    def _prepare(self, exchange: Exchange) -> _Prepared:
        path, _, query = exchange.target.partition("?")
        path = self.bindings.substitute(path)
        self.client_strings.update(unquote(segment) for segment in path.split("/") if segment)
        pairs = []
        for raw in query.split("&") if query else []:
            name, _, value = raw.partition("=")
            decoded = unquote(value)
            if name == "continuationToken":
                value = quote(self.bindings.get(decoded) or decoded)
            elif ISO_TIME.match(decoded):
                value = quote(self._time(decoded), safe="")
            self.client_strings.add(unquote(value))
            pairs.append(f"{name}={value}")
        target = path + ("?" + "&".join(pairs) if pairs else "")
        body: str | None = None
        if exchange.request_body is not None:
            shifted = shift_times(exchange.request_body, self._time)
            self.client_strings.update(_strings(shifted))
            body = json.dumps(shifted)
        return _Prepared(target, dict(exchange.request_headers), body)

    def _time(self, text: str) -> str:
        """The time to send for a recorded one (shifted if relative to the run); remembers the mapping."""
        instant = parse_time(text)
        if instant is None:
            return text
        sent_text = text
        start = self.recorded_start
        if start is not None and abs(instant - start) <= _RELATIVE_WINDOW:
            sent_text = _format_like(text, instant + self.shift)
        sent = parse_time(sent_text)
        if sent is not None:
            self.client_instants[instant] = sent
        return sent_text

    def _request(self, method: str, target: str, headers: Mapping[str, str], body: str | None) -> Observed:
        request = HttpRequest(method, self.endpoint + target, headers=dict(headers), content=body)
        response = self.client.send_request(request)
        text = response.text()
        decoded: Any = None
        if text.strip():
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                decoded = text
        return Observed(response.status_code, dict(response.headers), decoded)


def foreign_only_tokens(recording: Recording) -> frozenset[str]:
    """Recorded continuation tokens that the test followed and whose pages hold none of its own objects.

    A token the test never followed is not in the set: nothing shows what its page held.
    """
    pages = {e.continuation_token: e for e in recording if e.continuation_token is not None}

    def foreign_only(token: str, seen: frozenset[str]) -> bool:
        page = pages.get(token)
        if page is None or token in seen or not isinstance(page.response_body, dict):
            return False
        collection = page.list_collection
        own = recording.own_ids(collection) if collection else frozenset()
        if any(isinstance(i, dict) and i.get("id") in own for i in page.response_body.get("value", [])):
            return False
        following = _token_of(page.response_body.get("nextLink"))
        return following is None or following not in pages or foreign_only(following, seen | {token})

    return frozenset(t for t in pages if foreign_only(t, frozenset()))


def shift_times(value: Any, convert: Any) -> Any:
    """``value`` with every ISO-8601 string replaced by ``convert(text)`` (recursively)."""
    if isinstance(value, dict):
        return {k: shift_times(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_times(v, convert) for v in value]
    if isinstance(value, str) and ISO_TIME.match(value):
        return convert(value)
    return value


def _token_of(next_link: Any) -> str | None:
    if not isinstance(next_link, str) or "continuationToken=" not in next_link:
        return None
    return unquote(next_link.split("continuationToken=", 1)[1].split("&", 1)[0])


def _format_like(original: str, instant: datetime) -> str:
    """``instant`` written the way ``original`` was (as many fraction digits, ``Z`` or ``+00:00``)."""
    utc = instant.astimezone(UTC)
    text = f"{utc:%Y-%m-%dT%H:%M:%S}"
    fraction = _FRACTION.match(original)
    if fraction:
        digits = len(fraction[1])
        text += "." + f"{utc.microsecond:06d}".ljust(digits, "0")[:digits]
    return text + ("Z" if original.endswith("Z") else "+00:00")


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value
