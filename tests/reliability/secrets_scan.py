"""Every log line of the reliability run, scanned for secrets as it is written.

:class:`SecretScanner` is a logging handler on the root logger at DEBUG (azure-core's HTTP logging
included). It keeps no lines, only a count and the lines that held a secret (with the secret cut out),
so a 10,000-job run costs no memory. Child processes' log files are scanned with :meth:`scan_file`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from devstack.jobrouter.config import DEV_ACCESS_KEY
from tests.fixtures.http import ACCESS_KEY, TOKEN

__all__ = ["BEARER_TOKEN", "SECRETS", "Leak", "SecretScanner"]

#: The bearer token the Entra ID run hands out (see test_secrets_never_logged.py); never to be logged.
BEARER_TOKEN: Final = TOKEN
#: Everything that must never appear: both access keys, any connection string carrying them, the token.
SECRETS: Final[tuple[str, ...]] = (
    DEV_ACCESS_KEY,
    ACCESS_KEY,
    f"accesskey={DEV_ACCESS_KEY}",
    f"accesskey={ACCESS_KEY}",
    BEARER_TOKEN,
)
#: The one documented exception: the emulator's start-up line prints the connection string of the *public*
#: development key (like Azurite's account key; never for a key you pass it). Counted, not a leak.
_DEV_KEY_BANNER: Final = re.compile(
    r"^Job Router emulator listening on \S+ \(development key\) connection string: endpoint=\S+;accesskey="
    + re.escape(DEV_ACCESS_KEY)
    + "$"
)
#: An HMAC signature or a bearer header value, whatever the key or token.
_CREDENTIAL_SHAPES: Final = re.compile(r"Signature=[A-Za-z0-9+/=]{20,}|Bearer\s+[A-Za-z0-9._-]{20,}")


@dataclass(frozen=True, slots=True)
class Leak:
    """Where a secret was seen (the text shown has the secret replaced)."""

    source: str
    text: str


@dataclass
class _Totals:
    lines: int = 0
    records: int = 0
    files: int = 0
    leaks: list[Leak] = field(default_factory=list)
    dev_key_banners: int = 0
    sources: dict[str, int] = field(default_factory=dict)


class SecretScanner(logging.Handler):
    """Counts and scans every log record it sees, and any file handed to :meth:`scan_file`."""

    def __init__(self, extra_secrets: Iterable[str] = ()) -> None:
        super().__init__(level=logging.DEBUG)
        self._secrets = tuple(s for s in (*SECRETS, *extra_secrets) if s)
        self._totals = _Totals()
        self._lock_totals = threading.Lock()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a bad record is the logger's problem, not a reason to miss the rest
            text = f"{record.msg!r} {record.args!r}"
        self._scan(f"log:{record.name}", text, records=1)

    def scan_file(self, path: Path) -> None:
        """Scan a child process's log file (each line counts)."""
        text = path.read_text(encoding="utf-8", errors="replace")
        with self._lock_totals:
            self._totals.files += 1
        self._scan(f"file:{path.name}", text, records=0)

    def _scan(self, source: str, text: str, *, records: int) -> None:
        lines = text.count("\n") + 1
        banners = sum(1 for line in text.splitlines() if _DEV_KEY_BANNER.match(line.strip()))
        leaks = [
            Leak(source, self._cut(line))
            for line in text.splitlines()
            if self._holds_secret(line) and not _DEV_KEY_BANNER.match(line.strip())
        ]
        with self._lock_totals:
            totals = self._totals
            totals.dev_key_banners += banners
            totals.lines += lines
            totals.records += records
            kind = source.split(":", 1)[0]
            totals.sources[kind] = totals.sources.get(kind, 0) + lines
            totals.leaks.extend(leaks)

    def _holds_secret(self, line: str) -> bool:
        return any(secret in line for secret in self._secrets) or bool(_CREDENTIAL_SHAPES.search(line))

    def _cut(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, "<SECRET>")
        return _CREDENTIAL_SHAPES.sub("<CREDENTIAL>", line)[:300]

    @property
    def lines(self) -> int:
        with self._lock_totals:
            return self._totals.lines

    @property
    def records(self) -> int:
        with self._lock_totals:
            return self._totals.records

    @property
    def files(self) -> int:
        with self._lock_totals:
            return self._totals.files

    @property
    def leaks(self) -> list[Leak]:
        with self._lock_totals:
            return list(self._totals.leaks)

    @property
    def dev_key_banners(self) -> int:
        """Emulator start-up lines that print the public development key's connection string."""
        with self._lock_totals:
            return self._totals.dev_key_banners

    def lines_by_source(self) -> dict[str, int]:
        with self._lock_totals:
            return dict(self._totals.sources)
