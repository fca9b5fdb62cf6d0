"""The offer handler's exceptions: one base, a few narrow subclasses, context as attributes.

Hierarchy::

    OfferHandlerError            base of everything this package raises on purpose
    ├── InvalidEventError        the event payload is malformed (.field, .event_id); acknowledged, not retried
    ├── InvalidPolicyError       the policy document is invalid (.rule, .field); raised when it is loaded
    ├── InvalidFleetError        the fleet document is invalid (.worker, .field); raised when it is loaded
    ├── InvalidCasesError        a policy test-cases document is invalid (.case, .field); the check CLI
    ├── ConfigurationError       a setting is missing or wrong, or Job Router refused the credentials or the
    │   │                        request (401/403/other 4xx); .setting names what to check, never its value
    │   └── InvalidDeciderError  OFFER_DECIDER cannot be loaded, or the plug-in misbehaved at run time
    └── RetryableServiceError    429, 5xx, timeouts, connection errors (.status_code); raised so that
        │                        Event Grid redelivers the event
        └── WorkerChangedError   a declared worker changed between the app's read and its write (HTTP 412)
                                 and still needs repair (.worker_id); never overwritten blindly

Azure SDK exceptions are mapped onto this tree in ``offer_handlers.execute`` (and, for the conflicts only
a worker write has, 404/409/412, in ``offer_handlers.repair_execute``, which delegates the rest to it).
Messages never contain secrets: no access key, connection string or token, only the names of settings.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidCasesError",
    "InvalidDeciderError",
    "InvalidEventError",
    "InvalidFleetError",
    "InvalidPolicyError",
    "OfferHandlerError",
    "RetryableServiceError",
    "WorkerChangedError",
]


class OfferHandlerError(Exception):
    """Base class of every error the offer handler raises on purpose."""


class InvalidEventError(OfferHandlerError):
    """An event payload is malformed: ``field`` names the offending wire field (dotted path)."""

    def __init__(self, message: str, *, field: str, event_id: str | None = None) -> None:
        self.field = field
        self.event_id = event_id
        self.message = message
        where = f"event {event_id!r}" if event_id else "event"
        super().__init__(f"{where}: field {field!r}: {message}")


class InvalidPolicyError(OfferHandlerError):
    """The policy document is invalid: ``rule`` is the rule's name (or position), ``field`` a dotted path."""

    def __init__(self, message: str, *, rule: str | None = None, field: str | None = None) -> None:
        self.rule = rule
        self.field = field
        self.message = message
        parts = ["policy"]
        if rule is not None:
            parts.append(f"rule {rule!r}")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(f"{' '.join(parts)}: {message}")


class InvalidFleetError(OfferHandlerError):
    """The fleet document is invalid: ``worker`` is the worker's id (or position), ``field`` a dotted path."""

    def __init__(self, message: str, *, worker: str | None = None, field: str | None = None) -> None:
        self.worker = worker
        self.field = field
        self.message = message
        parts = ["fleet"]
        if worker is not None:
            parts.append(f"worker {worker!r}")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(f"{' '.join(parts)}: {message}")


class InvalidCasesError(OfferHandlerError):
    """A test-cases document is invalid: ``case`` is the case's name (or position), ``field`` a path."""

    def __init__(self, message: str, *, case: str | None = None, field: str | None = None) -> None:
        self.case = case
        self.field = field
        self.message = message
        parts = ["cases"]
        if case is not None:
            parts.append(f"case {case!r}")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(f"{' '.join(parts)}: {message}")


class ConfigurationError(OfferHandlerError):
    """An app setting is missing or wrong; ``setting`` names the setting(s) to check, never a value."""

    def __init__(self, message: str, *, setting: str | None = None, status_code: int | None = None) -> None:
        self.setting = setting
        self.status_code = status_code
        super().__init__(message)


class InvalidDeciderError(ConfigurationError):
    """The OFFER_DECIDER plug-in cannot be loaded, or returned something that is not a decision."""

    def __init__(self, message: str) -> None:
        super().__init__(message, setting="OFFER_DECIDER")


class RetryableServiceError(OfferHandlerError):
    """A transient failure (429, 5xx, timeout, connection error): raised so Event Grid redelivers."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class WorkerChangedError(RetryableServiceError):
    """A declared worker changed under the app (HTTP 412) and, read again, still needs repair."""

    def __init__(self, message: str, *, worker_id: str, status_code: int | None = 412) -> None:
        self.worker_id = worker_id
        super().__init__(message, status_code=status_code)
