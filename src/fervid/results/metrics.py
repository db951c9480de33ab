"""Per-fold metrics (torchmetrics) and their mean ± std over folds.

Conventions, stated once so reports can cite them:

- ``accuracy`` is WAR (weighted average recall): the fraction of test clips classified correctly
  (torchmetrics ``multiclass_accuracy``, ``average="micro"``).
- ``uar`` is the unweighted average recall: per-class recall (torchmetrics
  ``multiclass_recall``, ``average="none"``) averaged over the classes **present in the targets**.
  A class with no test clip has no recall; it is left out of the mean rather than counted as 0
  (which would punish a fold for its subjects' missing expressions) or as 1. Predictions of such a
  class are still errors: they lower the recall of the true classes.
- ``macro_f1``: torchmetrics ``multiclass_f1_score``, ``average="macro"``; torchmetrics averages
  over the classes that occur in targets *or* predictions, so a class predicted but never true
  counts with F1 = 0 and a class absent from both is left out.
- ``confusion_matrix``: ``num_classes × num_classes`` counts, rows = true class, columns =
  predicted class.
- Over folds, :func:`summarize` gives the plain mean of the fold values (each fold weighs the
  same, as in the k-fold literature) and the **sample** standard deviation (``ddof=1``); with a
  single fold the std is ``None`` (``null`` in JSON): one value has no spread to report.
- Over seeds (a study repeated per seed, :func:`summarize_seeds`): each seed's k-fold mean and
  std as above; then the plain mean over seeds of the k-fold means (``mean``), the mean over
  seeds of the fold stds (``std``: the typical spread over folds) and the sample std across
  seeds of the k-fold means (``std_seeds``: how much the whole result moves with the seed;
  ``None`` for one seed). With one seed ``mean`` and ``std`` are :func:`summarize`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch

from fervid.errors import FervidError

SUMMARY_KEYS = ("accuracy", "uar", "macro_f1")


def compute_metrics(preds, targets, num_classes: int) -> dict:
    """Accuracy (WAR), UAR, macro-F1 and the confusion matrix of one test set.

    Args:
        preds: predicted class indices ``(N,)``, or logits/probabilities ``(N, num_classes)``
            (arg-maxed). Tensor, array or sequence.
        targets: true class indices ``(N,)``.
        num_classes: size of the class list (fixes the confusion matrix's shape).

    Returns:
        ``{"accuracy", "uar", "macro_f1"}`` as floats in [0, 1], ``"confusion_matrix"`` (list of
        ``num_classes`` lists, rows = true class) and ``"n_test"`` (N).
    """
    from torchmetrics.functional.classification import (
        multiclass_accuracy,
        multiclass_confusion_matrix,
        multiclass_f1_score,
        multiclass_recall,
    )

    preds = torch.as_tensor(preds)
    targets = torch.as_tensor(targets).long().reshape(-1)
    if preds.ndim == 2:  # (N, num_classes) scores -> (N,) class indices
        preds = preds.argmax(dim=1)
    preds = preds.long().reshape(-1)
    if preds.numel() != targets.numel():
        raise FervidError(f"metrics: {preds.numel()} predictions for {targets.numel()} targets")
    if targets.numel() == 0:
        raise FervidError("metrics: no test samples to score")
    for name, t in (("prediction", preds), ("target", targets)):
        if int(t.min()) < 0 or int(t.max()) >= num_classes:
            raise FervidError(f"metrics: {name} class index outside 0..{num_classes - 1}")

    kw = dict(num_classes=num_classes, validate_args=False)
    recall = multiclass_recall(preds, targets, average="none", **kw)  # (num_classes,)
    present = torch.bincount(targets, minlength=num_classes) > 0
    return {
        "accuracy": float(multiclass_accuracy(preds, targets, average="micro", **kw)),
        "uar": float(recall[present].mean()),
        "macro_f1": float(multiclass_f1_score(preds, targets, average="macro", **kw)),
        "confusion_matrix": multiclass_confusion_matrix(preds, targets, **kw).tolist(),
        "n_test": int(targets.numel()),
    }


def summarize(
    fold_results: Iterable[Mapping], keys: Sequence[str] = SUMMARY_KEYS
) -> tuple[dict[str, float], dict[str, float | None]]:
    """Mean and sample std (``ddof=1``) of each metric over folds; std is ``None`` for one fold."""
    fold_results = list(fold_results)
    if not fold_results:
        raise FervidError("no fold results to summarise")
    mean: dict[str, float] = {}
    std: dict[str, float | None] = {}
    for key in keys:
        values = [float(r[key]) for r in fold_results]
        m = sum(values) / len(values)
        mean[key] = m
        std[key] = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return mean, std


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def summarize_seeds(fold_results: Iterable[Mapping], keys: Sequence[str] = SUMMARY_KEYS) -> dict:
    """``{"mean", "std", "std_seeds", "per_seed"}`` of fold results carrying a ``seed`` (module
    docstring); ``per_seed`` lists ``{"seed", "n_folds", "mean", "std"}`` in seed order."""
    by_seed: dict = {}
    for r in fold_results:
        by_seed.setdefault(r.get("seed"), []).append(r)
    if not by_seed:
        raise FervidError("no fold results to summarise")
    per_seed = []
    for seed in sorted(by_seed, key=lambda s: (s is not None, s or 0)):
        mean, std = summarize(by_seed[seed], keys)
        per_seed.append({"seed": seed, "n_folds": len(by_seed[seed]), "mean": mean, "std": std})
    mean = {k: _mean([p["mean"][k] for p in per_seed]) for k in keys}
    stds = {k: [p["std"][k] for p in per_seed if p["std"][k] is not None] for k in keys}
    std = {k: _mean(stds[k]) if stds[k] else None for k in keys}
    if len(per_seed) > 1:
        _, std_seeds = summarize([p["mean"] for p in per_seed], keys)
    else:
        std_seeds = {k: None for k in keys}
    return {"mean": mean, "std": std, "std_seeds": std_seeds, "per_seed": per_seed}
