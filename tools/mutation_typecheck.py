"""The type check mutmut runs over the mutated package: mypy --strict, as ``make typecheck`` runs it.

mutmut counts a mutant that mypy rejects as "caught by type check": the typecheck gate would refuse
it, so no test needs to. Run from ``mutants/`` (mutmut's copy of the repository), it prints mypy's
JSON report less two kinds of report that come from how mutmut lays out the mutated file, not from
any mutant: ``unused-ignore`` (mutmut's own ``# type: ignore`` comments) and ``no-redef`` (each copy
of an ``__init__`` re-declares the same annotated attributes). The last argument, ``mypy``, is how
mutmut recognises the report's format.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Final

_ARTEFACTS: Final = frozenset({"unused-ignore", "no-redef"})


def main() -> int:
    """Run mypy over ``offer_handlers`` and print its JSON report, artefacts left out."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--output", "json", "offer_handlers"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.strip() and json.loads(line).get("code") not in _ARTEFACTS:
            print(line)
    if done.returncode not in (0, 1):  # 0: clean, 1: type errors; anything else: mypy itself failed
        print(done.stderr, file=sys.stderr)
        return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
