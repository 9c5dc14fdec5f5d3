"""The bench's statistics: nearest-rank percentiles and the paired difference's interval."""

from __future__ import annotations

import pytest

from tests.bench import stats


def test_percentiles_by_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert stats.percentile(values, 0.5) == 50
    assert stats.percentile(values, 0.95) == 95
    assert stats.percentile([7.0], 0.95) == 7.0
    assert stats.summary([3.0, 1.0, 2.0]) == {"p50": 2.0, "p95": 3.0, "min": 1.0, "max": 3.0, "n": 3}


def test_a_constant_shift_is_found_with_a_tight_interval():
    theirs = [100.0 + 37 * (i % 9) for i in range(30)]  # spread by phase, as failover gaps are
    ours = [value + 50 for value in theirs]
    diff = stats.paired_difference(ours, theirs)
    assert diff["median"] == 50
    assert diff["ci95_low"] == diff["ci95_high"] == 50


def test_noise_around_zero_gives_an_interval_that_holds_zero():
    theirs = [100.0] * 20
    ours = [100.0 + (-1) ** i * (i % 5) for i in range(20)]
    diff = stats.paired_difference(ours, theirs)
    assert diff["ci95_low"] <= 0 <= diff["ci95_high"]
    assert diff["ci95_low"] < diff["ci95_high"]


def test_a_real_difference_excludes_zero():
    theirs = [float(1000 + 10 * i) for i in range(20)]
    ours = [t + 40 + (i % 3) for i, t in enumerate(theirs)]
    diff = stats.paired_difference(ours, theirs)
    assert 40 <= diff["ci95_low"] <= diff["median"] <= diff["ci95_high"] <= 42


def test_unpaired_input_is_refused():
    with pytest.raises(ValueError):
        stats.paired_difference([1.0], [1.0, 2.0])
