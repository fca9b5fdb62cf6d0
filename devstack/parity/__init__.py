"""Parity of the Job Router emulator with the live service: replay Microsoft's recorded SDK traffic.

``python -m devstack.parity`` replays every recording in ``../shared/recordings/jobrouter`` against a
fresh emulator, prints a table per recording and writes docs/parity.md. The rules are in that document.
"""
