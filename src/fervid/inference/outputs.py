"""Writing predictions: terminal table, JSON, CSV (all writes atomic)."""

from __future__ import annotations

import json
import os

from fervid.checkpoint import atomic_write_bytes
from fervid.inference.api import VideoPrediction

NO_FACE = "no face"


def format_table(pred: VideoPrediction) -> str:
    """A readable per-window table with the video's overall label underneath."""
    head = f"{pred.video}  ({pred.frames} frames, {pred.fps:.2f} fps, face in {pred.face_rate:.0%} of frames)"
    rows = [("time (s)", "face", "label", "p")]
    for w in pred.windows:
        p = f"{w.probs[w.label]:.2f}" if w.label is not None else "-"
        rows.append((f"{w.start_s:.2f} - {w.end_s:.2f}", f"{w.face_rate:.0%}", w.label or NO_FACE, p))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head] + ["  " + "  ".join(c.ljust(wd) for c, wd in zip(r, widths)).rstrip() for r in rows]
    if pred.label is None:
        lines.append(f"  overall: {NO_FACE} (no window had a face in enough frames)")
    else:
        n_face = sum(w.label is not None for w in pred.windows)
        lines.append(f"  overall: {pred.label} ({pred.probs[pred.label]:.2f}, mean over {n_face} face windows)")
    return "\n".join(lines)


def write_json(path: str | os.PathLike, preds: list[VideoPrediction]) -> None:
    """One video: a single object; several: a list of objects (see docs/predict.md)."""
    doc = preds[0].to_dict() if len(preds) == 1 else [p.to_dict() for p in preds]
    atomic_write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode(), what="predictions as JSON")


def write_csv(path: str | os.PathLike, preds: list[VideoPrediction]) -> None:
    """One row per window: ``video,start_s,end_s,face_rate,label,p_<class>...`` (empty when no face)."""
    from fervid.data.manifest import write_csv_atomic

    classes = preds[0].classes if preds else []
    header = ["video", "start_s", "end_s", "face_rate", "label"] + [f"p_{c}" for c in classes]
    rows = []
    for p in preds:
        for w in p.windows:
            probs = [w.probs[c] for c in classes] if w.probs else [""] * len(classes)
            rows.append([p.video, f"{w.start_s:.4f}", f"{w.end_s:.4f}", f"{w.face_rate:.4f}", w.label or ""] + probs)
    write_csv_atomic(path, header, rows)
