"""Paired comparison of two runs on the same clips: what ``fervid compare`` tests against its
baseline (statistics in fervid.results.stats).

Clips are paired by ``(seed, clip_id)`` over the seeds both runs have: a run with seeds 0, 1, 2
against one with seeds 0, 1 is paired on seeds 0 and 1 only (the table says so); runs with no
seed in common are not tested. Runs are tested only when they share the task exactly: classes,
test folds (rule and test-subject lists), the prepared data (fingerprint and preprocessing),
and, on every shared seed, the same scored clips with the same labels and subjects. Anything
else is flagged with the reason and left untested: a p-value across different test sets would
be meaningless.

The unit of inference is the subject (each with all its clips and shared seeds): Δ is the
difference of the table's means (per seed and fold, averaged over folds, then seeds), its
interval a cluster bootstrap and its p a sign-flip test over subjects. Where every clip is its
own subject (data that publish no identities), the unit is the clip and the note says so.
McNemar's exact p on the discordant clips (summed over seeds) is kept as a descriptive figure.
"""

from __future__ import annotations

import os
from pathlib import Path

from fervid.errors import FervidError

PREPARED_KEYS = ("preprocess", "options", "size")


def load_run_predictions(run_dir: str | os.PathLike) -> tuple[list[str] | None, dict]:
    """``(classes, {(seed, clip_id): row})`` from the predictions.csv of every finished fold (one
    with its result.json), each row with its ``fold`` folder's number (``(None, {})`` for a run
    without them); a clip scored twice in one seed is an error."""
    from fervid.results.predictions import read_predictions
    from fervid.rundir import layout

    classes, table = None, {}
    for _, fold, fdir in layout.fold_dirs(Path(run_dir)):
        path = fdir / "predictions.csv"
        if not (fdir / "result.json").is_file() or not path.is_file() or not path.stat().st_size:
            continue  # unfinished folds; missing and empty files are named by the integrity notes
        cls, rows = read_predictions(path)
        if classes is not None and cls != classes:
            raise FervidError(f"{path}: classes differ from the run's other folds")
        classes = cls
        for r in rows:
            key = (r["seed"], r["clip_id"])
            if key in table:
                raise FervidError(f"{path}: clip {r['clip_id']} scored twice in seed {r['seed']}")
            table[key] = {**r, "fold": fold}
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


def fingerprints_differ(a: dict | None, b: dict | None) -> bool:
    """Both runs recorded their data's fingerprint (fervid.rundir.integrity), and they differ."""
    fa, fb = (a or {}).get("fingerprint"), (b or {}).get("fingerprint")
    return bool(fa and fb and fa != fb)


def _why_not(base: dict, other: dict, base_preds: tuple, other_preds: tuple) -> str | None:
    split_a, split_b = base.get("split") or {}, other.get("split") or {}
    if base["classes"] != other["classes"]:
        return "classes differ"
    if any(split_a.get(k) != split_b.get(k) for k in ("rule", "k", "test_subjects_sha1")):
        return "test folds differ"
    if fingerprints_differ(base.get("prepared"), other.get("prepared")):
        return "different data (other fingerprint)"
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
    base: dict,
    other: dict,
    base_preds: tuple,
    other_preds: tuple,
    *,
    resamples: int = 2000,
    permutations: int = 9999,
    seed: int = 0,
) -> dict:
    """``other`` against ``base`` (results.json documents and :func:`load_run_predictions` of each).

    Returns ``{"tested": False, "reason": ...}``, or ``{"tested": True, "seeds", "n_clips", "unit"
    ("subject" or "clip"), "n_units", "b", "c", "mcnemar_clip_p", "accuracy_diff": (Δ, low, high),
    "uar_diff": ..., "accuracy_p", "uar_p"}`` with differences other − base as fractions
    (positive: ``other`` is better); ``b``: clip-seed scorings right in ``base`` only, ``c``: in
    ``other`` only.
    """
    import numpy as np

    from fervid.results.stats import PairedCounts, cluster_bootstrap, mcnemar_exact, sign_flip_test
    from fervid.rundir.integrity import subject_ids_known

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
    first = {c: a[(seeds[0], c)] for c in clips}
    same = ("label", "subject", "fold")
    if any(a[(s, c)][k] != first[c][k] or b[(s, c)][k] != first[c][k] for s in seeds for c in clips for k in same):
        return {"tested": False, "reason": "the same clips carry different labels, subjects or folds"}
    right_a = np.array([[a[(s, c)]["predicted"] == a[(s, c)]["label"] for s in seeds] for c in clips])  # (n, S)
    right_b = np.array([[b[(s, c)]["predicted"] == b[(s, c)]["label"] for s in seeds] for c in clips])
    dense = lambda values: np.unique(values, return_inverse=True)[1]  # noqa: E731
    counts = PairedCounts.of(
        right_a,
        right_b,
        [classes.index(first[c]["label"]) for c in clips],
        dense([first[c]["fold"] for c in clips]),
        dense([str(first[c]["subject"]) for c in clips]),
        len(classes),
    )
    n_b, n_c = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    ci = cluster_bootstrap(counts, resamples=resamples, seed=seed)
    p_acc, p_uar = sign_flip_test(counts, resamples=permutations, seed=seed)
    return {
        "tested": True,
        "seeds": seeds,
        "n_clips": len(clips),
        "unit": "subject" if subject_ids_known((c, first[c]["subject"]) for c in clips) else "clip",
        "n_units": counts.n_units,
        "b": n_b,
        "c": n_c,
        "mcnemar_clip_p": mcnemar_exact(n_b, n_c),
        "accuracy_diff": ci["accuracy"],
        "uar_diff": ci["uar"],
        "accuracy_p": p_acc,
        "uar_p": p_uar,
    }


def _seeds(seeds: set) -> str:
    return "seeds " + ", ".join(str(s) for s in sorted(seeds, key=lambda s: (s is None, s or 0)))
