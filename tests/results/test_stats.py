"""fervid.results.stats: the subject-level paired statistics, McNemar and Holm.

The null and power checks simulate studies in which every subject favours one model on all of
their clips and seeds (clustered data: Field & Welsh 2007, JRSS-B 69(3)); the same tests with
clips as the unit are run beside them and must fail the bounds,
so the bounds are known to tell the two apart. The full calibration, through `fervid compare`,
is benchmarks/paired_calibration.py (docs/BENCHMARKS.md).
"""

import itertools

import numpy as np
import pytest

from fervid.results.stats import PairedCounts, cluster_bootstrap, holm, mcnemar_exact, sign_flip_test


def test_mcnemar_exact_known_values():
    # By definition: 2 * P[X <= 1], X ~ Bin(10, 1/2) = 2 * (1 + 10) / 1024.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024) and mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0  # the tail passes 1/2: capped
    assert mcnemar_exact(0, 3) == pytest.approx(2 / 8)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 (m = 3): 0.03, 0.06, max(0.06, 0.04) -> 0.06; None stays out of the family.
    assert holm([0.04, None, 0.01, 0.03]) == pytest.approx([0.06, None, 0.03, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([0.2]) == [0.2] and holm([]) == []


def _study(rng, *, subjects=40, seeds=2, folds=10, sd=2.0, effect=0.0):
    """One simulated comparison: 6 clips per subject (one per class), subject-level model preference
    of sd ``sd`` (logit), a clip-level one of sd 0.5, ``effect``: the run's real advantage (logit)."""
    units = np.repeat(np.arange(subjects), 6)
    labels, fold = np.tile(np.arange(6), subjects), units % folds
    base = 0.85 + rng.normal(0, 1, subjects)[units] + rng.normal(0, 0.5, units.size)
    prefer = rng.normal(0, sd, subjects)[units] / 2
    noise = rng.normal(0, 0.5, (2, units.size))
    p = 1 / (1 + np.exp(-np.stack([base - prefer + noise[0], base + prefer + noise[1] + effect])))
    right = rng.random((2, units.size, seeds)) < p[:, :, None]
    return right[0], right[1], labels, fold, units


def _by_hand(right, labels, fold):
    """The table's accuracy and UAR: per seed and fold, averaged over folds, then seeds."""
    acc, uar = [], []
    for s in range(right.shape[1]):
        acc.append(np.mean([right[fold == f, s].mean() for f in np.unique(fold)]))
        per_fold = [
            np.mean([right[(fold == f) & (labels == k), s].mean() for k in np.unique(labels[fold == f])])
            for f in np.unique(fold)
        ]
        uar.append(np.mean(per_fold))
    return np.mean(acc), np.mean(uar)


def test_delta_is_the_difference_of_the_table_means_and_the_sum_of_unit_contributions():
    rng = np.random.default_rng(3)
    n = 90
    labels = rng.choice(3, n, p=[0.6, 0.3, 0.1])  # unbalanced, some folds lack a class
    fold, units = rng.integers(0, 4, n), rng.integers(0, 30, n)
    fold = fold[units]  # a subject lies in one fold
    a, b = rng.random((n, 3)) < 0.6, rng.random((n, 3)) < 0.7
    counts = PairedCounts.of(a, b, labels, fold, np.unique(units, return_inverse=True)[1], 3)
    want = np.subtract(_by_hand(b, labels, fold), _by_hand(a, labels, fold))
    assert counts.deltas(np.ones((1, counts.n_units)))[:, 0] == pytest.approx(want)
    c = counts.contributions()
    assert (c[:, 1] - c[:, 0]).sum(-1) == pytest.approx(want)
    ci = cluster_bootstrap(counts, resamples=300, seed=1)
    assert [ci[k][0] for k in ("accuracy", "uar")] == pytest.approx(want)
    assert ci == cluster_bootstrap(counts, resamples=300, seed=1)  # seeded: repeatable
    assert ci != cluster_bootstrap(counts, resamples=300, seed=2)


def test_sign_flip_is_exact_for_few_subjects():
    rng = np.random.default_rng(0)
    units = np.repeat(np.arange(8), 4)
    a, b = rng.random((32, 1)) < 0.5, rng.random((32, 1)) < 0.8
    counts = PairedCounts.of(a, b, np.tile([0, 1], 16), np.zeros(32, int), units, 2)
    d = counts.contributions()[0]
    d = d[1] - d[0]  # accuracy contributions per subject
    flips = [abs(np.dot(signs, d)) for signs in itertools.product([-1, 1], repeat=8)]
    want = np.mean(np.array(flips) >= abs(d.sum()) - 1e-12)
    assert sign_flip_test(counts, resamples=999)[0] == pytest.approx(want)  # 256 patterns < 999: all


def test_identical_runs_and_repeated_seeds_add_no_evidence():
    rng = np.random.default_rng(1)
    a, b, labels, fold, units = _study(rng, seeds=1)
    same = PairedCounts.of(a, a, labels, fold, units, 6)
    assert cluster_bootstrap(same, resamples=200) == {"accuracy": (0.0, 0.0, 0.0), "uar": (0.0, 0.0, 0.0)}
    assert sign_flip_test(same) == (1.0, 1.0)
    once = PairedCounts.of(a, b, labels, fold, units, 6)
    twice = PairedCounts.of(np.hstack([a, a]), np.hstack([b, b]), labels, fold, units, 6)
    for key, value in cluster_bootstrap(once, resamples=300).items():
        assert cluster_bootstrap(twice, resamples=300)[key] == pytest.approx(value)
    assert sign_flip_test(twice, resamples=999) == pytest.approx(sign_flip_test(once, resamples=999))


def _rejections(studies, *, effect, unit_is_clip=False, seed=0):
    """How often the cluster bootstrap's 95 % interval of Δ accuracy excludes 0, and the sign-flip
    p < 0.05, over ``studies`` simulated studies (40 subjects × 6 clips × 2 seeds, subject sd 2)."""
    rng = np.random.default_rng(seed)
    boot = flip = 0
    for _ in range(studies):
        a, b, labels, fold, units = _study(rng, effect=effect)
        counts = PairedCounts.of(a, b, labels, fold, np.arange(units.size) if unit_is_clip else units, 6)
        _, low, high = cluster_bootstrap(counts, resamples=500)["accuracy"]
        boot += low > 0 or high < 0
        flip += sign_flip_test(counts, resamples=999)[0] < 0.05
    return boot, flip


def test_null_rejections_near_5_percent_where_the_clip_level_versions_reject_far_more():
    """Bounds: at most 8 of 60 (13 %) for the subject-level interval and test; the same code with
    clips as the unit (the clip bootstrap fervid used before) rejects 13-22 of 60 on this design
    (checked over 8 generator seeds), so it fails them."""
    boot, flip = _rejections(60, effect=0.0)
    assert boot <= 8 and flip <= 8
    clip_boot, _ = _rejections(60, effect=0.0, unit_is_clip=True)
    assert clip_boot > 8


def test_power_a_real_difference_is_found():
    """A real advantage of 1.2 logit (about +16 points of accuracy on this design, where subjects
    differ a lot) is found in most studies: 21-28 of 30 over 8 generator seeds; bound 18."""
    boot, flip = _rejections(30, effect=1.2, seed=1)
    assert boot >= 18 and flip >= 18
