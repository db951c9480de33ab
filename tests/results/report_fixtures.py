"""FIXTURES: hand-written run directories for the report and compare tests.

Nothing here was trained: the fold results are invented numbers, written in the shape of
docs/ARCHITECTURE.md's fold result, so the report code can be checked against known values.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

CLASSES = ["anger", "happiness", "surprise"]

# Per fold: confusion matrix (rows = true class) and the metrics computed from it by hand.
FOLDS = {
    # 3/4 correct; recalls anger 1/2, happiness 1/1, surprise 1/1 -> UAR 5/6.
    # F1: anger 2/3 (P 1, R 1/2), happiness 2/3 (P 1/2, R 1), surprise 1 -> 7/9.
    0: {"cm": [[1, 1, 0], [0, 1, 0], [0, 0, 1]], "accuracy": 3 / 4, "uar": 5 / 6, "macro_f1": 7 / 9},
    # all 3 correct
    1: {"cm": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "accuracy": 1.0, "uar": 1.0, "macro_f1": 1.0},
    # 1/2 correct, no surprise clip: recalls anger 1/1, happiness 0/1 -> UAR 1/2.
    # F1: anger 2/3, happiness 0 (surprise absent from targets and predictions) -> 1/3.
    2: {"cm": [[1, 0, 0], [1, 0, 0], [0, 0, 0]], "accuracy": 1 / 2, "uar": 1 / 2, "macro_f1": 1 / 3},
}

# The same clips, all right.
PERFECT = {
    i: {
        **f,
        "cm": [[sum(row) if r == c else 0 for c in range(3)] for r, row in enumerate(f["cm"])],
        "accuracy": 1.0,
        "uar": 1.0,
        "macro_f1": 1.0,
    }
    for i, f in FOLDS.items()
}

PREPROCESS = {"detector": "haar", "margin": 0.0, "size": 16}


def clip_ids_of(fold: int, cm) -> list[str]:
    """The clips of :func:`write_predictions_of`, in its order."""
    return [f"f{fold}_{true}_{j}" for i, true in enumerate(CLASSES) for j in range(sum(cm[i]))]


def write_predictions_of(fdir: Path, fold: int, cm, subject: str | None, seed: int = 0) -> None:
    """predictions.csv matching confusion matrix ``cm``: the j-th clip of true class i is clip
    ``f{fold}_{class}_{j}``, right for the first cm[i][i] clips, then wrong as the counts say;
    all of ``subject``, or (``None``) each clip its own subject."""
    from fervid.results.predictions import write_predictions

    rows = []
    for i, true in enumerate(CLASSES):
        predicted = [i] * cm[i][i] + [p for p in range(len(CLASSES)) if p != i for _ in range(cm[i][p])]
        for j, p in enumerate(predicted):
            probs = [0.1] * len(CLASSES)
            probs[p] = 0.8
            rows.append(
                {
                    "clip_id": f"f{fold}_{true}_{j}",
                    "subject": subject or f"f{fold}_{true}_{j}",
                    "label": true,
                    "predicted": CLASSES[p],
                    "probs": probs,
                    "fold": fold,
                    "seed": seed,
                }
            )
    write_predictions(fdir / "predictions.csv", rows, CLASSES)


def make_run(
    root: Path,
    *,
    model: str = "c3d",
    folds=(0, 1, 2),
    k: int = 3,
    seed: int = 0,
    test_subjects=None,
    dataset: str = "synth",
    with_results: bool = False,
    preprocess: dict = PREPROCESS,
    fold_data: dict = FOLDS,
    predictions: bool = False,
    data: str = "A",
    legacy: bool = False,
    seeds: tuple[int, ...] = (),
    identities: bool = True,
) -> Path:
    """A run directory with config.yaml, folds.json and fold_XX/result.json for ``folds``
    (``fold_data``: FOLDS or another table of the same shape); ``predictions`` adds each fold's
    predictions.csv; ``with_results`` adds results.json (no plots, to keep tests fast).

    The integrity records (fervid.rundir.integrity) are written as training writes them: the
    data fingerprint (a stand-in named by ``data``: runs with other ``data`` were trained on
    other data under the same names) and each predictions.csv's hash; ``legacy`` leaves them
    out, as runs made before them. ``seeds`` (two or more): the several-seed layout,
    ``seed_S/fold_XX`` for every seed and each of ``folds``. ``identities=False``: data without
    subject identities, each clip its own subject (as the DFEW, FERV39k and MAFW readers make them)."""
    import hashlib

    from fervid.data.manifest import write_meta
    from fervid.rundir.integrity import sha256_file

    root.mkdir(parents=True, exist_ok=True)
    prepared = root.parent / f"prepared_{dataset}"  # only meta.json: names the dataset and classes
    write_meta(prepared, {"dataset": dataset, "classes": CLASSES, "size": 16})
    prepared_info = {"dataset": dataset, "size": 16, "preprocess": preprocess, "options": {}}
    fingerprint = None if legacy else hashlib.sha256(f"{dataset}/{data}".encode()).hexdigest()
    if not legacy:
        prepared_info.update(fingerprint=fingerprint, subject_ids=identities)
    config = {
        "dataset": None,
        "seed": seed,
        "model": {"name": model, "kwargs": {}},
        "data": {"path": str(prepared), "num_frames": 8, "image_size": 16},
        "protocol": {"folds": k, "rule": "id", "val_subjects": 0.25},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    subjects = test_subjects or [[f"S{i}"] if identities else clip_ids_of(i, fold_data[i]["cm"]) for i in range(k)]
    (root / "folds.json").write_text(
        json.dumps(
            {
                "rule": "id",
                "k": k,
                "seed": seed,
                **({"seeds": list(seeds)} if seeds else {}),
                "prepared": prepared_info,
                "folds": [
                    {
                        **({"seed": s} if seeds else {}),
                        "fold": i,
                        "train_subjects": [],
                        "val_subjects": [],
                        "test_subjects": subjects[i],
                    }
                    for s in seeds or [seed]
                    for i in range(k)
                ],
            }
        )
    )
    for run_seed, i in [(s, i) for s in seeds or [seed] for i in folds]:
        f = fold_data[i]
        result = {
            "fold": i,
            "seed": run_seed,
            "accuracy": f["accuracy"],
            "uar": f["uar"],
            "macro_f1": f["macro_f1"],
            "confusion_matrix": f["cm"],
            "n_test": sum(map(sum, f["cm"])),
            "selection": f"best val UAR (epoch {i + 1} of 3) on 1 held-out training subject",
            "selected_epoch": i + 1,
            "epochs_run": 3,
            "train_time_s": 10.0 * (i + 1),
            "history": [
                {
                    "epoch": e,
                    "train_loss": 1.0 / (e + 1),
                    "val_loss": 1.2 / (e + 1),
                    "val_uar": 0.3 + 0.1 * e,
                    "lr": 1e-3,
                }
                for e in range(3)
            ],
        }
        fdir = root / (f"seed_{run_seed}/fold_{i:02d}" if len(seeds) > 1 else f"fold_{i:02d}")
        fdir.mkdir(parents=True, exist_ok=True)
        if predictions:
            write_predictions_of(fdir, i, f["cm"], subjects[i][0] if identities else None, run_seed)
        if not legacy:
            result["data_fingerprint"] = fingerprint
            if predictions:
                result["predictions_sha256"] = sha256_file(fdir / "predictions.csv")
        (fdir / "result.json").write_text(json.dumps(result))
    if with_results:
        from fervid.results.report import build_results

        (root / "results.json").write_text(json.dumps(build_results(root)))
    return root


def assert_png(path: Path) -> None:
    """A real, decodable PNG with some extent."""
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
