"""Sliding-window classification of a face-cropped clip (no file I/O here).

A video of ``N`` frames is cut into windows of ``window`` frames every ``stride`` frames; the
last window is aligned to the video's end so that no tail goes unseen, and a video shorter
than one window gives a single window over all of it. From each window the model's ``T``
frames are taken with the checkpoint's temporal sampling (``fervid.data.sampling``), exactly
as a training clip of that length would be, so ``window != T`` is allowed.

A window is classified only when a face was *detected* (not borrowed from a neighbouring
frame) in at least :data:`MIN_FACE_RATE` of its frames; otherwise it has no label.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# A window with a face in fewer than half its frames is "no face": the cropper filled most of
# it with a box borrowed from elsewhere, so a label would be a guess.
MIN_FACE_RATE = 0.5


def plan_windows(n_frames: int, *, window: int, stride: int) -> list[tuple[int, int]]:
    """Frame spans ``[(start, end), ...]`` (end exclusive), in order.

    They cover every frame when ``stride <= window``; a longer stride skips frames between
    windows, but the last window always ends at the last frame.
    """
    if n_frames < 1:
        raise ValueError("a video needs at least one frame")
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1 (got {window}, {stride})")
    if n_frames <= window:
        return [(0, n_frames)]
    starts = list(range(0, n_frames - window + 1, stride))
    if starts[-1] + window < n_frames:  # the tail would be unseen: add a window ending at the end
        starts.append(n_frames - window)
    return [(s, s + window) for s in starts]


def window_face_rates(detected: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Fraction of frames with a detected face in each span, shape ``(len(spans),)``."""
    detected = np.asarray(detected, dtype=bool)
    return np.array([detected[s:e].mean() for s, e in spans], dtype=np.float64)


def window_input(
    clip: np.ndarray, span: tuple[int, int], *, num_frames: int, image_size: int, mean, std, sampling: str = "uniform"
) -> tuple[np.ndarray, torch.Tensor]:
    """The model input of one span of ``clip`` (uint8 ``(N, H, W, 3)``): the ``(T,)`` frame numbers
    picked with ``sampling`` and the normalised float32 ``(3, T, S, S)`` clip."""
    from fervid.data.sampling import sample_indices
    from fervid.data.transforms import to_model_input

    s, e = span
    idx = s + np.asarray(sample_indices(e - s, num_frames, sampling))  # (T,) frame numbers
    x = to_model_input(clip[idx], image_size=image_size, mean=mean, std=std)  # (3, T, S, S)
    return idx, torch.as_tensor(x, dtype=torch.float32)


@torch.inference_mode()
def classify_windows(
    model: nn.Module,
    clip: np.ndarray,
    spans: list[tuple[int, int]],
    *,
    num_frames: int,
    image_size: int,
    mean,
    std,
    sampling: str = "uniform",
    batch_size: int = 8,
) -> np.ndarray:
    """Class probabilities of each span of ``clip``.

    Args:
        model: maps ``(B, 3, T, S, S)`` float to ``(B, C)`` logits; in eval mode.
        clip: face crops, uint8 ``(N, H, W, 3)`` RGB.
        spans: frame spans from :func:`plan_windows`.
        num_frames, image_size, mean, std, sampling: the checkpoint's input contract.

    Returns:
        float64 ``(len(spans), C)``, rows summing to 1.
    """
    out = []
    for b in range(0, len(spans), batch_size):  # inputs built a batch at a time: a long video's would not fit
        batch = [
            window_input(
                clip, span, num_frames=num_frames, image_size=image_size, mean=mean, std=std, sampling=sampling
            )[1]
            for span in spans[b : b + batch_size]
        ]
        out.append(classify_inputs(model, batch, batch_size=batch_size))
    return np.concatenate(out, axis=0)


@torch.inference_mode()
def classify_inputs(model: nn.Module, inputs: list[torch.Tensor], *, batch_size: int = 8) -> np.ndarray:
    """Class probabilities of model inputs (each ``(3, T, S, S)`` from :func:`window_input`):
    float64 ``(len(inputs), C)``, rows summing to 1."""
    device = next(model.parameters()).device
    out = []
    for b in range(0, len(inputs), batch_size):
        logits = model(torch.stack(inputs[b : b + batch_size]).to(device))  # (B, 3, T, S, S) -> (B, C)
        out.append(torch.softmax(logits.float(), dim=1).cpu().double().numpy())
    return np.concatenate(out, axis=0)
