"""Paired statistics of two models scored on the same clips, with the subject as the unit.

Clips of one subject are not independent (face shape, lighting, how strongly the person poses),
so resampling or counting clips as independent understates the uncertainty (a simulated null
rejected in 21 % of studies at a subject effect of sd 1.5: docs/BENCHMARKS.md, "Paired tests").
Everything here resamples or permutes *units*, each unit bringing all its clips and all seeds; a
unit is a subject, or a clip where the data publish no identities (each clip its own subject).

The estimand is the table's: accuracy (or UAR) per seed and fold, averaged over folds, then
over seeds; ``Δ = run − baseline``. Both metrics are linear in each unit's correct counts
(the fold and class totals do not depend on which model scored), so Δ is a sum of per-unit
contributions, and:

- :func:`sign_flip_test`: a paired randomisation test. Under "within a subject the two models
  are exchangeable", swapping the models on all of a subject's clips and seeds flips the sign
  of its contribution; p = share of sign patterns whose |Δ| reaches the observed one
  (``scipy.stats.permutation_test``, ``permutation_type="samples"``; exact when 2^units fits
  the resamples), exact under exchangeability within a subject.
- :func:`cluster_bootstrap`: BCa interval of Δ from resampling units with replacement
  (``scipy.stats.bootstrap``; Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
  ch. 8 and 14; Field & Welsh 2007, "Bootstrapping clustered data", JRSS-B 69(3)).
- :func:`mcnemar_exact`: McNemar's exact test (``scipy.stats.binomtest`` on the discordant
  counts), which assumes independent test items (Dietterich 1998, *Neural Computation* 10(7))
  and so counts clips of one subject as independent: descriptive only.
- :func:`holm`: Holm's (1979) step-down adjustment for several comparisons with one baseline.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

METRICS = ("accuracy", "uar")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c`` (1.0 for none):
    the binomial test of ``b`` successes in ``b + c`` fair coin flips."""
    from scipy.stats import binomtest

    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    return 1.0 if b + c == 0 else float(binomtest(int(b), int(b + c), 0.5).pvalue)


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (``None`` entries are left out of the family and stay ``None``):
    sorted ascending, ``p_(i) * (m - i + 1)``, running maximum, capped at 1."""
    given = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    running, m = 0.0, len(given)
    for rank, (p, i) in enumerate(sorted(given)):
        running = max(running, min(1.0, p * (m - rank)))
        out[i] = running
    return out


@dataclass
class PairedCounts:
    """Per-unit counts of two models' scorings on the same clips.

    ``total``: ``(U, F, K)`` clips of each unit per fold and class (one fold per unit);
    ``right``: ``(2, U, S, F, K)`` correct scorings per model (baseline, run), seed, fold and class.
    """

    total: np.ndarray
    right: np.ndarray

    @classmethod
    def of(cls, right_a, right_b, labels, folds, units, n_classes: int) -> PairedCounts:
        """From per-clip arrays: ``right_a``/``right_b`` bool ``(n_clips, n_seeds)`` (baseline, run),
        ``labels``, ``folds``, ``units``: ``(n_clips,)`` integer indices (0-based, dense)."""
        labels, folds, units = (np.asarray(x, dtype=np.int64) for x in (labels, folds, units))
        n_units, n_folds = int(units.max()) + 1, int(folds.max()) + 1
        n_seeds = np.asarray(right_a).reshape(len(labels), -1).shape[1]
        total = np.zeros((n_units, n_folds, n_classes))
        np.add.at(total, (units, folds, labels), 1)
        right = np.zeros((2, n_units, n_seeds, n_folds, n_classes))
        for m, r in enumerate((right_a, right_b)):
            r = np.asarray(r, dtype=np.float64).reshape(len(labels), n_seeds)
            for s in range(n_seeds):
                np.add.at(right[m, :, s], (units, folds, labels), r[:, s])
        return cls(total, right)

    @property
    def n_units(self) -> int:
        return self.total.shape[0]

    def deltas(self, weights: np.ndarray) -> np.ndarray:
        """Δ accuracy and Δ UAR (run − baseline) for unit ``weights`` ``(R, U)`` (how often each
        unit is drawn): ``(2, R)``. A fold with no clip drawn drops out of the fold mean, a class
        with no clip drawn out of its fold's UAR (as in a fold's own metrics)."""
        w = np.asarray(weights, dtype=np.float64)
        n_units, n_folds, n_classes = self.total.shape
        n_seeds = self.right.shape[2]
        total = (w @ self.total.reshape(n_units, -1)).reshape(-1, 1, n_folds, n_classes)  # (R, 1, F, K)
        right = np.stack(
            [(w @ self.right[m].reshape(n_units, -1)).reshape(-1, n_seeds, n_folds, n_classes) for m in (0, 1)]
        )  # (2, R, S, F, K)
        fold_n, has = total.sum(-1), total > 0  # (R, 1, F), (R, 1, F, K)
        present = fold_n > 0
        acc = np.where(present, right.sum(-1) / np.where(present, fold_n, 1), 0.0)  # (2, R, S, F)
        recall = np.where(has, right / np.where(has, total, 1), 0.0)
        uar = np.where(present, recall.sum(-1) / np.maximum(has.sum(-1), 1), 0.0)
        n_present = np.maximum(present.sum(-1), 1)  # (R, 1)
        per_seed = [x.sum(-1) / n_present for x in (acc, uar)]  # each (2 models, R, S)
        return np.stack([(x[1] - x[0]).mean(-1) for x in per_seed])

    def contributions(self) -> np.ndarray:
        """Each unit's share of Δ on the data as they are: ``(2 metrics, 2 models, U)``, so that
        Δ = ``sum(c[:, 1] - c[:, 0], axis=-1)``. Fixed totals make both metrics linear in the
        units' correct counts."""
        total = self.total.sum(0)  # (F, K)
        fold_n = total.sum(-1)  # (F,)
        present = fold_n > 0
        n_seeds, n_present = self.right.shape[2], max(int(present.sum()), 1)
        acc_w = np.divide(1.0, fold_n, out=np.zeros_like(fold_n), where=present)[:, None] * np.ones_like(total)
        classes = (total > 0).sum(-1, keepdims=True)  # (F, 1)
        uar_w = np.divide(1.0, total * classes, out=np.zeros_like(total), where=total > 0)
        scale = 1.0 / (n_seeds * n_present)
        return np.stack([np.einsum("musfk,fk->mu", self.right, w) * scale for w in (acc_w, uar_w)])


def sign_flip_test(
    counts: PairedCounts, *, resamples: int = 9999, seed: int = 0, batch: int = 1000
) -> tuple[float, float]:
    """Two-sided p-values of Δ accuracy = 0 and Δ UAR = 0 by sign flips of whole units (seeded;
    ``batch`` resamples at a time bound the memory to ``batch`` × units)."""
    from scipy.stats import permutation_test

    out = []
    for metric in counts.contributions():  # (2 models, U)
        a, b = metric
        if np.allclose(a, b):
            out.append(1.0)
            continue
        res = permutation_test(
            (b, a),
            lambda x, y, axis: np.sum(x - y, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=resamples,
            batch=batch,
            alternative="two-sided",
            rng=seed,
        )
        out.append(float(min(1.0, res.pvalue)))
    return out[0], out[1]


def _index_weights(idx: np.ndarray, n: int) -> np.ndarray:
    """Unit indices ``(..., n_drawn)`` -> draw counts ``(prod(...), n)``."""
    idx = np.asarray(idx, dtype=np.int64).reshape(-1, idx.shape[-1])
    flat = idx + np.arange(idx.shape[0])[:, None] * n
    return np.bincount(flat.ravel(), minlength=idx.shape[0] * n).reshape(idx.shape[0], n).astype(np.float64)


def cluster_bootstrap(
    counts: PairedCounts, *, resamples: int = 2000, seed: int = 0, level: float = 0.95, batch: int = 250
) -> dict[str, tuple[float, float, float]]:
    """``{"accuracy": (Δ, low, high), "uar": ...}``: Δ on the data and a BCa ``level`` interval
    from resampling units with replacement (each with all its clips and seeds); seeded, so the
    same inputs give the same interval on every machine. Where the resamples do not vary (two
    runs that agree on every clip), the interval is Δ itself."""
    from scipy.stats import bootstrap

    n = counts.n_units
    point = counts.deltas(np.ones((1, n)))[:, 0]

    def statistic(idx, axis=-1):
        idx = np.moveaxis(np.asarray(idx), axis, -1)
        d = counts.deltas(_index_weights(idx, n))  # (2, prod(lead))
        return d.reshape(2, *idx.shape[:-1])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples (Δ constant) are handled below
        res = bootstrap(
            (np.arange(n),),
            statistic,
            n_resamples=resamples,
            confidence_level=level,
            method="BCa",
            vectorized=True,
            batch=batch,
            rng=seed,
        )
    dist = res.bootstrap_distribution  # (2, resamples)
    low, high = np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)
    out = {}
    for i, key in enumerate(METRICS):
        lo, hi = float(low[i]), float(high[i])
        if np.ptp(dist[i]) == 0:
            lo = hi = float(point[i])
        elif not (np.isfinite(lo) and np.isfinite(hi)):  # BCa undefined (Δ at the edge): percentiles
            tail = (1 - level) / 2 * 100
            lo, hi = (float(x) for x in np.percentile(dist[i], [tail, 100 - tail]))
        out[key] = (float(point[i]), lo, hi)
    return out
