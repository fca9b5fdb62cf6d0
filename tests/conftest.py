"""Shared test setup: the repository root is importable (function_app, offer_handlers, devstack, tests),
and the hypothesis profile `make mutation` selects."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# `make mutation` runs the tests once per mutant: the same examples each time (a kill that repeats), fewer of
# them (a run of hours, not days), and no per-example deadline (a slow mutant is not a caught one).
settings.register_profile("mutation", max_examples=50, derandomize=True, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
