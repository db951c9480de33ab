"""Subject-independent folds: no subject is ever on both sides of a split.

Rules of :func:`subject_kfold`:

- ``"id"``: subjects sorted by ID in natural order (P001 < P010, S5 < S10), fold i gets
  ``subjects[i::k]``: the convention of public Oulu-CASIA and CK+ 10-fold code, so results
  compare with the literature.
- ``"stratified"``: seeded; whole subjects are placed so that every fold's class counts are as
  close to 1/k of the totals as the subjects allow.
- ``"fixed"``: the manifest's ``fold`` column (DFEW's five official folds, a CSV fold column);
  fold i tests the clips whose fold value is the i-th in natural order.
- ``"holdout"``: the manifest's ``fold`` column holds a train/test split (FERV39k's official one:
  the values ``train`` and ``test``): one "fold" that trains on ``train`` and tests on ``test``.
- ``"auto"`` (:func:`resolve_rule`): ``fixed`` when the fold column holds folds, ``holdout``
  when it holds ``train``/``test``, ``id`` when it is empty.

Shuffling clips (rather than subjects) into folds puts the same person in training and test
sets, which inflates accuracy; fervid never does it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from fervid.data.manifest import ClipRecord, read_manifest
from fervid.errors import FervidError

FoldRule = Literal["auto", "id", "stratified", "fixed", "holdout"]
RULES: tuple[FoldRule, ...] = ("auto", "id", "stratified", "fixed", "holdout")
HOLDOUT = ("train", "test")  # fold values of an official train/test split (case-insensitive)
Manifest = Sequence[ClipRecord] | Sequence[Mapping] | str | os.PathLike  # or a DataFrame


def natural_key(s: str) -> tuple:
    """Sort key putting embedded numbers in numeric order: ``P2 < P10``, ``S005 < S010``.

    A total order over any strings: the parts sit in their own tuple (even positions text, odd
    positions numbers, so types line up and a prefix sorts first: ``ab < ab1``), and the string
    itself breaks ties (``7 < 007``) only after them.
    """
    parts = re.split(r"(\d+)", s)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), s


def _records(manifest: Manifest) -> list[ClipRecord]:
    """Rows as :class:`ClipRecord`: from a prepared directory, records, a list of dicts, or a
    table with ``to_dict("records")`` (a pandas DataFrame, duck-typed: pandas is not needed)."""
    if isinstance(manifest, (str, os.PathLike)):
        return read_manifest(manifest)
    if hasattr(manifest, "to_dict"):
        manifest = manifest.to_dict("records")
    return [r if isinstance(r, ClipRecord) else _record_of(r, i) for i, r in enumerate(manifest, 1)]


def _text(value) -> str:
    """A manifest cell as text; pandas gives NaN for empty cells and numbers for numeric columns."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _record_of(row, number: int) -> ClipRecord:
    if not isinstance(row, Mapping):
        raise FervidError(f"manifest row {number}: expected a ClipRecord or a mapping, got {type(row).__name__}")
    subject = _text(row.get("subject"))
    if not subject:
        raise FervidError(f"manifest row {number}: no subject")
    return ClipRecord(
        clip_id=_text(row.get("clip_id")) or str(number),
        subject=subject,
        label=_text(row.get("label")),
        n_frames=0,
        source=_text(row.get("source")),
        face_rate=1.0,
        fold=_text(row.get("fold")),
        file=_text(row.get("file")),
    )


def subject_kfold(
    manifest: Manifest, k: int | None, seed: int = 0, rule: FoldRule = "id"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split manifest rows into ``k`` ``(train_idx, test_idx)`` pairs of sorted row indices.

    Every clip is tested exactly once and no subject is on both sides of any pair. ``manifest``
    is a prepared directory, a list of :class:`ClipRecord` or of dicts (``subject``, ``label``,
    ``fold``), or a pandas DataFrame of ``manifest.csv``. For ``rule="fixed"`` ``k`` may be
    ``None`` (take the folds the manifest defines) or must equal their number; ``"holdout"``
    gives one pair (``k`` ``None`` or 1); ``"auto"`` is :func:`resolve_rule`'s choice.
    """
    records = _records(manifest)
    if not records:
        raise FervidError("cannot make folds of an empty manifest")
    rule = resolve_rule(records, rule)
    if rule == "holdout":
        return [_holdout(records, k)]
    if rule == "fixed":
        fold_of, k = _fixed_folds(records, k)
    else:
        subjects = sorted({r.subject for r in records}, key=natural_key)
        if k is None or int(k) != k or k < 2:
            raise FervidError(f"k-fold needs k >= 2 folds, got k={k}")
        k = int(k)
        if k > len(subjects):
            raise FervidError(f"k={k} folds but only {len(subjects)} subjects: each fold needs a subject")
        if rule == "id":
            subject_fold = {s: i % k for i, s in enumerate(subjects)}
        else:
            subject_fold = _stratified(records, subjects, k, seed)
        fold_of = np.array([subject_fold[r.subject] for r in records], dtype=np.int64)
    rows = np.arange(len(records))
    return [(rows[fold_of != i], rows[fold_of == i]) for i in range(k)]


def resolve_rule(manifest: Manifest, rule: str = "auto") -> str:
    """The rule that ``rule`` means on this manifest: itself, or for ``"auto"`` what the fold
    column holds: official folds (``"fixed"``), a ``train``/``test`` split (``"holdout"``) or
    nothing (``"id"``). A column filled for only some rows is an error, not a guess."""
    if rule not in RULES:
        raise FervidError(f"unknown fold rule {rule!r}; choose one of {', '.join(RULES)}")
    if rule != "auto":
        return rule
    records = _records(manifest)
    values = {r.fold.strip() for r in records}
    if values <= {""}:
        return "id"
    if "" in values:
        missing = sum(1 for r in records if not r.fold.strip())
        raise FervidError(
            f"rule 'auto': {missing} of {len(records)} manifest rows have no fold, the others do; "
            "fill the fold column or choose protocol.rule id or stratified"
        )
    return "holdout" if {v.lower() for v in values} == set(HOLDOUT) else "fixed"


def _holdout(records: list[ClipRecord], k: int | None) -> tuple[np.ndarray, np.ndarray]:
    if k not in (None, 1):
        raise FervidError(f"rule 'holdout' is one train/test split (k=1), not k={k}")
    values = np.array([r.fold.strip().lower() for r in records])
    other = sorted(set(values) - set(HOLDOUT))
    if other or len(set(values)) < 2:
        found = ", ".join(repr(v) for v in sorted(set(values)))
        raise FervidError(f"rule 'holdout' needs fold values train and test on every manifest row, found {found}")
    train_subjects = {r.subject for r, v in zip(records, values) if v == "train"}
    both = sorted(train_subjects & {r.subject for r, v in zip(records, values) if v == "test"}, key=natural_key)
    if both:
        raise FervidError(
            f"rule 'holdout': subject {both[0]} has clips in both train and test; "
            "a subject-independent split needs each subject on one side"
        )
    rows = np.arange(len(records))
    return rows[values == "train"], rows[values == "test"]


def _fixed_folds(records: list[ClipRecord], k: int | None) -> tuple[np.ndarray, int]:
    missing = sum(1 for r in records if not r.fold.strip())
    if missing == len(records):
        raise FervidError(
            "rule 'fixed' needs the manifest's fold column, which is empty; use rule 'id' or 'stratified'"
        )
    if missing:
        raise FervidError(f"rule 'fixed': {missing} of {len(records)} manifest rows have no fold")
    values = sorted({r.fold.strip() for r in records}, key=natural_key)
    split = [v for v in values if v.lower() in HOLDOUT]
    if split:  # read as two folds, a train/test split would also train on the official test set
        what = (
            "holds a train/test split, not folds: use rule 'holdout' (or 'auto')"
            if len(split) == len(values)
            else f"mixes {', '.join(split)} with fold values {', '.join(v for v in values if v not in split)}"
        )
        raise FervidError(f"rule 'fixed': the manifest's fold column {what}")
    if k is not None and k != len(values):
        raise FervidError(f"rule 'fixed': the manifest defines {len(values)} folds ({', '.join(values)}), not k={k}")
    if len(values) < 2:
        raise FervidError(f"rule 'fixed': the manifest defines only one fold ({values[0]})")
    seen: dict[str, str] = {}
    for r in records:
        first = seen.setdefault(r.subject, r.fold.strip())
        if first != r.fold.strip():
            raise FervidError(
                f"rule 'fixed': subject {r.subject} is in folds {first} and {r.fold.strip()}; "
                "subject-independent folds need each subject in one fold"
            )
    pos = {v: i for i, v in enumerate(values)}
    return np.array([pos[r.fold.strip()] for r in records], dtype=np.int64), len(values)


def _stratified(records: list[ClipRecord], subjects: list[str], k: int, seed: int) -> dict[str, int]:
    classes = sorted({r.label for r in records})
    s_pos = {s: i for i, s in enumerate(subjects)}
    c_pos = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(subjects), len(classes)))  # (subjects, classes) clip counts
    for r in records:
        counts[s_pos[r.subject], c_pos[r.label]] += 1
    target = counts.sum(0) / k  # ideal per-fold class counts

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(subjects))
    order = order[np.argsort(-counts[order].sum(1), kind="stable")]  # big subjects first, ties seeded
    fold_counts = np.zeros((k, len(classes)))
    n_subj = np.zeros(k, dtype=np.int64)
    assign = np.empty(len(subjects), dtype=np.int64)
    for s in order:
        # Increase of squared deviation from target; an empty fold never costs more than any
        # other, and ties go to the fold with fewest clips, so the first k subjects open k folds.
        cost = ((fold_counts + counts[s] - target) ** 2 - (fold_counts - target) ** 2).sum(1)
        f = int(np.lexsort((rng.random(k), fold_counts.sum(1), np.round(cost, 9)))[0])
        assign[s] = f
        fold_counts[f] += counts[s]
        n_subj[f] += 1
    # Local search: move single subjects while that lowers the total squared deviation.
    for _ in range(50):
        moved = False
        for s in rng.permutation(len(subjects)):
            f = assign[s]
            if n_subj[f] == 1:
                continue
            gain_out = ((fold_counts[f] - target) ** 2 - (fold_counts[f] - counts[s] - target) ** 2).sum()
            cost_in = ((fold_counts + counts[s] - target) ** 2 - (fold_counts - target) ** 2).sum(1)
            cost_in[f] = np.inf
            g = int(np.argmin(cost_in))
            if cost_in[g] < gain_out - 1e-9:
                fold_counts[f] -= counts[s]
                fold_counts[g] += counts[s]
                n_subj[f] -= 1
                n_subj[g] += 1
                assign[s] = g
                moved = True
        if not moved:
            break
    return {s: int(assign[i]) for i, s in enumerate(subjects)}


def split_validation(
    manifest: Manifest, train_idx: Sequence[int] | np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``fraction`` of the training side's SUBJECTS (whole subjects) for validation.

    Only ``train_idx`` rows are used, so the test fold never takes part in model selection.
    Returns sorted ``(train_idx, val_idx)``; ``fraction=0`` gives an empty validation set.
    """
    records = _records(manifest)
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64).reshape(-1))
    if not 0 <= fraction < 1:
        raise FervidError(f"validation fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return train_idx, np.empty(0, dtype=np.int64)
    subjects = sorted({records[i].subject for i in train_idx}, key=natural_key)
    if len(subjects) < 2:
        raise FervidError(f"validation split needs at least 2 training subjects, found {len(subjects)}")
    n_val = min(max(1, round(fraction * len(subjects))), len(subjects) - 1)
    rng = np.random.default_rng(seed)
    val_subjects = {subjects[i] for i in rng.choice(len(subjects), size=n_val, replace=False)}
    is_val = np.array([records[i].subject in val_subjects for i in train_idx], dtype=bool)
    return train_idx[~is_val], train_idx[is_val]


def subjects_of(manifest: Manifest, idx: Sequence[int] | np.ndarray) -> list[str]:
    """Distinct subjects of the given rows, in natural order."""
    records = _records(manifest)
    return sorted({records[int(i)].subject for i in idx}, key=natural_key)


def check_subject_disjoint(manifest: Manifest, *parts: Sequence[int] | np.ndarray) -> None:
    """Raise :class:`FervidError` if any subject appears in more than one of ``parts``."""
    records = _records(manifest)
    owner: dict[str, int] = {}
    for p, idx in enumerate(parts):
        for s in {records[int(i)].subject for i in idx}:
            if owner.setdefault(s, p) != p:
                raise FervidError(f"subject {s} is in split parts {owner[s]} and {p}: folds leak")


def fold_record(
    manifest: Manifest,
    fold: int,
    train_idx,
    test_idx,
    val_idx=(),
) -> dict:
    """One entry of a run's ``folds.json``: the subjects on each side of fold ``fold``."""
    records = _records(manifest)
    check_subject_disjoint(records, train_idx, val_idx, test_idx)
    return {
        "fold": int(fold),
        "train_subjects": subjects_of(records, train_idx),
        "val_subjects": subjects_of(records, val_idx),
        "test_subjects": subjects_of(records, test_idx),
    }
