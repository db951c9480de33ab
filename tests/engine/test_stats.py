"""fervid.engine.stats: McNemar's exact test against scipy and by hand; the paired bootstrap."""

import math

import numpy as np
import pytest

from fervid.engine.stats import binomial_tail, mcnemar_exact, paired_bootstrap


def test_mcnemar_exact_known_values():
    # By definition: 2 * P[X <= 1], X ~ Bin(10, 1/2) = 2 * (1 + 10) / 1024.
    assert mcnemar_exact(1, 9) == mcnemar_exact(9, 1) == 22 / 1024
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0  # the tail passes 1/2: capped
    assert mcnemar_exact(0, 3) == 2 / 8
    assert binomial_tail(20, 20) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_mcnemar_exact_equals_scipys_exact_binomial_test():
    stats = pytest.importorskip("scipy.stats")
    for b in range(0, 25, 3):
        for c in range(0, 40, 7):
            if b + c:
                want = stats.binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
                assert mcnemar_exact(b, c) == pytest.approx(want, rel=1e-12)


def _pooled(correct, labels, k):
    acc = correct.mean()
    recalls = [correct[labels == c].mean() for c in range(k) if (labels == c).any()]
    return acc, sum(recalls) / len(recalls)


def test_paired_bootstrap_point_values_seeding_and_clusters():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 60)
    a = rng.random((60, 1)) < 0.8
    b = rng.random((60, 1)) < 0.5
    out = paired_bootstrap(a, b, labels, n_classes=3, resamples=400, seed=7)
    (acc_a, uar_a), (acc_b, uar_b) = _pooled(a[:, 0], labels, 3), _pooled(b[:, 0], labels, 3)
    assert out["accuracy"][0] == pytest.approx(acc_a - acc_b) and out["uar"][0] == pytest.approx(uar_a - uar_b)
    for d, low, high in out.values():
        assert low <= d <= high and high - low < 0.6
    assert out == paired_bootstrap(a, b, labels, n_classes=3, resamples=400, seed=7)  # seeded: repeatable
    assert out != paired_bootstrap(a, b, labels, n_classes=3, resamples=400, seed=8)
    # Two identical seeds add no evidence: clips are resampled with all their seeds together.
    twice = paired_bootstrap(np.hstack([a, a]), np.hstack([b, b]), labels, n_classes=3, resamples=400, seed=7)
    for key in out:
        assert twice[key] == pytest.approx(out[key])
    same = paired_bootstrap(a, a, labels, n_classes=3, resamples=50)
    assert same == {"accuracy": (0.0, 0.0, 0.0), "uar": (0.0, 0.0, 0.0)}


def test_paired_bootstrap_interval_covers_like_a_95_percent_interval():
    """Over repeated draws from a known difference, the interval holds it about 95 % of the time."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(60):
        labels = rng.integers(0, 2, 200)
        a = rng.random((200, 1)) < 0.7
        b = rng.random((200, 1)) < 0.6
        _, low, high = paired_bootstrap(a, b, labels, n_classes=2, resamples=300, seed=1)["accuracy"]
        hits += low <= 0.1 <= high
    assert 50 <= hits <= 60 and not math.isnan(low)
