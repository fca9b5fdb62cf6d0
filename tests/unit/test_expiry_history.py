"""The expiry memory the flapping guard counts: per worker, bounded, each offer counted once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from offer_handlers.expiry_history import ExpiryHistory

T0 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
KEEP = timedelta(minutes=15)


def test_expiries_are_kept_per_worker_in_the_order_recorded() -> None:
    history = ExpiryHistory()

    history.record("bot-1", "o1", T0, keep=KEEP)
    history.record("bot-2", "o2", T0 + timedelta(seconds=1), keep=KEEP)
    history.record("bot-1", "o3", T0 + timedelta(seconds=2), keep=KEEP)

    assert history.times("bot-1") == (T0, T0 + timedelta(seconds=2))
    assert history.times("bot-2") == (T0 + timedelta(seconds=1),)
    assert history.times("agent-ana") == ()
    assert len(history) == 2


def test_a_redelivered_expiry_of_the_same_offer_counts_once() -> None:
    history = ExpiryHistory()

    first = history.record("bot-1", "o1", T0, keep=KEEP)
    again = history.record("bot-1", "o1", T0 + timedelta(seconds=30), keep=KEEP)

    assert (first, again) == (True, False)
    assert history.times("bot-1") == (T0,)


def test_expiries_older_than_the_window_are_forgotten() -> None:
    history = ExpiryHistory()
    history.record("bot-1", "old", T0, keep=KEEP)

    history.record("bot-1", "new", T0 + KEEP + timedelta(seconds=1), keep=KEEP)

    assert history.times("bot-1") == (T0 + KEEP + timedelta(seconds=1),)


def test_each_worker_keeps_at_most_its_limit_dropping_the_oldest() -> None:
    history = ExpiryHistory(per_worker=3)

    for n in range(5):
        history.record("bot-1", f"o{n}", T0 + timedelta(seconds=n), keep=KEEP)

    assert history.times("bot-1") == tuple(T0 + timedelta(seconds=n) for n in (2, 3, 4))


def test_concurrent_records_of_one_offer_count_it_once() -> None:
    history = ExpiryHistory()
    results: list[bool] = []
    lock = threading.Lock()

    def record() -> None:
        outcome = history.record("bot-1", "o1", T0, keep=KEEP)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]
    assert history.times("bot-1") == (T0,)


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ExpiryHistory(per_worker=0)


def test_an_expiry_exactly_the_window_old_is_still_counted() -> None:
    history = ExpiryHistory()
    history.record("bot-1", "edge", T0, keep=KEEP)

    history.record("bot-1", "now", T0 + KEEP, keep=KEEP)

    assert history.times("bot-1") == (T0, T0 + KEEP)


def test_a_limit_of_one_keeps_the_latest_expiry() -> None:
    history = ExpiryHistory(per_worker=1)

    history.record("bot-1", "o1", T0, keep=KEEP)
    history.record("bot-1", "o2", T0 + timedelta(seconds=1), keep=KEEP)

    assert history.times("bot-1") == (T0 + timedelta(seconds=1),)


def test_its_length_is_the_number_of_workers_with_expiries() -> None:
    history = ExpiryHistory()
    assert len(history) == 0

    history.record("bot-1", "o1", T0, keep=KEEP)
    history.record("bot-1", "o2", T0, keep=KEEP)
    history.record("bot-2", "o3", T0, keep=KEEP)

    assert len(history) == 2


def test_a_zero_limit_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match=r"^per_worker must be at least 1$"):
        ExpiryHistory(per_worker=0)
