"""``python -m devstack.demo.child MODULE ARGS...``: ``python -m MODULE ARGS...`` that dies with its parent.

The orchestrator stops its children itself (SIGTERM to each process group, SIGKILL after a grace period),
also on errors and Ctrl-C. Only a SIGKILL of the orchestrator skips that; for that case each child asks the
Linux kernel for a SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), which both the emulator and the
host handle as a clean stop. Elsewhere this is a plain ``runpy`` launcher.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import signal
import sys
from typing import Final

__all__ = ["PARENT_PID_ENV", "main"]

PARENT_PID_ENV: Final = "DEVSTACK_PARENT_PID"
_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent(parent_pid: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    # The parent may have died before prctl took effect: then we were re-parented already.
    if parent_pid and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    """Run the module named by the first argument as ``__main__`` with the remaining arguments."""
    if len(sys.argv) < 2:
        print("usage: python -m devstack.demo.child MODULE [ARGS...]", file=sys.stderr)
        raise SystemExit(2)
    parent = os.environ.pop(PARENT_PID_ENV, "")
    _die_with_parent(int(parent) if parent.isdigit() else 0)
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
