"""The evidence statistics against intervals worked out by hand."""
import math

import pytest

from tanet.analysis.evidence import (
    DID_NOT_HOLD,
    HELD,
    NOT_SHOWN,
    claim,
    paired_difference,
    seeds_to_decide,
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


def test_seeds_to_decide_by_hand():
    # differences 0..4: mean 2, sd sqrt(2.5) = 1.58114. n = 4: 3.182 * 1.58114 / 2 = 2.5156 > 2;
    # n = 5: 2.776 * 1.58114 / sqrt(5) = 1.9630 < 2 -> 5 seeds (and the interval at n = 5 just excludes 0)
    interval = paired_difference([0, 1, 2, 3, 4], [0, 0, 0, 0, 0])
    assert seeds_to_decide(interval) == 5
    # against a threshold of 1: distance 1; n = 12: 2.201 * 1.58114 / sqrt(12) = 1.0046 > 1;
    # n = 13: 2.179 * 1.58114 / sqrt(13) = 0.9556 < 1 -> 13
    assert seeds_to_decide(interval, threshold=1.0) == 13
    # a near tie: differences -1, +1, -1, +1, -0.5: mean -0.1, squared deviations 0.81 + 1.21 + 0.81 + 1.21 + 0.16
    # = 4.2, sd sqrt(4.2 / 4) = 1.02470; (1.96 * 1.0247 / 0.1)^2 = 403.4 seeds and more (t > 1.96 at any n)
    tie = paired_difference([-1, 1, -1, 1, -0.5], [0, 0, 0, 0, 0])
    needed = seeds_to_decide(tie)
    assert 403 < needed < 420
    sd = math.sqrt(4.2 / 4)
    half_width = lambda n: t_quantile_975(n - 1) * sd / math.sqrt(n)  # noqa: E731
    assert half_width(needed) < 0.1 < half_width(needed - 1)
    assert seeds_to_decide(tie, limit=100) is None
    # no spread: two seeds decide; the mean on the threshold or one seed: unknown
    assert seeds_to_decide(paired_difference([3, 3, 3], [1, 1, 1])) == 2
    assert seeds_to_decide(paired_difference([1, 3], [2, 2])) is None
    assert seeds_to_decide(paired_difference([1.0], [0.0])) is None


def test_claims_carry_seeds_to_decide_against_their_margin():
    # differences 22, 25, 28 (mean 25, sd 3) against a 20-point margin: distance 5; n = 4: 3.182 * 3 / 2 = 4.773 < 5
    # (n = 3: 4.303 * 3 / sqrt(3) = 7.453 > 5) -> 4
    by_twenty = claim("a beats b by 20", [72, 75, 78], [50, 50, 50], margin=20)
    assert by_twenty.verdict == NOT_SHOWN and by_twenty.seeds_needed == 4
    assert by_twenty.to_dict()["seeds_to_decide"] == 4
    assert "seeds to decide: 4" in by_twenty.line()
    assert claim("one", [1.0], [0.0]).seeds_text() == "one seed: unknown"
