"""Compare one emulator response with the live service's recorded response (pure; no I/O, no clock).

What is compared (the rules of docs/parity.md):

- the status code (a recorded 200 on the first upsert of an object that already existed on Microsoft's
  shared resource is satisfied by 201: a fresh emulator cannot hold objects from earlier runs);
- the headers the service always sends (``api-supported-versions``, ``Content-Type``, ``X-Cache``,
  ``Request-Context``) and where ``ETag``/``Last-Modified`` appear;
- the JSON body: the same keys at every level in the same order, the same JSON types, equal values;
- server-made values by format only: ``etag`` is opaque, ids are GUIDs, times are ISO-8601 with an offset.
  A server id is *bound* the first time it is seen (recorded value -> emulator value) and must stay the same
  later (an offer id in ``worker.offers`` and in the accept URL, an assignment id as a map key, ...). A
  recorded time that the client itself sent must come back as the same instant (after the replay's shift);
- list pages: only items carrying the test's own ids (the shared resource holds foreign objects), in the
  same order; ``nextLink`` is relative, ``/routing/<collection>?continuationToken=...``, and missing on the
  last page. A recorded ``nextLink`` that only leads to foreign objects may be missing in the emulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import unquote

from devstack.parity.recording import Exchange

__all__ = [
    "GUID",
    "ISO_TIME",
    "Bindings",
    "Context",
    "Difference",
    "Observed",
    "Outcome",
    "compare_exchange",
    "parse_time",
]

GUID: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: Any ISO-8601 date-time as the SDK or the service writes it.
ISO_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$")
#: What the service writes: an explicit numeric offset, at most 7 fraction digits (100 ns ticks).
SERVICE_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?[+-]\d{2}:\d{2}$")
_NEXT_LINK: Final = re.compile(r"^/routing/(?P<collection>\w+)\?continuationToken=(?P<token>[^&]+)$")
#: Offer ``expiresAt - offeredAt`` must match the recording within this many seconds.
_INTERVAL_TOLERANCE: Final = 1.0

#: Response headers compared by value (present in both or in neither).
_EXACT_HEADERS: Final = ("api-supported-versions", "Content-Type", "X-Cache", "Request-Context")
#: Response headers compared by presence only (their values are sanitised or time-dependent).
_PRESENCE_HEADERS: Final = ("ETag", "Last-Modified")


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the emulator's response differs from the recording."""

    where: str  #: ``status``, ``headers.ETag``, ``body.labels``, ``body.value[w_1].offers[0].offerId``, ...
    kind: str  #: ``status``, ``missing key``, ``unexpected key``, ``key order``, ``type``, ``value``, ...
    expected: str
    actual: str

    def describe(self) -> str:
        """``body.labels: key order (recorded Id,a; emulator a,Id)``."""
        return f"{self.where}: {self.kind} (recorded {self.expected}; emulator {self.actual})"


@dataclass(frozen=True, slots=True)
class Observed:
    """The emulator's response: status, headers (any case) and decoded JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        """A header value, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class Bindings:
    """Server-made values seen so far: recorded value -> emulator value (ids and continuation tokens)."""

    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, recorded: str) -> str | None:
        """The emulator's value for a recorded one, if bound."""
        return self.values.get(recorded)

    def owner(self, emulated: str) -> str | None:
        """The recorded value an emulator value is bound to, if any."""
        return next((r for r, e in self.values.items() if e == emulated), None)

    def with_values(self, new: Mapping[str, str]) -> Bindings:
        """A copy with ``new`` added."""
        return Bindings({**self.values, **new}) if new else self

    def substitute(self, text: str) -> str:
        """``text`` with every bound recorded value replaced by the emulator's."""
        for recorded, emulated in self.values.items():
            if recorded in text:
                text = text.replace(recorded, emulated)
        return text


@dataclass(frozen=True, slots=True)
class Context:
    """What the comparison of one exchange needs to know about the recording so far."""

    #: ids the test addressed in the listed collection (for list pages)
    own_ids: frozenset[str] = frozenset()
    #: every string the client sent up to this exchange (a GUID among them is not server-made)
    client_strings: frozenset[str] = frozenset()
    #: recorded instants the client sent -> the instants the replay sent instead (time shift)
    client_instants: Mapping[datetime, datetime] = field(default_factory=dict)
    #: recorded continuation tokens whose later pages hold only foreign objects
    foreign_only_tokens: frozenset[str] = frozenset()
    #: the recorded 200 is the first upsert of an object that pre-existed on the shared resource
    accept_created: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of comparing one exchange."""

    differences: tuple[Difference, ...]
    bindings: Bindings
    notes: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        """No differences."""
        return not self.differences


def parse_time(text: str) -> datetime | None:
    """The instant of an ISO-8601 string (None if it is not one)."""
    if not ISO_TIME.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def compare_exchange(exchange: Exchange, observed: Observed, bindings: Bindings, context: Context) -> Outcome:
    """Every difference between the recorded response of ``exchange`` and ``observed``."""
    return _Comparison(exchange, bindings, context).run(observed)


class _Comparison:
    """One comparison's working state; :func:`compare_exchange` is the pure entry point."""

    def __init__(self, exchange: Exchange, bindings: Bindings, context: Context) -> None:
        self.exchange = exchange
        self.bindings = bindings
        self.context = context
        self.new: dict[str, str] = {}
        self.differences: list[Difference] = []
        self.notes: list[str] = []

    def run(self, observed: Observed) -> Outcome:
        if self._status(observed):
            self._headers(observed)
            self._body(observed.body)
        return Outcome(tuple(self.differences), self.bindings.with_values(self.new), tuple(self.notes))

    # ------------------------------------------------------------------------ helpers

    def _diff(self, where: str, kind: str, expected: Any, actual: Any) -> None:
        self.differences.append(Difference(where, kind, _show(expected), _show(actual)))

    def _lookup(self, recorded: str) -> str | None:
        return self.new.get(recorded) or self.bindings.get(recorded)

    def _owner(self, emulated: str) -> str | None:
        return next((r for r, e in self.new.items() if e == emulated), None) or self.bindings.owner(emulated)

    def _bind(self, recorded: str, emulated: str, where: str) -> None:
        bound = self._lookup(recorded)
        if bound is not None:
            if bound != emulated:
                self._diff(where, "value", f"the id bound earlier ({bound})", emulated)
            return
        owner = self._owner(emulated)
        if owner is not None:
            self._diff(
                where, "id reuse", f"a new id (recorded {recorded})", f"{emulated}, already used for {owner}"
            )
            return
        self.new[recorded] = emulated

    def _substitute(self, text: str) -> str:
        return self.bindings.with_values(self.new).substitute(text)

    # ------------------------------------------------------------------------ status, headers

    def _status(self, observed: Observed) -> bool:
        """Compare the status; False when the body comparison would only be noise."""
        recorded = self.exchange.status
        if observed.status == recorded:
            return True
        if recorded == 200 and observed.status == 201 and self.context.accept_created:
            self.notes.append(
                "201 accepted for the recorded 200: the object already existed on the shared resource"
            )
            return True
        detail = str(observed.status)
        if isinstance(observed.body, dict) and isinstance(observed.body.get("communicationError"), dict):
            error = observed.body["communicationError"]
            detail = f"{observed.status} {error.get('code')}: {error.get('message')}"
        self._diff("status", "status", recorded, detail)
        return False

    def _headers(self, observed: Observed) -> None:
        recorded = {k.lower(): v for k, v in self.exchange.response_headers.items()}
        for name in (*_EXACT_HEADERS, *_PRESENCE_HEADERS):
            want = recorded.get(name.lower())
            got = observed.header(name)
            where = f"headers.{name}"
            if want is None and got is not None:
                self._diff(where, "unexpected header", "absent", got)
            elif want is not None and got is None:
                self._diff(where, "missing header", want, "absent")
            elif want is not None and got is not None:
                if name in _EXACT_HEADERS and want != got:
                    self._diff(where, "value", want, got)
                if name == "Last-Modified" and not _is_http_date(got):
                    self._diff(where, "format", "RFC 1123 date", got)

    # ----------------------------------------------------------------------------- body

    def _body(self, actual: Any) -> None:
        expected = self.exchange.response_body
        if expected is None:
            if actual is not None:
                self._diff("body", "unexpected body", "no body", actual)
            return
        if self.exchange.list_collection is not None and isinstance(expected, dict):
            self._page(expected, actual)
            return
        self._value(expected, actual, "body", key=None)

    def _page(self, expected: Mapping[str, Any], actual: Any) -> None:
        """A list page: own items in order, then the nextLink rules."""
        if not isinstance(actual, dict):
            self._diff("body", "type", "object", _type(actual))
            return
        rest_expected = {k: v for k, v in expected.items() if k not in ("value", "nextLink")}
        rest_actual = {k: v for k, v in actual.items() if k not in ("value", "nextLink")}
        self._object(rest_expected, rest_actual, "body")
        own = self.context.own_ids
        want = [i for i in expected.get("value", []) if isinstance(i, dict) and i.get("id") in own]
        got_all = actual.get("value")
        if not isinstance(got_all, list):
            self._diff("body.value", "type", "array", _type(got_all))
            return
        got = [i for i in got_all if isinstance(i, dict) and i.get("id") in own]
        foreign = [i.get("id") if isinstance(i, dict) else i for i in got_all if i not in got]
        if foreign:
            self._diff("body.value", "unexpected item", "only the test's own objects", foreign)
        want_ids = [i["id"] for i in want]
        got_ids = [i["id"] for i in got]
        if want_ids != got_ids:
            self._diff("body.value", "items", want_ids, got_ids)
        by_id = {i["id"]: i for i in got}
        for item in want:
            if item["id"] in by_id:
                self._value(item, by_id[item["id"]], f"body.value[{item['id']}]", key=None)
        self._next_link(expected.get("nextLink"), actual.get("nextLink"))

    def _next_link(self, expected: Any, actual: Any) -> None:
        collection = self.exchange.list_collection
        where = "body.nextLink"
        got_token: str | None = None
        if actual is not None:
            match = _NEXT_LINK.match(actual) if isinstance(actual, str) else None
            if match is None or match["collection"] != collection:
                self._diff(where, "format", f"/routing/{collection}?continuationToken=<token>", actual)
            else:
                got_token = unquote(match["token"])
        want_match = _NEXT_LINK.match(expected) if isinstance(expected, str) else None
        want_token = unquote(want_match["token"]) if want_match else None
        if want_token is None:
            if actual is not None:
                self._diff(where, "unexpected key", "no nextLink (last page)", actual)
            return
        if got_token is not None:
            self._bind(want_token, got_token, where)
        elif actual is None:
            if want_token in self.context.foreign_only_tokens:
                self.notes.append(
                    "no nextLink accepted: the recorded next pages hold only objects that pre-existed "
                    "on the shared resource"
                )
            else:
                self._diff(where, "missing key", expected, "no nextLink")

    def _value(self, expected: Any, actual: Any, where: str, key: str | None) -> None:
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                self._diff(where, "type", "object", _type(actual))
            else:
                self._object(expected, actual, where)
            return
        if isinstance(expected, list):
            if not isinstance(actual, list):
                self._diff(where, "type", "array", _type(actual))
                return
            if len(expected) != len(actual):
                self._diff(where, "length", len(expected), len(actual))
            for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
                self._value(e, a, f"{where}[{i}]", key=None)
            return
        if _type(expected) != _type(actual):
            self._diff(
                where, "type", f"{_type(expected)} {_show(expected)}", f"{_type(actual)} {_show(actual)}"
            )
            return
        if isinstance(expected, str):
            self._string(expected, actual, where, key)
        elif expected != actual:
            self._diff(where, "value", expected, actual)

    def _string(self, expected: str, actual: str, where: str, key: str | None) -> None:
        if key == "etag":
            if not actual:
                self._diff(where, "value", "a non-empty etag", actual)
            return
        if GUID.match(expected) and expected not in self.context.client_strings:
            if not GUID.match(actual):
                self._diff(where, "format", "a GUID", actual)
            else:
                self._bind(expected, actual, where)
            return
        instant = parse_time(expected)
        if instant is not None:
            self._time(expected, instant, actual, where)
            return
        want = self._substitute(expected)
        if want != actual:
            self._diff(where, "value", want, actual)

    def _time(self, expected: str, instant: datetime, actual: str, where: str) -> None:
        got = parse_time(actual)
        if got is None or (SERVICE_TIME.match(expected) and not SERVICE_TIME.match(actual)):
            self._diff(where, "format", "ISO-8601 with a numeric offset", actual)
            return
        sent = self.context.client_instants.get(instant)
        if sent is not None and got != sent:
            self._diff(where, "value", f"the instant the client sent ({sent.isoformat()})", actual)

    def _object(self, expected: Mapping[str, Any], actual: Mapping[str, Any], where: str) -> None:
        keys = self._key_map(expected, actual, where)
        present = [k for k in expected if keys[k] in actual]
        for k in expected:
            if keys[k] not in actual:
                self._diff(f"{where}.{k}", "missing key", expected[k], "absent")
        mapped = set(keys.values())
        for k in actual:
            if k not in mapped:
                self._diff(f"{where}.{k}", "unexpected key", "absent", actual[k])
        want_order = [keys[k] for k in present]
        got_order = [k for k in actual if k in mapped and k in set(want_order)]
        if want_order != got_order:
            self._diff(where, "key order", ",".join(present), ",".join(self._recorded_names(got_order, keys)))
        for k in present:
            self._value(expected[k], actual[keys[k]], f"{where}.{k}", key=k)
        self._offer_interval(expected, actual, where)

    def _key_map(self, expected: Mapping[str, Any], actual: Mapping[str, Any], where: str) -> dict[str, str]:
        """Recorded key -> emulator key; server-made GUID keys (assignment ids) are bound like values."""
        keys: dict[str, str] = {}
        pending: list[str] = []
        for k in expected:
            bound = self._lookup(k)
            if bound is not None:
                keys[k] = bound
            elif GUID.match(k) and k not in self.context.client_strings:
                pending.append(k)
            else:
                keys[k] = k
        taken = set(keys.values())
        free = [k for k in actual if k not in taken and GUID.match(k) and self._owner(k) is None]
        for recorded, emulated in zip(pending, free, strict=False):
            self._bind(recorded, emulated, f"{where}.{recorded}")
            keys[recorded] = emulated
        for recorded in pending[len(free) :]:
            keys[recorded] = recorded
        return keys

    @staticmethod
    def _recorded_names(emulator_keys: Iterable[str], keys: Mapping[str, str]) -> list[str]:
        back = {v: k for k, v in keys.items()}
        return [back.get(k, k) for k in emulator_keys]

    def _offer_interval(self, expected: Mapping[str, Any], actual: Mapping[str, Any], where: str) -> None:
        """``expiresAt - offeredAt`` is the policy's offer expiry: it must match the recording."""
        spans = [_span(obj.get("offeredAt"), obj.get("expiresAt")) for obj in (expected, actual)]
        want, got = spans
        if want is not None and got is not None and abs(want - got) > _INTERVAL_TOLERANCE:
            self._diff(
                f"{where}.expiresAt", "interval", f"offeredAt + {want:.3f}s", f"offeredAt + {got:.3f}s"
            )


def _span(start: Any, end: Any) -> float | None:
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    a, b = parse_time(start), parse_time(end)
    return None if a is None or b is None else (b - a).total_seconds()


_JSON_TYPES: Final = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
)


def _type(value: Any) -> str:
    """The JSON type name (``integer`` and ``number`` apart: the service writes ``10.0`` as ``10``)."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def _show(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_http_date(text: str) -> bool:
    try:
        parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return False
    return text.endswith(" GMT")
