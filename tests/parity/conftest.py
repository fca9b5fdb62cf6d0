"""Where the recordings and the allow-list live, for the parity specs.

The recordings are the original folder (``shared/recordings/jobrouter`` next to the repository, where CI
mounts it) when it is there, else the bundle committed in the repository (tests/parity/recordings/README.md),
which holds everything the replay reads: both give the same results.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from devstack.parity.known import KnownDifference, load_known
from devstack.parity.recording import Recording, default_recordings, load_recordings

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = default_recordings(REPO_ROOT)
KNOWN_FILE = Path(__file__).parent / "known_differences.json"
NO_RECORDINGS = f"the live-service recordings are not at {RECORDINGS}"


def available_recordings() -> list[Recording]:
    """Every recording, or [] when neither the folder nor the committed bundle is there."""
    return load_recordings(RECORDINGS) if RECORDINGS.exists() else []


def recording_text(recording: Recording) -> str:
    """The recording's test-proxy JSON text, from its own file or from the bundle that holds it."""
    if recording.file.is_file():
        return recording.file.read_text(encoding="utf-8")
    with gzip.open(recording.file.parent, "rt", encoding="utf-8") as bundle:
        return json.dumps(json.load(bundle)[recording.file.name], indent=2, ensure_ascii=False)


@pytest.fixture(scope="session")
def known() -> tuple[KnownDifference, ...]:
    """The parsed allow-list of known differences."""
    return load_known(KNOWN_FILE)


@pytest.fixture(scope="session")
def recordings() -> dict[str, Recording]:
    """Every recording by name (skips the test when there are none)."""
    found = available_recordings()
    if not found:
        pytest.skip(NO_RECORDINGS)
    return {r.name: r for r in found}
