"""Standard errors, intervals and the paired bootstrap test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import paired_stats
from pipeline.evaluate.stats import (
    adjust_p_values,
    bootstrap,
    estimate,
    item_table,
    replicate_test,
    wilson_interval,
)


def test_accuracy_uses_the_analytic_standard_error_and_wilson_interval():
    correct = np.array([[1]] * 30 + [[0]] * 10)
    est = estimate("accuracy", correct)
    assert est.value == pytest.approx(0.75)
    assert est.stderr == pytest.approx(np.std(correct[:, 0], ddof=1) / math.sqrt(40))
    assert (est.ci_low, est.ci_high) == pytest.approx(wilson_interval(30, 40, 0.95))
    assert est.ci_low < 0.75 < est.ci_high
    assert est.n == 40


def test_wilson_interval_known_value():
    # 8 of 10 at 95%: the textbook Wilson score interval
    low, high = wilson_interval(8, 10, 0.95)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10, 0.95)[0] == pytest.approx(0.0, abs=1e-12)


def test_f1_bootstrap_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(1)
    gold = rng.integers(1, 4, size=200)
    pred = rng.integers(0, 4, size=200)
    tp = np.minimum(gold, pred) * rng.integers(0, 2, size=200)
    stats = np.stack([tp, pred, gold], axis=1)
    first = estimate("f1", stats, samples=500, seed=3)
    again = estimate("f1", stats, samples=500, seed=3)
    other = estimate("f1", stats, samples=500, seed=4)
    assert first == again
    assert first.stderr != other.stderr
    assert first.ci_low < first.value < first.ci_high
    assert 0 < first.stderr < 0.1
    assert len(bootstrap("f1", stats, 450, 0)) == 450  # chunked draws give exactly `samples`


def test_bootstrap_stderr_matches_the_analytic_one_for_a_mean():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2, size=(400, 1))
    reps = bootstrap("accuracy", values, 4000, 0)
    assert reps.std(ddof=1) == pytest.approx(estimate("accuracy", values).stderr, rel=0.1)


def test_paired_bootstrap_identical_systems():
    stats = np.random.default_rng(0).integers(0, 2, size=(50, 1))
    test = paired_stats("accuracy", stats, stats)
    assert test.delta == 0.0
    assert test.p_value == 1.0
    assert not test.significant()


def test_paired_bootstrap_detects_a_clear_difference_and_not_noise():
    rng = np.random.default_rng(0)
    better = (rng.random((300, 1)) < 0.8).astype(int)
    worse = (rng.random((300, 1)) < 0.5).astype(int)
    test = paired_stats("accuracy", better, worse, samples=1000, seed=0)
    assert test.delta > 0.2
    assert test.p_value < 0.01
    assert test.ci_low > 0
    noise_a = (rng.random((300, 1)) < 0.6).astype(int)
    noise_b = noise_a.copy()
    flip = rng.choice(300, size=6, replace=False)
    noise_b[flip] = 1 - noise_b[flip]
    assert paired_stats("accuracy", noise_a, noise_b).p_value > 0.05


def test_item_table_aligns_items_by_id():
    fields = ["tp", "n_pred", "n_gold"]
    row_a = {"metric": "f1", "item_fields": fields, "items": [["x", 1, 1, 1], ["y", 0, 1, 1], ["z", 2, 2, 2]]}
    row_b = {"metric": "f1", "item_fields": fields, "items": [["z", 2, 2, 2], ["x", 1, 1, 1], ["y", 0, 1, 1]]}
    (ids_a, a), (ids_b, b) = item_table(row_a), item_table(row_b)
    assert ids_a == ids_b == ("x", "y", "z") and np.array_equal(a, b)
    with pytest.raises(ValueError, match="duplicate"):
        item_table({**row_b, "items": [*row_b["items"], ["x", 1, 1, 1]]})


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="no items"):
        estimate("f1", np.zeros((0, 3)))
    with pytest.raises(ValueError, match="confidence"):
        estimate("accuracy", np.ones((3, 1)), confidence=1.5)


def test_bootstrap_p_value_is_never_zero():
    """Every replicate on one side of zero: p = 2 (0 + 1) / (B + 1), not 0."""
    better, worse = np.ones((40, 1)), np.zeros((40, 1))
    test = paired_stats("accuracy", better, worse, samples=999, seed=0)
    assert test.p_value == pytest.approx(2 / 1000)
    assert replicate_test(0.5, np.full(9, 0.5), 9, 0.95).p_value == pytest.approx(0.2)


P_VALUES = [0.01, 0.04, 0.03, 0.005, 0.5]


def test_holm_adjustment_known_values():
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1 -> .025 .04 .09 .08 .5, monotone .09
    want = [0.04, 0.09, 0.09, 0.025, 0.5]
    assert adjust_p_values(P_VALUES, "holm") == pytest.approx(want)


def test_benjamini_hochberg_matches_scipy():
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(40), rng.random(10) * 0.01, [0.02, 0.02]])
    assert adjust_p_values(p, "bh") == pytest.approx(false_discovery_control(p, method="bh"))
    assert adjust_p_values(P_VALUES, "bh") == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])


def test_adjustments_are_bounded_and_ordered():
    p = np.random.default_rng(4).random(30)
    holm, bh = adjust_p_values(p, "holm"), adjust_p_values(p, "bh")
    assert (p <= bh).all() and (bh <= holm).all() and (holm <= 1).all()
    assert (adjust_p_values(p, "none") == p).all()
    assert adjust_p_values([], "holm").size == 0
    with pytest.raises(ValueError, match="unknown multiple-comparison correction 'bonf'"):
        adjust_p_values(p, "bonf")
