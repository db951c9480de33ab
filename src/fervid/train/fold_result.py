"""The end of a fold: the selected weights, scored once on the test subjects.

Writes, in this order (``result.json`` last: its presence means the fold is finished):
``model.safetensors`` (fervid checkpoint of the selected weights), ``predictions.csv`` (one
row per test clip, fervid.results.predictions) and ``result.json``, whose metrics are computed
from exactly the rows of ``predictions.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

from fervid.writes import atomic_write_bytes


def _selected_state(plan: dict, module, best, history: list, records) -> tuple[dict, int, str]:
    """The weights to score, their epoch (1-based) and the selection rule in words."""
    import torch

    from fervid.data.splits import subjects_of

    if len(plan["val"]):
        ckpt = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
        state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}
        epoch = int(ckpt["epoch"]) + 1
        n_val = len(subjects_of(records, plan["val"]))
        return (
            state,
            epoch,
            (
                f"best val UAR (epoch {epoch} of {len(history)}) on {n_val} held-out training "
                f"subject{'s' if n_val != 1 else ''}"
            ),
        )
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return state, len(history), f"last epoch ({len(history)}; no validation split)"


def finish_fold(
    config: dict,
    plan: dict,
    fdir: Path,
    module,
    best,
    progress,
    *,
    meta: dict,
    records,
    rule: str,
    protocol: str,
    prepared: dict,
    classes: list[str],
    info,
    train_time: float,
) -> dict:
    """Score fold ``plan`` (``{"seed", "fold", "train", "val", "test"}``) with its selected
    weights; write the fold's files (module docstring) and return its result. ``prepared``:
    folds.json's record of the data (its fingerprint goes into result.json)."""
    from torch.utils.data import DataLoader

    from fervid.checkpoint import CheckpointMeta, save_checkpoint
    from fervid.data import ClipDataset
    from fervid.data.splits import subjects_of
    from fervid.results.predictions import metrics_of, predict_logits, prediction_rows, write_predictions
    from fervid.rundir.folds import subjects_sha1
    from fervid.rundir.integrity import sha256_file
    from fervid.train.model_setup import build_model

    fold, seed, d, p = plan["fold"], plan["seed"], config["data"], config["protocol"]
    history = progress.history
    state, epoch, selection = _selected_state(plan, module, best, history, records)
    model = build_model(config, len(classes))
    model.load_state_dict(state, strict=True)
    model.eval()
    device = module.device
    model.to(device)
    test_set = ClipDataset(
        d["path"],
        plan["test"],
        d["num_frames"],
        sampling=d["sampling"],
        image_size=d["image_size"],
        mean=info.mean,
        std=info.std,
        views=p["test_views"],
        crops=p["test_crops"],
    )
    loader = DataLoader(test_set, batch_size=config["batch_size"], shuffle=False, num_workers=d["num_workers"])
    logits = predict_logits(model, loader, device, chunk=config["batch_size"])
    rows = prediction_rows(test_set.records, test_set.labels, logits, classes, fold=fold, seed=seed)
    write_predictions(fdir / "predictions.csv", rows, classes)
    metrics = metrics_of(rows, classes)

    test_subjects = subjects_of(records, plan["test"])
    save_checkpoint(
        fdir / "model.safetensors",
        model.cpu(),
        CheckpointMeta(
            model=config["model"]["name"],
            num_classes=len(classes),
            num_frames=d["num_frames"],
            image_size=d["image_size"],
            classes=classes,
            mean=list(info.mean),
            std=list(info.std),
            model_kwargs=dict(config["model"]["kwargs"]),
            preprocess=dict(meta.get("preprocess") or {}),
            sampling=d["sampling"],
            extra={
                "dataset": config["dataset"],
                "protocol": protocol,
                "rule": rule,
                "seed": seed,
                "fold": fold,
                "selection": selection,
                "test_subjects": test_subjects,
                "test_views": p["test_views"],
                "test_crops": p["test_crops"],
            },
        ),
    )
    result = {
        "fold": fold,
        "seed": seed,
        **metrics,
        "selection": selection,
        "selected_epoch": epoch,
        "epochs_run": len(history),
        "train_time_s": round(train_time, 2),
        "n_train": int(len(plan["train"])),
        "n_val": int(len(plan["val"])),
        "rule": rule,
        "test_subjects_sha1": subjects_sha1(test_subjects),
        "test_views": p["test_views"],
        "test_crops": p["test_crops"],
        "predictions": "predictions.csv",
        "predictions_sha256": sha256_file(fdir / "predictions.csv"),
        "data_fingerprint": prepared.get("fingerprint"),
        "history": history,
    }
    atomic_write_bytes(fdir / "result.json", (json.dumps(result, indent=2) + "\n").encode())
    return result
