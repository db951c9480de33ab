"""Score zero-shot CLIP on a prepared dataset, with the metrics of a trained model.

``fervid evaluate --zero-shot clip --data PREPARED`` builds the zero-shot predictor
(:func:`fervid.inference.zero_shot.load_zero_shot`) for the dataset's own label set (so neutral is
in it wherever the dataset has it), each clip's prompts following CLIP's FER2013 recipe or a
``--prompts`` file, and scores every clip (or one fold's test subjects) exactly as
:func:`fervid.results.evaluate.evaluate_checkpoint` scores a checkpoint: WAR (accuracy), UAR,
macro-F1, the confusion matrix, ``--predictions`` rows. The clips are the prepared face crops,
resized to the weights' image size, ``ZERO_SHOT_FRAMES`` sampled uniformly per clip.
"""

from __future__ import annotations

import os

from fervid.errors import FervidError


def evaluate_zero_shot(
    data: str | os.PathLike,
    *,
    model: str = "clip",
    weights: str | os.PathLike | None = None,
    prompts: str | os.PathLike | None = None,
    fold: int | None = None,
    run_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    device: str = "cpu",
    predictions: str | os.PathLike | None = None,
) -> dict:
    """The result dict of ``evaluate_checkpoint``, plus ``"prompts"`` (what each class was scored against)."""
    from fervid.data import read_meta
    from fervid.inference.zero_shot import load_zero_shot
    from fervid.results.evaluate import evaluate_checkpoint

    if fold is not None and run_dir is None:
        raise FervidError("--fold with --zero-shot needs --run-dir RUN (the run whose folds.json names the subjects)")
    prepared = read_meta(data)
    classes = None if prompts is not None else list(prepared.get("classes") or [])
    predictor = load_zero_shot(weights, model=model, classes=classes, prompts=prompts, device=device)
    predictor.meta.preprocess = dict(prepared.get("preprocess") or {})  # the clips are the dataset's crops
    result = evaluate_checkpoint(
        predictor.source,
        data,
        fold=fold,
        run_dir=run_dir,
        batch_size=batch_size,
        device=device,
        views=1,
        crops=1,
        predictions=predictions,
        loaded=(predictor.model, predictor.meta),
    )
    result["prompts"] = predictor.meta.extra["prompts"]
    result["notes"].insert(
        0,
        f"zero-shot {model}: not trained on any data, so every clip is held out; prompts: {result['prompts']['recipe']}",
    )
    return result
