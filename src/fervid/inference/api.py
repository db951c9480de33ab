"""Python API: ``from fervid import load_model, predict_video``.

    >>> from fervid import load_model, predict_video
    >>> predictor = load_model("run/fold_00/model.safetensors")
    >>> result = predict_video("clip.mp4", predictor)
    >>> result.label, [(w.start_s, w.label) for w in result.windows]

The CLI (``fervid predict``) is a thin layer over this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from fervid.checkpoint import CheckpointMeta
from fervid.data.face_stage import FAST, TrackSettings
from fervid.errors import FervidError
from fervid.inference.predict import MIN_FACE_RATE, classify_windows, plan_windows, window_face_rates
from fervid.inference.video_prediction import (  # noqa: F401  (the API's result types)
    N_THUMBNAILS,
    TrackPrediction,
    VideoPrediction,
    WindowPrediction,
)

Faces = Literal["all", "largest"]


class Predictor:
    """A model with its preprocessing, rebuilt from a fervid checkpoint by :func:`load_model`."""

    def __init__(self, model: nn.Module, meta: CheckpointMeta, *, source: str = "<model>"):
        from fervid.data.faces import FaceCropper

        self.model = model.eval()
        self.meta = meta
        self.source = source
        self.cropper = FaceCropper.from_config(meta.preprocess)

    @property
    def classes(self) -> list[str]:
        return list(self.meta.classes)

    @property
    def synthetic_note(self) -> str | None:
        """One line when the model was trained on fervid's synthetic faces (``extra["dataset"]``
        ``synth``, the demo's): its labels on real faces mean little. ``None`` otherwise."""
        dataset = str(self.meta.extra.get("dataset") or "")
        if not dataset.startswith("synth"):
            return None
        return (
            f"{self.source} was trained on synthetic faces (dataset {dataset!r}), so its labels on real video "
            "are not meaningful; use --zero-shot clip or a model trained on a real dataset"
        )

    def predict(
        self,
        video: str | os.PathLike,
        *,
        window: int | None = None,
        stride: int | None = None,
        faces: Faces = "all",
        settings: TrackSettings = FAST,
        keep_crops: bool = False,
    ) -> VideoPrediction:
        """Decode ``video`` (PyAV, frame by frame) and classify it; see :meth:`predict_frames`."""
        from fervid.data.streams import VideoSource, prefetched

        source = VideoSource(video)
        run = self.stream(
            fps=source.fps,
            name=str(video),
            faces=faces,
            settings=settings,
            window=window,
            stride=stride,
            expected_frames=source.frames,
            keep_crops=keep_crops,
        )
        for frame in prefetched(source):
            run.push(frame)
        if run.frames.last < 0:
            raise FervidError(f"{video}: unreadable video (no decodable frames)")
        return run.finish()

    def stream(self, *, fps: float, name: str = "<frames>", **options):
        """A :class:`~fervid.inference.stream.VideoRun`: push frames one at a time, then ``finish()``."""
        from fervid.inference.stream import VideoRun

        return VideoRun(self, fps=fps, name=name, **options)

    def predict_frames(
        self,
        frames: Sequence[np.ndarray],
        fps: float,
        *,
        name: str = "<frames>",
        window: int | None = None,
        stride: int | None = None,
        faces: Faces = "all",
        settings: TrackSettings = FAST,
        keep_crops: bool = False,
    ) -> VideoPrediction:
        """Classify decoded frames (RGB uint8 ``(H, W, 3)`` each) at ``fps`` frames per second.

        ``window`` defaults to the model's frame count ``T``, ``stride`` to ``max(1, window // 2)``.
        ``faces="all"``: one track per face (:class:`TrackPrediction`, in ``result.tracks``);
        ``"largest"``: the most prominent face only, fervid's original one-face result.
        ``settings``: how faces are detected and followed (:class:`TrackSettings`; its default
        detects every 10th frame on a shrunk copy, ``EXHAUSTIVE`` every frame at full size).
        Raises :class:`FervidError` naming ``name`` when no frame has a face.
        """
        if len(frames) == 0:
            raise FervidError(f"{name}: no frames decoded")
        run = self.stream(
            fps=fps,
            name=name,
            faces=faces,
            settings=settings,
            window=window,
            stride=stride,
            expected_frames=len(frames),
            keep_crops=keep_crops,
        )
        for frame in frames:
            run.push(frame)
        return run.finish()

    def predict_crop(
        self, crop, fps: float, *, name: str = "<frames>", window: int | None = None, stride: int | None = None
    ) -> VideoPrediction:
        """Classify frames already face-cropped by ``self.cropper`` (a ``CropResult``); see :meth:`predict_frames`."""
        n = len(crop.clip)
        if not fps or fps <= 0:
            raise FervidError(f"{name}: invalid frame rate {fps!r}")
        window = int(self.meta.num_frames if window is None else window)
        stride = int(max(1, window // 2) if stride is None else stride)
        if window < 1 or stride < 1:
            raise FervidError(f"{name}: window and stride must be >= 1 (got {window}, {stride})")

        detected = np.asarray(crop.detected, dtype=bool)  # (N,)
        if not detected.any():
            raise FervidError(f"{name}: no face found in any of its {n} frames")

        spans = plan_windows(n, window=window, stride=stride)
        rates = window_face_rates(detected, spans)
        face_idx = [i for i, r in enumerate(rates) if r >= MIN_FACE_RATE]
        probs = np.zeros((len(spans), len(self.classes)))
        if face_idx:
            m = self.meta
            probs[face_idx] = classify_windows(
                self.model,
                np.asarray(crop.clip),
                [spans[i] for i in face_idx],
                num_frames=m.num_frames,
                image_size=m.image_size,
                mean=m.mean,
                std=m.std,
                sampling=m.sampling,
            )

        windows = []
        for i, ((s, e), rate) in enumerate(zip(spans, rates)):
            has_face = i in face_idx
            windows.append(
                WindowPrediction(
                    start_frame=s,
                    end_frame=e,
                    start_s=s / fps,
                    end_s=e / fps,
                    face_rate=float(rate),
                    label=self.classes[int(probs[i].argmax())] if has_face else None,
                    probs=self._as_dict(probs[i]) if has_face else None,
                )
            )
        overall = probs[face_idx].mean(axis=0) if face_idx else None
        return VideoPrediction(
            video=name,
            fps=float(fps),
            frames=n,
            face_rate=float(detected.mean()),
            windows=windows,
            label=self.classes[int(overall.argmax())] if overall is not None else None,
            probs=self._as_dict(overall) if overall is not None else None,
            classes=self.classes,
            prompts=self.meta.extra.get("prompts"),
            thumbnails=_thumbnails(np.asarray(crop.clip), detected, fps),
        )

    def _as_dict(self, p: np.ndarray) -> dict[str, float]:
        return {c: round(float(v), 6) for c, v in zip(self.classes, p)}


def _thumbnails(clip: np.ndarray, detected: np.ndarray, fps: float) -> list[tuple[float, np.ndarray]]:
    idx = np.flatnonzero(detected)
    pick = idx[np.linspace(0, len(idx) - 1, min(N_THUMBNAILS, len(idx))).round().astype(int)]
    return [(float(i) / fps, clip[i].copy()) for i in pick]


def load_model(checkpoint: str | os.PathLike, *, device: str | torch.device = "cpu") -> Predictor:
    """Rebuild model and preprocessing from a fervid checkpoint (``model.safetensors``).

    Raises :class:`FervidError` naming the file if it is missing or not a fervid checkpoint.
    """
    from fervid.checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint, map_location=str(device))
    return Predictor(model, meta, source=str(checkpoint))


def predict_video(
    video: str | os.PathLike,
    checkpoint_or_model: str | os.PathLike | Predictor,
    *,
    window: int | None = None,
    stride: int | None = None,
    faces: Faces = "all",
    settings: TrackSettings = FAST,
) -> VideoPrediction:
    """Classify one video file with a checkpoint path or a :class:`Predictor` from :func:`load_model`.

    Args:
        video: any container PyAV decodes (rotation metadata respected).
        checkpoint_or_model: a fervid checkpoint, or a loaded :class:`Predictor` (reuse it for
            many videos: loading builds the model and the face detector).
        window: frames per window (default: the model's ``T``).
        stride: frames between window starts (default: ``window // 2``).
        faces: ``all`` (default): every face, one :class:`TrackPrediction` each in ``.tracks``
            (``.windows``/``.label``/``.probs`` are the main face's); ``largest``: one face, as
            fervid did before tracks.
        settings: how faces are found and followed (:class:`~fervid.data.face_stage.TrackSettings`).
    """
    predictor = checkpoint_or_model if isinstance(checkpoint_or_model, Predictor) else load_model(checkpoint_or_model)
    return predictor.predict(Path(video), window=window, stride=stride, faces=faces, settings=settings)
