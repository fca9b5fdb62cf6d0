"""Parity of the emulator with the live service: Microsoft's recordings replayed (devstack.parity)."""
