"""The soak's flatness verdict: a series is flat after warm-up when it neither spreads nor trends.

The first quarter of the samples is warm-up and never judged; the rest must stay within 10% (max/min) and
the least-squares line across them may grow by at most 5% of their mean.
"""

from __future__ import annotations

import pytest

from bench.soak import SoakSample, flatness, samples_table

MINUTE = 60.0


def test_a_steady_series_after_a_warm_up_climb_is_flat() -> None:
    times = [i * MINUTE for i in range(20)]
    values = [100, 150, 190, 200, *([200, 201, 199, 200] * 4)]

    result = flatness(times, values)

    assert result.flat
    assert result.samples == 15
    assert result.max_min_ratio == pytest.approx(201 / 199)


def test_a_series_that_keeps_growing_is_not_flat_even_within_the_spread() -> None:
    times = [i * MINUTE for i in range(20)]
    values = [1000 + 6 * i for i in range(20)]

    result = flatness(times, values)

    assert result.max_min_ratio < 1.10
    assert result.growth_fraction > 0.05
    assert not result.flat


def test_a_series_with_a_spike_after_warm_up_is_not_flat() -> None:
    times = [i * MINUTE for i in range(8)]
    values = [100, 100, 100, 100, 130, 100, 100, 100]

    assert not flatness(times, values).flat


def test_the_slope_is_reported_per_minute() -> None:
    times = [i * 30.0 for i in range(9)]
    values = [500 + 10 * i for i in range(9)]

    assert flatness(times, values).slope_per_min == pytest.approx(20.0)


def test_thesamples_table_keeps_the_last_sample() -> None:
    samples = [SoakSample(i * 30.0, 1024 * (100 + i), 2048, 10, 500, 10 * i, i, i) for i in range(30)]

    table = samples_table(samples, rows=5)

    assert table.splitlines()[-1].startswith("| 14:30 | 129.0 MiB |")
    assert len(table.splitlines()) == 2 + 6
