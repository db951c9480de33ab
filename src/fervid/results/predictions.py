"""Per-clip predictions: scoring with test-time views, and ``predictions.csv``.

``predictions.csv`` (every fold writes one; ``fervid evaluate --predictions FILE`` too), one row
per scored clip, in manifest order::

    clip_id,subject,label,predicted,prob_<class 0>,…,prob_<class C-1>,fold,seed

``label`` and ``predicted`` are class names (the model's classes, in the order of the ``prob_``
columns); ``predicted`` is the arg-max of the logits averaged over the test views (the first
class on a tie), ``prob_<class>`` the softmax of those averaged logits, written to 6
significant digits; ``fold`` and ``seed`` are integers, empty when unknown (``evaluate`` on all
clips). A fold's metrics in ``result.json`` are computed from exactly these rows
(:func:`metrics_of`), so re-reading the file gives them to the last digit.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from fervid.errors import FervidError

HEAD = ("clip_id", "subject", "label", "predicted")
TAIL = ("fold", "seed")
PREFIX = "prob_"


def predict_logits(model, loader, device, *, chunk: int):
    """Logits (float32 tensor ``(N, C)``) of every clip of ``loader``, averaged over its test views.

    Batches are ``(B, 3, T, S, S)`` or, with views, ``(B, V, 3, T, S, S)``; the ``B * V`` clips go
    through the model ``chunk`` at a time, so views do not multiply the peak memory.
    """
    import torch

    out = []
    with torch.inference_mode():
        for clips, _ in loader:
            views = clips.shape[1] if clips.ndim == 6 else 1
            flat = clips.reshape(-1, *clips.shape[-4:])  # (B * V, 3, T, S, S), view-minor
            logits = torch.cat([model(part.to(device)).float().cpu() for part in flat.split(chunk)])
            out.append(logits.view(clips.shape[0], views, -1).mean(dim=1))  # (B, C)
    return torch.cat(out)


def prediction_rows(records, targets, logits, classes: list[str], *, fold: int | None, seed: int | None) -> list[dict]:
    """One dict per clip: ``clip_id, subject, label, predicted, probs (list), fold, seed``.

    ``records``: the scored ClipRecords; ``targets``: their class indices into ``classes``
    (the model's); ``logits``: ``(N, C)``.
    """
    probs = logits.double().softmax(dim=1).tolist()
    preds = logits.argmax(dim=1).tolist()
    return [
        {
            "clip_id": r.clip_id,
            "subject": r.subject,
            "label": classes[int(t)],
            "predicted": classes[p],
            "probs": pr,
            "fold": fold,
            "seed": seed,
        }
        for r, t, p, pr in zip(records, targets, preds, probs)
    ]


def write_predictions(path: str | os.PathLike, rows: list[dict], classes: list[str]) -> None:
    """Write ``predictions.csv`` atomically (columns in the module docstring)."""
    from fervid.data.manifest import write_csv_atomic

    def cell(v):
        return "" if v is None else v

    header = [*HEAD, *(PREFIX + c for c in classes), *TAIL]
    write_csv_atomic(
        path,
        header,
        [
            [
                r["clip_id"],
                r["subject"],
                r["label"],
                r["predicted"],
                *(f"{p:.6g}" for p in r["probs"]),
                cell(r["fold"]),
                cell(r["seed"]),
            ]
            for r in rows
        ],
    )


def read_predictions(path: str | os.PathLike) -> tuple[list[str], list[dict]]:
    """``(classes, rows)`` of a ``predictions.csv``, rows as :func:`prediction_rows` makes them."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            table = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FervidError(f"{path}: unreadable predictions ({e})") from None
    header = table[0] if table else []
    middle = header[len(HEAD) : -len(TAIL)]
    if (
        tuple(header[: len(HEAD)]) != HEAD
        or tuple(header[-len(TAIL) :]) != TAIL
        or not middle
        or not all(c.startswith(PREFIX) for c in middle)
    ):
        raise FervidError(
            f"{path}: not a predictions.csv (expected columns {', '.join(HEAD)}, {PREFIX}<class>…, {', '.join(TAIL)})"
        )
    classes = [c[len(PREFIX) :] for c in middle]
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        try:
            if len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells for {len(header)} columns")
            r = dict(zip(header, cells))
            if r["label"] not in classes or r["predicted"] not in classes:
                raise ValueError(f"class {r['label']!r} or {r['predicted']!r} not among the prob_ columns")
            rows.append(
                {
                    "clip_id": r["clip_id"],
                    "subject": r["subject"],
                    "label": r["label"],
                    "predicted": r["predicted"],
                    "probs": [float(r[c]) for c in middle],
                    "fold": int(r["fold"]) if r["fold"] else None,
                    "seed": int(r["seed"]) if r["seed"] else None,
                }
            )
        except ValueError as e:
            raise FervidError(f"{path}:{line}: malformed prediction row ({e})") from None
    return classes, rows


def metrics_of(rows: list[dict], classes: list[str]) -> dict:
    """The fold metrics (fervid.results.metrics.compute_metrics) of prediction rows."""
    from fervid.results.metrics import compute_metrics

    index = {c: i for i, c in enumerate(classes)}
    preds = [index[r["predicted"]] for r in rows]
    targets = [index[r["label"]] for r in rows]
    return compute_metrics(preds, targets, len(classes))
