"""Fault injection rules for the REST API (never applied to ``/admin``).

A :class:`FaultRule` matches a request by method and a regular expression searched in the path, and then
either answers with a given status (optional ``Retry-After`` and body), delays the request by some
milliseconds before handling it normally, or drops the connection without an answer. It applies to the
next ``times`` matching calls (None = unlimited) and to each with ``probability`` (a fraction of calls).
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["FaultAction", "FaultRule", "FaultSet"]

FaultAction = Literal["status", "delay", "drop"]


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault: what it matches, what it does and how often."""

    method: str
    path: str
    action: FaultAction
    status: int = 503
    retry_after: float | None = None
    body: Any = None
    delay_ms: int = 0
    times: int | None = None
    probability: float = 1.0
    id: str = ""
    hits: int = 0
    _pattern: re.Pattern[str] = field(default=re.compile(""), repr=False, compare=False)

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> FaultRule:
        """Parse the admin API's JSON (camelCase); ValueError names the bad field."""
        known = {"method", "path", "status", "retryAfter", "body", "delayMs", "drop", "times", "probability"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(
                f"unknown fault field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        method = str(spec.get("method", "*")).upper()
        path = spec.get("path", ".*")
        if not isinstance(path, str):
            raise ValueError("'path' must be a regular expression string")
        # An identity check: a delay of 0 ms is a fault (useful for counting requests), yet 0 == False.
        actions = [
            a for a in ("status", "delayMs", "drop") if spec.get(a) is not None and spec.get(a) is not False
        ]
        if len(actions) != 1:
            raise ValueError("give exactly one of 'status', 'delayMs' or 'drop': true")
        action: FaultAction = {"status": "status", "delayMs": "delay", "drop": "drop"}[actions[0]]  # type: ignore[assignment]
        status = spec.get("status", 503)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"'status' must be an HTTP status code, got {status!r}")
        delay = spec.get("delayMs", 0)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise ValueError(f"'delayMs' must be a non-negative number, got {delay!r}")
        times = spec.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError(f"'times' must be a positive integer or null, got {times!r}")
        probability = spec.get("probability", 1.0)
        if (
            not isinstance(probability, int | float)
            or isinstance(probability, bool)
            or not 0 < probability <= 1
        ):
            raise ValueError(f"'probability' must be in (0, 1], got {probability!r}")
        retry_after = spec.get("retryAfter")
        if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
            raise ValueError(f"'retryAfter' must be a non-negative number of seconds, got {retry_after!r}")
        return cls.create(
            method=method,
            path=path,
            action=action,
            status=status,
            retry_after=retry_after,
            body=spec.get("body"),
            delay_ms=int(delay),
            times=times,
            probability=float(probability),
        )

    @classmethod
    def create(cls, *, method: str = "*", path: str = ".*", action: FaultAction, **kwargs: Any) -> FaultRule:
        """Build a rule, compiling ``path`` (ValueError if it is not a valid regex)."""
        try:
            pattern = re.compile(path)
        except re.error as exc:
            raise ValueError(f"'path' is not a valid regular expression: {exc}") from None
        return cls(method=method.upper(), path=path, action=action, _pattern=pattern, **kwargs)

    def matches(self, method: str, path: str) -> bool:
        """Method (``*`` = any) and path regex."""
        return self.method in ("*", method.upper()) and self._pattern.search(path) is not None

    def as_json(self) -> dict[str, Any]:
        """The admin API's view of the rule."""
        out: dict[str, Any] = {"id": self.id, "method": self.method, "path": self.path, "action": self.action}
        if self.action == "status":
            out["status"] = self.status
            if self.retry_after is not None:
                out["retryAfter"] = self.retry_after
            if self.body is not None:
                out["body"] = self.body
        elif self.action == "delay":
            out["delayMs"] = self.delay_ms
        out["times"] = self.times
        out["probability"] = self.probability
        out["hits"] = self.hits
        return out


class FaultSet:
    """The active rules; thread-safe so a test thread can change them while the server runs."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rng = rng or random.Random()

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule (first added, first checked); returns it with its id."""
        with self._lock:
            rule = replace(rule, id=str(next(self._ids)))
            self._rules.append(rule)
            return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; False if there was none with that id."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        """The rules as they are now."""
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first rule that applies to this call (counting it), or None."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                used = replace(rule, hits=rule.hits + 1, times=None if rule.times is None else rule.times - 1)
                if used.times == 0:
                    del self._rules[index]
                else:
                    self._rules[index] = used
                return used
            return None
