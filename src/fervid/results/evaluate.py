"""Re-score a fervid checkpoint on a prepared dataset: all clips, or one fold's test subjects.

Classes are matched by canonical name, not index: a model trained on one class order can be
scored on a dataset listing its classes in another. A test clip whose class the model does not
know is an error (dropping it would flatter the score). Scoring is the fold's own
(fervid.results.predictions), test-time views included, so re-scoring a fold checkpoint on its
test subjects reproduces its result; ``predictions=FILE`` writes the per-clip rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fervid.classes import canonical
from fervid.errors import FervidError


def fold_test_subjects(run_dir: str | os.PathLike, fold: int) -> list[str]:
    """Test subjects of ``fold`` in ``RUN/folds.json`` (matched on its ``fold`` field)."""
    path = Path(run_dir) / "folds.json"
    if not path.is_file():
        raise FervidError(f"{path}: missing; --fold needs the run directory that holds the fold lists")
    try:
        folds = json.loads(path.read_text())["folds"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FervidError(f"{path}: unreadable fold lists ({e})") from None
    for f in folds:
        if int(f.get("fold", -1)) == int(fold):
            return [str(s) for s in f["test_subjects"]]
    raise FervidError(f"{path}: no fold {fold}; it lists folds {', '.join(str(f.get('fold')) for f in folds)}")


def evaluate_checkpoint(
    ckpt: str | os.PathLike,
    data: str | os.PathLike,
    *,
    fold: int | None = None,
    run_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    device: str = "cpu",
    views: int | None = None,
    crops: int | None = None,
    predictions: str | os.PathLike | None = None,
    loaded: tuple | None = None,
) -> dict:
    """Metrics of checkpoint ``ckpt`` on prepared dataset ``data`` (see :func:`compute_metrics`).

    With ``fold``, only the clips of that fold's test subjects (from ``run_dir``/folds.json, by
    default the run that holds the checkpoint) are scored. ``views``/``crops``: test-time
    views (default: those the checkpoint's run tested with, recorded in it; else 1). With
    ``predictions``, the per-clip rows go to that CSV (fervid.results.predictions' format; fold
    is ``fold`` or empty, seed the checkpoint's). The result adds ``classes`` (the model's,
    indexing the confusion matrix), ``model``, ``checkpoint``, ``data``, ``fold``, ``test_views``,
    ``test_crops`` and ``notes`` (a score that is not held out, preprocessing that differs).
    ``loaded``: ``(model, CheckpointMeta)`` already built (zero-shot CLIP:
    ``fervid.results.evaluate_zero_shot``); ``ckpt`` then only names it.
    """
    import torch
    from torch.utils.data import DataLoader

    from fervid.checkpoint import load_checkpoint
    from fervid.data import ClipDataset, read_manifest, read_meta
    from fervid.results.predictions import metrics_of, predict_logits, prediction_rows, write_predictions
    from fervid.rundir.layout import run_dir_of

    ckpt, data = Path(ckpt), Path(data)
    if batch_size < 1:
        raise FervidError(f"batch size must be at least 1, got {batch_size}")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise FervidError(f"device {device!r}: CUDA is not available on this machine")
    model, meta = loaded if loaded is not None else load_checkpoint(ckpt, map_location=device)
    model = model.to(device).eval()
    prepared = read_meta(data)
    records = read_manifest(data)

    indices = list(range(len(records)))
    if fold is not None:
        run = Path(run_dir) if run_dir is not None else run_dir_of(ckpt)
        if run is None:
            raise FervidError(f"{ckpt}: not inside a run directory; pass --run-dir RUN to use --fold")
        subjects = set(fold_test_subjects(run, fold))
        indices = [i for i, r in enumerate(records) if r.subject in subjects]
        absent = sorted(subjects - {records[i].subject for i in indices})
        if absent:
            raise FervidError(
                f"{data}: fold {fold}'s test subjects {', '.join(absent[:5])} have no clips here; "
                f"is this the dataset {run} was trained on?"
            )
    if not indices:
        raise FervidError(f"{data}: no clips to score")

    model_index = {canonical(c): i for i, c in enumerate(meta.classes)}
    data_classes = list(prepared.get("classes") or [])
    used = sorted({records[i].label for i in indices})
    unknown = [c for c in used if canonical(c) not in model_index]
    if unknown:
        raise FervidError(
            f"{data}: class(es) {', '.join(unknown)} unknown to the model in {ckpt} "
            f"(it knows {', '.join(meta.classes)})"
        )
    # Dataset label index -> model class index, by canonical name.
    to_model = torch.tensor([model_index.get(canonical(c), -1) for c in data_classes])

    views = int(views or meta.extra.get("test_views") or 1)
    crops = int(crops or meta.extra.get("test_crops") or 1)
    dataset = ClipDataset(
        data,
        indices,
        meta.num_frames,
        train=False,
        sampling=meta.sampling,
        image_size=meta.image_size,
        mean=meta.mean,
        std=meta.std,
        views=views,
        crops=crops,
    )
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    logits = predict_logits(model, loader, device, chunk=batch_size)  # (N, C), views averaged
    targets = to_model[torch.as_tensor(dataset.labels)]  # dataset label index -> model class index
    rows = prediction_rows(dataset.records, targets, logits, list(meta.classes), fold=fold, seed=meta.extra.get("seed"))
    if predictions is not None:
        write_predictions(predictions, rows, list(meta.classes))
    metrics = metrics_of(rows, list(meta.classes))

    notes = []
    held_out = meta.extra.get("test_subjects")
    # Subjects, not dataset names: a config's name ("oulu") and meta.json's ("oulu-casia") differ.
    if isinstance(held_out, list):
        scored = {records[i].subject for i in indices}
        seen = scored - set(map(str, held_out))
        if seen:
            notes.append(
                f"{len(seen)} of {len(scored)} scored subjects are outside the checkpoint's test fold "
                f"(fold {meta.extra.get('fold')}): they may have been trained on, so this is not a "
                "held-out score"
            )
    if meta.preprocess and prepared.get("preprocess") and meta.preprocess != prepared["preprocess"]:
        notes.append("the dataset was face-cropped with other settings than the model's training data")
    return {
        **metrics,
        "classes": list(meta.classes),
        "model": meta.model,
        "checkpoint": str(ckpt),
        "data": str(data),
        "dataset": prepared.get("dataset"),
        "fold": fold,
        "test_views": views,
        "test_crops": crops,
        "notes": notes,
    }
