"""Parity of the Job Router emulator with the live service: replay Microsoft's recorded SDK traffic.

``python -m devstack.parity`` replays every recording (Microsoft's, from a ``shared/recordings/jobrouter``
folder next to the repository when there is one, else the bundle committed in tests/parity/recordings/)
against a fresh emulator, prints a table per recording and writes docs/parity.md. The rules are in that
document.
"""
