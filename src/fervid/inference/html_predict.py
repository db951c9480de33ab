"""``fervid predict ... --html OUT.html``: predictions as one self-contained page.

Per video: the timeline plot, the sampled face crops beside it (and, with ``--saliency``, where
the model looked in each: the crop's overlay from ``fervid explain`` on the face window around
it, for that window's predicted class), the windows table and the overall probabilities; with
``faces="all"``, all of that once per face. Table cells carry the prediction JSON's values in
``data-value``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fervid.htmlpage import Num, esc, figure, img, page, png_bytes, table, write_page
from fervid.inference.api import Predictor, TrackPrediction, VideoPrediction


@dataclass
class PredictionPage:
    """One video's prediction and, when asked, the saliency overlays of each face's sampled crops."""

    prediction: VideoPrediction
    # face (track id) -> [(caption, overlay uint8 (S, S, 3)), ...]
    saliency: dict[int, list[tuple[str, np.ndarray]]] = field(default_factory=dict)


def predict_with_saliency(predictor: Predictor, video, *, window=None, stride=None, **options) -> PredictionPage:
    """Predict ``video`` and explain, for each face, the face window nearest each sampled crop
    (one pass of face cropping: the crops are kept for it). ``options`` go to ``Predictor.predict``."""
    pred = predictor.predict(video, window=window, stride=stride, keep_crops=True, **options)
    out = {t.id: _track_saliency(predictor, t, str(video)) for t in pred.tracks}
    for t in pred.tracks:
        t.clip = None  # the crops were kept only for this
    return PredictionPage(pred, out)


def _track_saliency(predictor: Predictor, track: TrackPrediction, name: str) -> list[tuple[str, np.ndarray]]:
    from fervid.inference.explain import explain_clip
    from fervid.inference.explain_outputs import overlay

    faces = [w for w in track.windows if w.label is not None]
    cache, out = {}, []
    first, fps = track.first_frame, track.fps
    for t, _ in track.thumbnails if faces else []:  # no labelled window: nothing to explain
        frame = int(round(t * fps))
        w = min(faces, key=lambda w: abs((w.start_frame + w.end_frame - 1) / 2 - frame))
        key = (w.start_frame - first, w.end_frame - first)  # in the track's own crops
        if key not in cache:
            cache[key] = explain_clip(track.clip, predictor, span=key, target=w.label, name=name, fps=fps)
        ex = cache[key]
        j = int(np.abs(ex.frame_index + first - frame).argmin())
        caption = f"{(ex.frame_index[j] + first) / fps:.2f} s: {ex.target} ({ex.probs[ex.target]:.2f})"
        out.append((caption, overlay(ex.frames[j], ex.saliency[j])))
    return out


def _tables(windows, probs, classes, ids: str) -> list[str]:
    rows = []
    for w in windows:
        d = w.to_dict()  # the JSON's (rounded) values
        cells = [
            Num(d["start_s"], f"{w.start_s:.2f}"),
            Num(d["end_s"], f"{w.end_s:.2f}"),
            Num(d["face_rate"], f"{w.face_rate:.0%}"),
            w.label or "no face",
        ]
        cells += [Num(w.probs[c], f"{w.probs[c]:.3f}") if w.probs else "–" for c in classes]
        rows.append(cells)
    out = [
        table(["start (s)", "end (s)", "face", "label", *classes], rows, caption="windows", table_id=f"windows-{ids}")
    ]
    if probs is not None:
        out.append(
            table(
                ["class", "probability"],
                [[c, Num(probs[c], f"{probs[c]:.3f}")] for c in classes],
                caption="overall",
                table_id=f"overall-{ids}",
            )
        )
    return out


def _strips(thumbnails, saliency) -> list[str]:
    out = [
        "<h3>Sampled face crops</h3>",
        '<div class="strip">' + "".join(figure(png_bytes(c), f"{t:.2f} s") for t, c in thumbnails) + "</div>",
    ]
    if saliency:
        out += [
            "<h3>Saliency (where the model looked)</h3>",
            '<div class="strip">' + "".join(figure(png_bytes(o), cap) for cap, o in saliency) + "</div>",
        ]
    return out


def _video_section(pg: PredictionPage, index: int) -> str:
    from fervid.inference.plot import timeline_png

    p = pg.prediction
    out = [f'<section id="video-{index}"><h2>{esc(os.path.basename(p.video))}</h2>']
    if p.faces != "all":
        overall = "no face" if p.label is None else f"{p.label} ({p.probs[p.label]:.2f})"
        out += [
            f"<p>{esc(p.video)}: {p.frames} frames at {p.fps:.2f} fps, face in {p.face_rate:.0%} of frames; "
            f"overall: <strong>{esc(overall)}</strong> (mean over the windows with a face).</p>",
            f"<figure>{img(timeline_png(p), 'class probabilities over time')}<figcaption>class probabilities at "
            "window centres; grey: no face</figcaption></figure>",
        ]
        out += _strips(p.thumbnails, pg.saliency.get(1))
        out += _tables(p.windows, p.probs, p.classes, str(index))
        return "\n".join(out) + "</section>"
    n = len(p.tracks)
    out.append(
        f"<p>{esc(p.video)}: {p.frames} frames at {p.fps:.2f} fps; {n} face{'s' * (n != 1)}, "
        f"a face in {p.face_rate:.0%} of frames"
        + (f" ({p.dropped_tracks} brief detections not reported)" if p.dropped_tracks else "")
        + ".</p>"
    )
    for t in p.tracks:
        overall = "no face" if t.label is None else f"{t.label} ({t.probs[t.label]:.2f})"
        out += [
            f'<section id="video-{index}-face-{t.id}"><h3>Face {t.id}</h3>',
            f"<p>Seen from {t.first_s:.2f} s to {t.last_s:.2f} s, in {t.face_rate:.0%} of those frames; "
            f"overall: <strong>{esc(overall)}</strong> (mean over its windows with a face).</p>",
            f"<figure>{img(timeline_png(p, t), f'face {t.id}: class probabilities over time')}<figcaption>class "
            "probabilities at window centres; grey: no face</figcaption></figure>",
        ]
        out += _strips(t.thumbnails, pg.saliency.get(t.id))
        out += _tables(t.windows, t.probs, p.classes, f"{index}-{t.id}")
        out.append("</section>")
    return "\n".join(out) + "</section>"


def write_predict_html(path: str | os.PathLike, pages: list[PredictionPage]) -> Path:
    """One page for all videos, in order (the same order as the JSON list)."""
    title = "fervid predict: " + ", ".join(os.path.basename(pg.prediction.video) for pg in pages)
    body = ["<h1>Expression predictions</h1>"] + [_video_section(pg, i) for i, pg in enumerate(pages)]
    write_page(path, page(title, body))
    return Path(path)
