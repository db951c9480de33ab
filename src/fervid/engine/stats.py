"""Paired tests of two models scored on the same clips: small pure functions.

- :func:`mcnemar_exact`: McNemar's exact test on per-clip correctness. Only the discordant
  clips count (``b``: right under A and wrong under B; ``c``: the reverse); under "both models
  are equally accurate" each is a fair coin flip, so the two-sided p-value is the exact binomial
  tail ``min(1, 2 * P[X <= min(b, c)])``, ``X ~ Binomial(b + c, 1/2)`` (McNemar 1947; the exact
  form as in statsmodels' ``mcnemar(exact=True)``).
- :func:`paired_bootstrap`: percentile confidence intervals of the accuracy and UAR differences,
  resampling clips with replacement (the same resample for both models: paired), seeded, so the
  same inputs give the same interval on every machine.
"""

from __future__ import annotations

import math

import numpy as np


def binomial_tail(k: int, n: int) -> float:
    """``P[X <= k]`` for ``X ~ Binomial(n, 1/2)``, exact (integer sums, one division)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c`` (1.0 for none)."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    return 1.0 if n == 0 else min(1.0, 2 * binomial_tail(min(b, c), n))


def _uar(correct_by_class: np.ndarray, total_by_class: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present: ``(R, K)`` counts → ``(R,)``."""
    present = total_by_class > 0
    recall = np.divide(correct_by_class, total_by_class, out=np.zeros_like(correct_by_class), where=present)
    return recall.sum(axis=1) / present.sum(axis=1)


def paired_bootstrap(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    chunk: int = 250,
) -> dict[str, tuple[float, float, float]]:
    """Differences A − B of accuracy and UAR with a paired bootstrap ``level`` interval.

    Args:
        correct_a, correct_b: bool ``(n_clips, n_seeds)``: clip i right under A / B in seed s
            (one column for one seed). A resample draws clips, each with all its seeds, so the
            repeats of one clip are never treated as independent.
        labels: ``(n_clips,)`` class indices (UAR's classes).
        n_classes: number of classes.
        resamples, seed, level: the bootstrap's size, generator seed and interval level.
        chunk: resamples drawn at once (bounds memory to ``chunk * n_clips`` counts).

    Returns ``{"accuracy": (diff, low, high), "uar": (diff, low, high)}``: the difference on the
    data itself and the percentile interval. Accuracy and UAR pool every (clip, seed) pair.
    """
    a = np.asarray(correct_a, dtype=np.float64).reshape(len(labels), -1)
    b = np.asarray(correct_b, dtype=np.float64).reshape(len(labels), -1)
    n, seeds = a.shape
    onehot = np.eye(n_classes)[np.asarray(labels)]  # (n, K)
    per_clip = np.stack([a.sum(1), b.sum(1)])  # (2, n) correct scorings per clip

    def diffs(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # weights (R, n) clip counts
        total = weights.sum(1) * seeds  # (R,)
        acc = weights @ per_clip.T / total[:, None]  # (R, 2)
        class_total = weights @ onehot * seeds  # (R, K)
        uar = [_uar(weights @ (onehot * per_clip[m][:, None]), class_total) for m in (0, 1)]
        return acc[:, 0] - acc[:, 1], uar[0] - uar[1]

    point = [float(d[0]) for d in diffs(np.ones((1, n)))]
    rng = np.random.default_rng(seed)
    acc_d, uar_d = [], []
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(r, n)) + np.arange(r)[:, None] * n
        weights = np.bincount(idx.ravel(), minlength=r * n).reshape(r, n).astype(np.float64)
        da, du = diffs(weights)
        acc_d.append(da)
        uar_d.append(du)
    tail = (1 - level) / 2 * 100
    out = {}
    for key, p, d in (("accuracy", point[0], acc_d), ("uar", point[1], uar_d)):
        low, high = np.percentile(np.concatenate(d), [tail, 100 - tail])
        out[key] = (p, float(low), float(high))
    return out
