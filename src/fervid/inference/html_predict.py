"""``fervid predict ... --html OUT.html``: predictions as one self-contained page.

Per video: the timeline plot, the sampled face crops beside it (and, with ``--saliency``, where
the model looked in each: the crop's overlay from ``fervid explain`` on the face window around
it, for that window's predicted class), the windows table and the overall probabilities. Table
cells carry the prediction JSON's values in ``data-value``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fervid.htmlpage import Num, esc, figure, img, page, png_bytes, table, write_page
from fervid.inference.api import Predictor, VideoPrediction


@dataclass
class PredictionPage:
    """One video's prediction and, when asked, the saliency overlays of its sampled crops."""

    prediction: VideoPrediction
    saliency: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (caption, overlay uint8 (S, S, 3))


def predict_with_saliency(predictor: Predictor, video, *, window=None, stride=None) -> PredictionPage:
    """Predict ``video`` and explain the face window nearest each sampled crop (one pass of face cropping)."""
    from fervid.data.video import read_video
    from fervid.errors import FervidError
    from fervid.inference.explain import explain_clip
    from fervid.inference.explain_outputs import overlay

    v = read_video(video)
    if not v.frames:
        raise FervidError(f"{video}: no frames decoded")
    crop = predictor.cropper.crop(v.frames)
    pred = predictor.predict_crop(crop, v.fps, name=str(video), window=window, stride=stride)
    faces = [w for w in pred.windows if w.label is not None]
    cache, out = {}, []
    for t, _ in pred.thumbnails if faces else []:  # no labelled window: nothing to explain
        frame = int(round(t * v.fps))
        w = min(faces, key=lambda w: abs((w.start_frame + w.end_frame - 1) / 2 - frame))
        key = (w.start_frame, w.end_frame)
        if key not in cache:
            cache[key] = explain_clip(
                np.asarray(crop.clip), predictor, span=key, target=w.label, name=str(video), fps=v.fps
            )
        ex = cache[key]
        j = int(np.abs(ex.frame_index - frame).argmin())
        caption = f"{ex.frame_index[j] / v.fps:.2f} s: {ex.target} ({ex.probs[ex.target]:.2f})"
        out.append((caption, overlay(ex.frames[j], ex.saliency[j])))
    return PredictionPage(pred, out)


def _video_section(pg: PredictionPage, index: int) -> str:
    from fervid.inference.plot import timeline_png

    p = pg.prediction
    overall = "no face" if p.label is None else f"{p.label} ({p.probs[p.label]:.2f})"
    out = [
        f'<section id="video-{index}"><h2>{esc(os.path.basename(p.video))}</h2>',
        f"<p>{esc(p.video)}: {p.frames} frames at {p.fps:.2f} fps, face in {p.face_rate:.0%} of frames; "
        f"overall: <strong>{esc(overall)}</strong> (mean over the windows with a face).</p>",
        f"<figure>{img(timeline_png(p), 'class probabilities over time')}<figcaption>class probabilities at "
        "window centres; grey: no face</figcaption></figure>",
        "<h3>Sampled face crops</h3>",
        '<div class="strip">' + "".join(figure(png_bytes(c), f"{t:.2f} s") for t, c in p.thumbnails) + "</div>",
    ]
    if pg.saliency:
        out += [
            "<h3>Saliency (where the model looked)</h3>",
            '<div class="strip">' + "".join(figure(png_bytes(o), cap) for cap, o in pg.saliency) + "</div>",
        ]
    rows = []
    for w in p.windows:
        d = w.to_dict()  # the JSON's (rounded) values
        cells = [
            Num(d["start_s"], f"{w.start_s:.2f}"),
            Num(d["end_s"], f"{w.end_s:.2f}"),
            Num(d["face_rate"], f"{w.face_rate:.0%}"),
            w.label or "no face",
        ]
        cells += [Num(w.probs[c], f"{w.probs[c]:.3f}") if w.probs else "–" for c in p.classes]
        rows.append(cells)
    out.append(
        table(
            ["start (s)", "end (s)", "face", "label", *p.classes], rows, caption="windows", table_id=f"windows-{index}"
        )
    )
    if p.probs is not None:
        out.append(
            table(
                ["class", "probability"],
                [[c, Num(p.probs[c], f"{p.probs[c]:.3f}")] for c in p.classes],
                caption="overall",
                table_id=f"overall-{index}",
            )
        )
    return "\n".join(out) + "</section>"


def write_predict_html(path: str | os.PathLike, pages: list[PredictionPage]) -> Path:
    """One page for all videos, in order (the same order as the JSON list)."""
    title = "fervid predict: " + ", ".join(os.path.basename(pg.prediction.video) for pg in pages)
    body = ["<h1>Expression predictions</h1>"] + [_video_section(pg, i) for i, pg in enumerate(pages)]
    write_page(path, page(title, body))
    return Path(path)
