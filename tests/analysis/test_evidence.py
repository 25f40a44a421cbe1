"""The evidence statistics against intervals worked out by hand."""
import math

import pytest

from tanet.analysis.evidence import (
    DID_NOT_HOLD,
    HELD,
    NOT_SHOWN,
    claim,
    paired_difference,
    summarize,
    t_quantile_975,
    verdict,
)


def test_t_quantiles_from_the_table_and_beyond():
    assert [t_quantile_975(n - 1) for n in (2, 3, 4, 5)] == [12.706, 4.303, 3.182, 2.776]
    # beyond the table: the expansion continues it (t(0.975, 30) = 2.042, 60 -> 2.000, 120 -> 1.980)
    assert t_quantile_975(31) == pytest.approx(2.040, abs=2e-3)
    assert t_quantile_975(60) == pytest.approx(2.000, abs=1e-3)
    assert t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_cell_mean_and_sample_std_by_hand():
    stats = summarize([70.8, 76.4, 61.1])
    # mean 69.4333; squared deviations 1.8678 + 48.5344 + 69.4444 = 119.8467; / (3 - 1) -> sd 7.7410
    assert stats.mean == pytest.approx(69.43333, abs=1e-4)
    assert stats.std == pytest.approx(7.7410, abs=1e-3)
    assert stats.values == (70.8, 76.4, 61.1)
    assert summarize([5.0]).std is None


def test_three_seeds_interval_held():
    # differences 2, 3, 4: mean 3, sd 1, half width 4.303 / sqrt(3) = 2.48434
    interval = paired_difference([10, 12, 14], [8, 9, 10])
    assert interval.mean == pytest.approx(3.0)
    assert interval.low == pytest.approx(3 - 4.303 / math.sqrt(3))
    assert interval.high == pytest.approx(3 + 4.303 / math.sqrt(3))
    assert verdict(interval) == HELD
    assert verdict(interval, "less") == DID_NOT_HOLD


def test_two_seeds_interval_crosses_zero():
    # differences 1, 3: mean 2, sd sqrt(2), half width 12.706 * sqrt(2) / sqrt(2) = 12.706
    interval = paired_difference([1, 3], [0, 0])
    assert (interval.low, interval.high) == pytest.approx((2 - 12.706, 2 + 12.706))
    assert verdict(interval) == NOT_SHOWN


def test_four_seeds_interval_on_the_other_side():
    # differences -1, -2, -3, -2: mean -2, sd sqrt(2/3) = 0.81650, half width 3.182 * 0.81650 / 2 = 1.29904
    interval = paired_difference([1, 2, 3, 4], [2, 4, 6, 6])
    assert (interval.low, interval.high) == pytest.approx((-3.29904, -0.70096), abs=1e-4)
    assert verdict(interval) == DID_NOT_HOLD
    assert verdict(interval, "less") == HELD


def test_five_seeds_and_the_claim_record():
    # differences 0..4: mean 2, sd sqrt(2.5) = 1.58114, half width 2.776 * 1.58114 / sqrt(5) = 1.96296
    result = claim("a beats b", [0, 1, 2, 3, 4], [0, 0, 0, 0, 0], detail="hand")
    assert result.verdict == HELD
    assert result.to_dict()["interval"] == pytest.approx([0.037, 3.963], abs=1e-3)
    assert result.to_dict()["name"] == "a beats b"


def test_one_seed_is_not_evidence_and_mismatched_seeds_fail():
    single = paired_difference([90.0], [10.0])
    assert single.low is None and verdict(single) == NOT_SHOWN
    with pytest.raises(ValueError):
        paired_difference([1, 2], [1])


def test_claim_with_a_margin():
    # differences 22, 25, 28: mean 25, sd 3, half width 4.303 * 3 / sqrt(3) = 7.453 -> [17.55, 32.45]
    above_zero = claim("a beats b", [72, 75, 78], [50, 50, 50])
    by_twenty = claim("a beats b by 20", [72, 75, 78], [50, 50, 50], margin=20)
    by_ten = claim("a beats b by 10", [72, 75, 78], [50, 50, 50], margin=10)
    assert above_zero.verdict == HELD and by_ten.verdict == HELD
    assert by_twenty.verdict == NOT_SHOWN  # 17.55 < 20 < 32.45
    assert by_twenty.to_dict()["interval"] == pytest.approx([17.547, 32.453], abs=1e-3)


def test_half_width_is_printed_and_recorded():
    # differences 2, 3, 4: half width 4.303 * 1 / sqrt(3) = 2.48434
    interval = paired_difference([10, 12, 14], [8, 9, 10])
    assert interval.half_width == pytest.approx(4.303 / math.sqrt(3))
    assert interval.text() == "+3.0 ± 2.5 [+0.5, +5.5]"
    record = claim("a beats b", [10, 12, 14], [8, 9, 10]).to_dict()
    assert record["half_width"] == pytest.approx(2.484, abs=1e-3)
    assert paired_difference([1.0], [0.0]).half_width is None
