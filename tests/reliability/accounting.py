"""Accounting for offers from the emulator's event log: every issued offer must end in one known state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from devstack.demo import demo_event as ev

__all__ = ["TERMINAL", "OfferBook"]

#: Event type (short name) -> the offer's final state.
TERMINAL: Final = {
    ev.OFFER_ACCEPTED: "accepted",
    ev.OFFER_DECLINED: "declined",
    ev.OFFER_EXPIRED: "expired",
    ev.OFFER_REVOKED: "revoked",
}


@dataclass(frozen=True, slots=True)
class OfferBook:
    """Offers issued and how each ended, from (type, offer id, job id) triples of the event log."""

    issued: dict[str, str]  # offer id -> job id
    ends: dict[str, list[str]]  # offer id -> final states seen (one expected)

    @classmethod
    def of(cls, events: Iterable[tuple[str, str | None, str | None]]) -> OfferBook:
        issued: dict[str, str] = {}
        ends: dict[str, list[str]] = {}
        for kind, offer_id, job_id in events:
            if offer_id is None:
                continue
            if kind == ev.OFFER_ISSUED:
                issued[offer_id] = job_id or "?"
            elif kind in TERMINAL:
                ends.setdefault(offer_id, []).append(TERMINAL[kind])
        return cls(issued, ends)

    def state(self, offer_id: str) -> str:
        """The offer's one final state, ``open`` while none, ``conflict`` if several."""
        states = self.ends.get(offer_id, [])
        return states[0] if len(states) == 1 else ("open" if not states else "conflict")

    def by_state(self) -> Counter[str]:
        return Counter(self.state(offer_id) for offer_id in self.issued)

    def unaccounted(self) -> list[str]:
        """Offers with no final state, several, or a final state for an offer never issued."""
        bad = [o for o in self.issued if self.state(o) in ("open", "conflict")]
        return bad + [o for o in self.ends if o not in self.issued]

    def for_job(self, job_id: str) -> list[str]:
        return [o for o, j in self.issued.items() if j == job_id]
