"""Paired comparison of two runs on the same clips: what ``fervid compare`` tests against its
baseline (statistics in fervid.engine.stats).

Clips are paired by ``(seed, clip_id)`` over the seeds both runs have: a run with seeds 0, 1, 2
against one with seeds 0, 1 is paired on seeds 0 and 1 only (the table says so); runs with no
seed in common are not tested. Runs are tested only when they share the task exactly: classes,
test folds (rule and test-subject lists), preprocessing of the data, and, on every shared seed,
the same scored clips with the same labels. Anything else is flagged with the reason and left
untested: a p-value across different test sets would be meaningless.

McNemar's exact test runs per shared seed (each clip once per seed: independent pairs); the
reported ``mcnemar_p`` is the largest of them (a difference "significant on every seed"), and
``b``/``c`` are summed over seeds for reading. The bootstrap resamples clips with all their
shared seeds, so repeats of one clip are never counted as independent evidence.
"""

from __future__ import annotations

import os
from pathlib import Path

from fervid.errors import FervidError

PREPARED_KEYS = ("preprocess", "options", "size")


def load_run_predictions(run_dir: str | os.PathLike) -> tuple[list[str] | None, dict]:
    """``(classes, {(seed, clip_id): row})`` from every fold's predictions.csv (``(None, {})``
    for a run without them); a clip scored twice in one seed is an error."""
    from fervid.engine import layout
    from fervid.engine.predictions import read_predictions

    classes, table = None, {}
    for path in layout.files(Path(run_dir), "predictions.csv"):
        cls, rows = read_predictions(path)
        if classes is not None and cls != classes:
            raise FervidError(f"{path}: classes differ from the run's other folds")
        classes = cls
        for r in rows:
            key = (r["seed"], r["clip_id"])
            if key in table:
                raise FervidError(f"{path}: clip {r['clip_id']} scored twice in seed {r['seed']}")
            table[key] = r
    return classes, table


def prepared_differences(a: dict | None, b: dict | None) -> list[str]:
    """The ``preprocess``/``options``/``size`` entries in which two runs' prepared data differ."""
    if not a or not b:
        return []
    out = []
    for key in PREPARED_KEYS:
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += [
                f"{key}.{k}: {va.get(k)!r} vs {vb.get(k)!r}"
                for k in sorted(set(va) | set(vb), key=str)
                if va.get(k) != vb.get(k)
            ]
        elif va != vb:
            out.append(f"{key}: {va!r} vs {vb!r}")
    return out


def _why_not(base: dict, other: dict, base_preds: tuple, other_preds: tuple) -> str | None:
    split_a, split_b = base.get("split") or {}, other.get("split") or {}
    if base["classes"] != other["classes"]:
        return "classes differ"
    if any(split_a.get(k) != split_b.get(k) for k in ("rule", "k", "test_subjects_sha1")):
        return "test folds differ"
    if prepared_differences(base.get("prepared"), other.get("prepared")):
        return "preprocessing differs"
    if not base_preds[1] or not other_preds[1]:
        return "no per-clip predictions (predictions.csv) in " + (
            "both runs" if not base_preds[1] and not other_preds[1] else "one run"
        )
    if base_preds[0] != other_preds[0]:
        return "prediction classes differ"
    return None


def paired_comparison(
    base: dict, other: dict, base_preds: tuple, other_preds: tuple, *, resamples: int = 2000, seed: int = 0
) -> dict:
    """``other`` against ``base`` (results.json documents and :func:`load_run_predictions` of each).

    Returns ``{"tested": False, "reason": ...}``, or ``{"tested": True, "seeds", "n_clips", "b", "c",
    "mcnemar_p", "mcnemar_p_per_seed", "accuracy_diff": (d, low, high), "uar_diff": (d, low, high)}``
    with differences other − base as fractions (positive: ``other`` is better).
    """
    import numpy as np

    from fervid.engine.stats import mcnemar_exact, paired_bootstrap

    reason = _why_not(base, other, base_preds, other_preds)
    if reason:
        return {"tested": False, "reason": reason}
    classes, a, b = base_preds[0], base_preds[1], other_preds[1]
    seeds_a, seeds_b = {s for s, _ in a}, {s for s, _ in b}
    seeds = sorted(seeds_a & seeds_b, key=lambda s: (s is None, s or 0))
    if not seeds:
        return {"tested": False, "reason": f"no seed in common ({_seeds(seeds_a)} vs {_seeds(seeds_b)})"}
    clips = sorted({c for s, c in a if s == seeds[0]})
    for s in seeds:
        mine, theirs = {c for t, c in a if t == s}, {c for t, c in b if t == s}
        if mine != set(clips) or theirs != set(clips):
            return {
                "tested": False,
                "reason": f"scored clips differ (seed {s}: {len(mine ^ theirs)} clips in one run "
                "only, or an incomplete run)",
            }
    if any(
        a[(s, c)]["label"] != b[(s, c)]["label"] or a[(s, c)]["label"] != a[(seeds[0], c)]["label"]
        for s in seeds
        for c in clips
    ):
        return {"tested": False, "reason": "the same clips carry different labels"}
    right_a = np.array([[a[(s, c)]["predicted"] == a[(s, c)]["label"] for s in seeds] for c in clips])  # (n, S)
    right_b = np.array([[b[(s, c)]["predicted"] == b[(s, c)]["label"] for s in seeds] for c in clips])
    labels = np.array([classes.index(a[(seeds[0], c)]["label"]) for c in clips])
    bs = (right_a & ~right_b).sum(0)  # per seed: base right, other wrong
    cs = (~right_a & right_b).sum(0)
    per_seed = {str(s): mcnemar_exact(int(x), int(y)) for s, x, y in zip(seeds, bs, cs)}
    ci = paired_bootstrap(right_b, right_a, labels, n_classes=len(classes), resamples=resamples, seed=seed)
    return {
        "tested": True,
        "seeds": seeds,
        "n_clips": len(clips),
        "b": int(bs.sum()),
        "c": int(cs.sum()),
        "mcnemar_p": max(per_seed.values()),
        "mcnemar_p_per_seed": per_seed,
        "accuracy_diff": ci["accuracy"],
        "uar_diff": ci["uar"],
    }


def _seeds(seeds: set) -> str:
    return "seeds " + ", ".join(str(s) for s in sorted(seeds, key=lambda s: (s is None, s or 0)))
