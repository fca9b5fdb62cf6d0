"""Where the recordings and the allow-list live, for the parity specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.parity.known import KnownDifference, load_known
from devstack.parity.recording import Recording, default_recordings_dir, load_recordings

REPO_ROOT = Path(__file__).resolve().parents[2]
#: ``../shared/recordings/jobrouter`` next to the repository (CI mounts it there, read-only).
RECORDINGS_DIR = default_recordings_dir(REPO_ROOT)
KNOWN_FILE = Path(__file__).parent / "known_differences.json"
NO_RECORDINGS = (
    f"the live-service recordings are not at {RECORDINGS_DIR} "
    "(clone next to ../shared/recordings/jobrouter to run the parity replay)"
)


def available_recordings() -> list[Recording]:
    """Every recording, or [] when the folder is absent."""
    return load_recordings(RECORDINGS_DIR) if RECORDINGS_DIR.is_dir() else []


@pytest.fixture(scope="session")
def known() -> tuple[KnownDifference, ...]:
    """The parsed allow-list of known differences."""
    return load_known(KNOWN_FILE)


@pytest.fixture(scope="session")
def recordings() -> dict[str, Recording]:
    """Every recording by name (skips the test when the folder is absent)."""
    found = available_recordings()
    if not found:
        pytest.skip(NO_RECORDINGS)
    return {r.name: r for r in found}
