"""Writing predictions: terminal table, JSON, CSV (all writes atomic)."""

from __future__ import annotations

import json
import os

from fervid.inference.api import VideoPrediction
from fervid.writes import atomic_write_bytes

NO_FACE = "no face"


def _windows_table(windows, label, probs, indent: str = "  ") -> list[str]:
    rows = [("time (s)", "face", "label", "p")]
    for w in windows:
        p = f"{w.probs[w.label]:.2f}" if w.label is not None else "-"
        rows.append((f"{w.start_s:.2f} - {w.end_s:.2f}", f"{w.face_rate:.0%}", w.label or NO_FACE, p))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [indent + "  ".join(c.ljust(wd) for c, wd in zip(r, widths)).rstrip() for r in rows]
    if label is None:
        lines.append(f"{indent}overall: {NO_FACE} (no window had a face in enough frames)")
    else:
        n_face = sum(w.label is not None for w in windows)
        lines.append(f"{indent}overall: {label} ({probs[label]:.2f}, mean over {n_face} face windows)")
    return lines


def format_table(pred: VideoPrediction) -> str:
    """A readable per-window table with the overall label underneath (one per face with ``faces="all"``)."""
    if pred.faces != "all":
        head = f"{pred.video}  ({pred.frames} frames, {pred.fps:.2f} fps, face in {pred.face_rate:.0%} of frames)"
        return "\n".join([head] + _windows_table(pred.windows, pred.label, pred.probs))
    n = len(pred.tracks)
    head = (
        f"{pred.video}  ({pred.frames} frames, {pred.fps:.2f} fps, {n} face{'s' * (n != 1)}, "
        f"a face in {pred.face_rate:.0%} of frames)"
    )
    lines = [head]
    for t in pred.tracks:
        lines.append(f"  face {t.id}  ({t.first_s:.2f} - {t.last_s:.2f} s, seen in {t.face_rate:.0%} of its frames)")
        lines += _windows_table(t.windows, t.label, t.probs, indent="    ")
    if pred.dropped_tracks:
        lines.append(f"  ({pred.dropped_tracks} brief detections not reported: too few to be a face)")
    return "\n".join(lines)


def write_json(path: str | os.PathLike, preds: list[VideoPrediction]) -> None:
    """One video: a single object; several: a list of objects (see docs/predict.md)."""
    doc = preds[0].to_dict() if len(preds) == 1 else [p.to_dict() for p in preds]
    atomic_write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode(), what="predictions as JSON")


def csv_header(classes: list[str], *, tracks: bool) -> list[str]:
    return ["video"] + ["track"] * tracks + ["start_s", "end_s", "face_rate", "label"] + [f"p_{c}" for c in classes]


def csv_row(video: str, w, classes: list[str], track: int | None = None) -> list:
    """One window as a CSV row (``track`` only with ``faces="all"``)."""
    probs = [w.probs[c] for c in classes] if w.probs else [""] * len(classes)
    head = [video] + ([track] if track is not None else [])
    return head + [f"{w.start_s:.4f}", f"{w.end_s:.4f}", f"{w.face_rate:.4f}", w.label or ""] + probs


def write_csv(path: str | os.PathLike, preds: list[VideoPrediction]) -> None:
    """One row per window: ``video,start_s,end_s,face_rate,label,p_<class>...`` (empty when no face);
    with ``faces="all"`` a ``track`` column follows ``video`` and each face's windows are listed in turn."""
    from fervid.data.manifest import write_csv_atomic

    classes = preds[0].classes if preds else []
    tracks = any(p.faces == "all" for p in preds)
    rows = []
    for p in preds:
        if tracks:
            rows += [csv_row(p.video, w, classes, t.id) for t in p.tracks for w in t.windows]
        else:
            rows += [csv_row(p.video, w, classes) for w in p.windows]
    write_csv_atomic(path, csv_header(classes, tracks=tracks), rows)
