"""Python API of ``fervid explain``: where a model looked, per frame, and which frames mattered.

    >>> from fervid.inference.explain import explain_video, explain_clip
    >>> ex = explain_video("clip.mp4", "run/fold_00/model.safetensors").explanations[0]
    >>> ex.saliency.shape, ex.temporal, ex.predicted      # (T, S, S) in [0, 1], (T,) summing to 1

The maps come from :mod:`fervid.inference.saliency` (Grad-CAM for CNNs, gradient-weighted
attention for transformers) at the model's input size, resized to the face crops (the clip's
own size), so ``saliency[i]`` lies on ``frames[i]``. docs/explain.md says what each means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fervid.errors import FervidError
from fervid.inference.api import Predictor, VideoPrediction, load_model
from fervid.inference.predict import MIN_FACE_RATE, window_input

TEMPORAL_DEFINITION = "share of the gradient x input attribution |x * dy/dx| summed over each frame's pixels"


@dataclass
class Explanation:
    """Saliency of one clip (or one window of a video) for one class."""

    source: str  # the video, .npy file or clip id
    model: str
    method: str  # how the maps were made, in words
    classes: list[str]
    target: str  # the class explained
    predicted: str
    probs: dict[str, float]
    label: str | None  # the true label, when known (prepared clips)
    frame_index: np.ndarray  # (T,) int: the frames of the clip/video the model saw
    frames: np.ndarray  # (T, S, S, 3) uint8 RGB: those face crops
    saliency: np.ndarray  # (T, S, S) float32 in [0, 1], on the crops; 1 = the clip's maximum
    temporal: np.ndarray  # (T,) float, sums to 1: TEMPORAL_DEFINITION
    fps: float | None = None  # videos: frame_index / fps are the times
    span: tuple[int, int] | None = None  # videos: the window [start, end) of frames

    def to_dict(self) -> dict:
        """The JSON form (no maps: they go to ``.npy``)."""
        from fervid.inference.pointing import peak

        peaks = [peak(m) for m in self.saliency]
        frames = []
        for f, w, (y, x) in zip(self.frame_index, self.temporal, peaks):
            row = {"index": int(f), "importance": round(float(w), 6), "peak_xy": [int(x), int(y)]}
            if self.fps:
                row["time_s"] = round(float(f) / self.fps, 4)
            frames.append(row)
        out = {
            "source": self.source,
            "model": self.model,
            "method": self.method,
            "target": self.target,
            "predicted": self.predicted,
            "label": self.label,
            "probs": self.probs,
            "crop_size": int(self.frames.shape[1]),
            "temporal_importance": TEMPORAL_DEFINITION,
            "frames": frames,
        }
        if self.span is not None:
            out["window"] = {"start_frame": self.span[0], "end_frame": self.span[1]}
        return out


@dataclass
class VideoExplanation:
    prediction: VideoPrediction
    explanations: list[Explanation] = field(default_factory=list)


def _predictor(checkpoint_or_model) -> Predictor:
    return checkpoint_or_model if isinstance(checkpoint_or_model, Predictor) else load_model(checkpoint_or_model)


def _class_index(predictor: Predictor, target: str | int | None) -> int | None:
    if target is None or isinstance(target, int):
        return target
    if target not in predictor.classes:
        raise FervidError(f"target class {target!r} is not one of the model's: {', '.join(predictor.classes)}")
    return predictor.classes.index(target)


def explain_clip(
    clip: np.ndarray,
    checkpoint_or_model: str | os.PathLike | Predictor,
    *,
    span: tuple[int, int] | None = None,
    target: str | int | None = None,
    name: str = "<clip>",
    label: str | None = None,
    fps: float | None = None,
) -> Explanation:
    """Explain face crops ``clip`` (uint8 ``(N, S, S, 3)`` RGB, as ``fervid prepare`` stores them).

    The model's ``T`` frames are taken from ``span`` (default: the whole clip) with the
    checkpoint's temporal sampling, as in evaluation. ``target``: a class name or index (default:
    the predicted class).
    """
    predictor = _predictor(checkpoint_or_model)
    from fervid.inference.saliency import clip_saliency, method_name

    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8 or len(clip) == 0:
        raise FervidError(f"{name}: expected face crops uint8 (N, H, W, 3), got {clip.dtype} {clip.shape}")
    m = predictor.meta
    idx, x = window_input(
        clip,
        span or (0, len(clip)),
        num_frames=m.num_frames,
        image_size=m.image_size,
        mean=m.mean,
        std=m.std,
        sampling=m.sampling,
    )
    device = next(predictor.model.parameters()).device
    sal = clip_saliency(predictor.model, m.model, x[None].to(device), _class_index(predictor, target))
    maps = sal.maps
    if maps.shape[-2:] != clip.shape[1:3]:  # back onto the crops from the model's input size
        maps = torch.nn.functional.interpolate(maps[None], size=clip.shape[1:3], mode="bilinear", align_corners=False)[
            0
        ].clamp(0, 1)
    probs = torch.softmax(sal.logits.float(), 0).cpu().numpy()
    classes = predictor.classes
    return Explanation(
        source=name,
        model=m.model,
        method=method_name(m.model),
        classes=classes,
        target=classes[sal.target],
        predicted=classes[int(probs.argmax())],
        probs={c: round(float(p), 6) for c, p in zip(classes, probs)},
        label=label,
        frame_index=idx,
        frames=clip[idx],
        saliency=maps.cpu().numpy().astype(np.float32),
        temporal=sal.temporal.cpu().numpy().astype(np.float64),
        fps=fps,
        span=span,
    )


def load_prepared_clip(
    path: str | os.PathLike | None = None, *, data: str | os.PathLike | None = None, clip_id: str | None = None
) -> tuple[np.ndarray, str, str | None]:
    """A prepared clip ``(array, name, label)``: a ``.npy`` file, or ``clip_id`` of prepared set ``data``.

    A ``.npy`` inside a prepared set's ``clips/`` gets its label from the manifest.
    """
    from fervid.data.manifest import read_manifest

    label = None
    if data is not None:
        records = {r.clip_id: r for r in read_manifest(data)}
        if clip_id not in records:
            raise FervidError(f"{data}: no clip {clip_id!r} in manifest.csv")
        path, label = Path(data) / records[clip_id].file, records[clip_id].label
    path = Path(path)
    if not path.is_file():
        raise FervidError(f"{path}: no such clip file")
    if label is None and path.parent.name == "clips" and (path.parent.parent / "manifest.csv").is_file():
        label = next((r.label for r in read_manifest(path.parent.parent) if r.clip_id == path.stem), None)
    try:
        clip = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise FervidError(f"{path}: not a readable .npy clip ({e})") from None
    return clip, clip_id or path.stem, label


def explain_video(
    video: str | os.PathLike,
    checkpoint_or_model: str | os.PathLike | Predictor,
    *,
    window: int | None = None,
    stride: int | None = None,
    all_windows: bool = False,
    target: str | int | None = None,
) -> VideoExplanation:
    """Predict ``video`` as ``predict_video`` does, then explain its most telling window: the face
    window with the highest probability of the video's overall label (``all_windows``: every face
    window). Each window's own predicted class is explained unless ``target`` is given.
    """
    from fervid.data.video import read_video

    predictor = _predictor(checkpoint_or_model)
    v = read_video(video)
    if not v.frames:
        raise FervidError(f"{video}: no frames decoded")
    crop = predictor.cropper.crop(v.frames)
    pred = predictor.predict_crop(crop, v.fps, name=str(video), window=window, stride=stride)
    faces = [w for w in pred.windows if w.label is not None and w.face_rate >= MIN_FACE_RATE]
    if not faces:
        raise FervidError(f"{video}: no window has a face in at least {MIN_FACE_RATE:.0%} of its frames")
    if not all_windows:
        faces = [max(faces, key=lambda w: w.probs[pred.label])]
    clip = np.asarray(crop.clip)
    return VideoExplanation(
        pred,
        [
            explain_clip(clip, predictor, span=(w.start_frame, w.end_frame), target=target, name=str(video), fps=v.fps)
            for w in faces
        ],
    )
