"""The recordings the replay reads: the original folder when it is there, else the bundle committed in the
repository, which holds everything the replay reads from the originals (so both replay the same)."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest

from devstack.parity import compare, recording
from devstack.parity.recording import (
    COMMITTED_BUNDLE,
    RecordingError,
    default_recordings,
    default_recordings_dir,
    load_recordings,
    write_bundle,
)
from tests.parity.conftest import REPO_ROOT

ORIGINALS = default_recordings_dir(REPO_ROOT)
BUNDLE = REPO_ROOT / COMMITTED_BUNDLE
needs_originals = pytest.mark.skipif(not ORIGINALS.is_dir(), reason=f"no original recordings at {ORIGINALS}")


def test_the_replay_reads_the_original_folder_when_it_is_there_else_the_committed_bundle(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    assert default_recordings(repo) == repo / COMMITTED_BUNDLE

    originals = tmp_path / "shared" / "recordings" / "jobrouter"
    originals.mkdir(parents=True)
    assert default_recordings(repo) == originals


def test_the_committed_bundle_holds_all_forty_recordings() -> None:
    bundled = load_recordings(BUNDLE)

    assert len(bundled) == 40
    assert sum(len(r.exchanges) for r in bundled) == 442


@needs_originals
def test_the_committed_bundle_reads_exactly_like_the_original_files() -> None:
    originals, bundled = load_recordings(ORIGINALS), load_recordings(BUNDLE)

    assert [r.name for r in bundled] == [r.name for r in originals]
    for original, copy in zip(originals, bundled, strict=True):
        assert dataclasses.replace(copy, file=original.file) == original, original.name


@needs_originals
def test_the_committed_bundle_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "bundle.json.gz"

    assert write_bundle(ORIGINALS, fresh) == 40
    assert fresh.read_bytes() == BUNDLE.read_bytes(), "regenerate it: see tests/parity/recordings/README.md"


def test_the_recordings_keep_every_response_header_the_comparison_reads() -> None:
    compared = {*compare._EXACT_HEADERS, *compare._PRESENCE_HEADERS}

    assert compared <= set(recording._COMPARED_RESPONSE_HEADERS)


def test_a_bundle_that_is_not_gzip_json_is_refused_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress(b"[1, 2"))

    with pytest.raises(RecordingError, match=r"broken\.json\.gz: cannot read the gzip JSON bundle"):
        load_recordings(broken)
