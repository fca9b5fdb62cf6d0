"""Loading an OFFER_DECIDER plug-in (``package.module:function``) and checking it at load time.

The plug-in replaces the rule engine and has ``decide``'s signature: ``fn(offer, policy, *, now)``
returning ``Accept``, ``Decline`` or ``Leave``. It is called with the configured policy (or the
built-in accept-all one), so it may use the rules or ignore them.
"""

from __future__ import annotations

import importlib
import inspect
from datetime import datetime

from offer_handlers.decide import Accept, Decider, Decision, Decline, Leave
from offer_handlers.errors import InvalidDeciderError
from offer_handlers.events import Offer
from offer_handlers.policy import Policy

__all__ = ["checked", "load_decider"]


def load_decider(spec: str) -> Decider:
    """Import ``package.module:function`` and return it wrapped so that bad results raise clearly."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name.strip() or not attribute.strip():
        raise InvalidDeciderError(f"OFFER_DECIDER must look like package.module:function, got {spec!r}")
    try:
        module = importlib.import_module(module_name.strip())
    except Exception as err:  # any import-time failure of user code is a configuration error
        raise InvalidDeciderError(
            f"OFFER_DECIDER: cannot import module {module_name.strip()!r}: {err.__class__.__name__}: {err}"
        ) from err
    target: object = module
    for part in attribute.strip().split("."):
        if not hasattr(target, part):
            raise InvalidDeciderError(
                f"OFFER_DECIDER: module {module_name.strip()!r} has no {attribute.strip()!r}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise InvalidDeciderError(f"OFFER_DECIDER: {spec!r} is not callable")
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(object(), object(), now=object())
        except TypeError as err:
            raise InvalidDeciderError(
                f"OFFER_DECIDER: {spec!r} must take (offer, policy, *, now) like offer_handlers.decide: {err}"
            ) from None
    return checked(target, spec)


def checked(function: object, name: str) -> Decider:
    """Wrap a decider so a wrong return value or an exception becomes ``InvalidDeciderError``."""
    assert callable(function)

    def decider(offer: Offer, policy: Policy, /, *, now: datetime) -> Decision:
        try:
            result = function(offer, policy, now=now)
        except Exception as err:
            raise InvalidDeciderError(
                f"OFFER_DECIDER {name!r} raised {err.__class__.__name__}: {err}"
            ) from err
        if not isinstance(result, Accept | Decline | Leave):
            raise InvalidDeciderError(
                f"OFFER_DECIDER {name!r} returned {type(result).__name__}; expected Accept, Decline or Leave"
            )
        return result

    return decider
