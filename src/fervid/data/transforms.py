"""Clip transforms: the same random parameters for every frame of a clip.

A clip that jittered its crop, flip or colour frame by frame would show motion that is not in
the video, so every random parameter is drawn once per clip (the approach of pytorchvideo's
``transforms/functional.py``).

Training (:func:`train_transform`): random resized crop → horizontal flip → small rotation →
colour jitter (brightness, contrast, saturation) → normalisation. The geometry is one OpenCV
affine warp per frame and the colour work one colour matrix per clip, which halves the CPU
time of chaining the equivalent torchvision ops (``benchmarks/clip_loading.py``).
Evaluation and ``predict`` use :func:`to_model_input` (resize if needed, scale to [0, 1],
normalise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as F

from fervid.errors import FervidError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Faces are roughly square and their proportions carry expression, so the aspect-ratio range
# is narrower than torchvision's ImageNet default (3/4, 4/3).
DEFAULT_AUGMENT = {
    "scale": (0.8, 1.0),
    "ratio": (0.9, 1.1),
    "flip": True,
    "rotate": 10.0,
    "color_jitter": 0.2,
}
NO_AUGMENT = {"scale": (1.0, 1.0), "ratio": (1.0, 1.0), "flip": False, "rotate": 0.0, "color_jitter": 0.0}


def resolve_augment(augment: Mapping | bool | None) -> dict:
    """Merge user strengths over :data:`DEFAULT_AUGMENT`; set a key to 0/False to turn it off,
    or pass ``False`` for no augmentation at all.

    ``color_jitter`` is one strength for brightness, contrast and saturation, or a
    ``[brightness, contrast, saturation]`` triple.
    """
    if augment is False:
        augment = NO_AUGMENT
    elif augment is True:
        augment = None
    augment = dict(augment or {})
    unknown = sorted(set(augment) - set(DEFAULT_AUGMENT))
    if unknown:
        raise FervidError(f"unknown augmentation setting(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_AUGMENT)}")
    out = {**DEFAULT_AUGMENT, **augment}
    for key in ("scale", "ratio"):
        lo, hi = _pair(out[key], key)
        if not 0 < lo <= hi or (key == "scale" and hi > 1):
            raise FervidError(f"augmentation {key}={list(out[key])} is not a valid [low, high] range")
        out[key] = (lo, hi)
    out["flip"] = bool(out["flip"])
    out["rotate"] = float(out["rotate"])
    cj = out["color_jitter"]
    cj = (float(cj),) * 3 if isinstance(cj, (int, float)) else tuple(float(v) for v in cj)
    if len(cj) != 3 or min(cj) < 0 or out["rotate"] < 0:
        raise FervidError("augmentation color_jitter/rotate must be non-negative (color_jitter: one value or three)")
    out["color_jitter"] = cj
    return out


def _pair(value, key: str) -> tuple[float, float]:
    if isinstance(value, (int, float)) or len(value) != 2:
        raise FervidError(f"augmentation {key} must be a [low, high] pair, got {value!r}")
    return float(value[0]), float(value[1])


def crop_box(
    height: int,
    width: int,
    *,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[int, int, int, int]:
    """Draw a random-resized-crop box ``(top, left, h, w)`` covering ``scale`` of the area with
    aspect ratio (w / h) in ``ratio``; falls back to the largest centred box within ``ratio``."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    aspect = min(max(width / height, ratio[0]), ratio[1])
    w, h = (width, round(width / aspect)) if width / height <= aspect else (round(height * aspect), height)
    w, h = min(w, width), min(h, height)
    return (height - h) // 2, (width - w) // 2, h, w


def augment_clip(
    clip: np.ndarray,
    *,
    size: tuple[int, int],
    rng: np.random.Generator,
    mean: Sequence[float],
    std: Sequence[float],
    scale: tuple[float, float],
    ratio: tuple[float, float],
    flip: bool,
    rotate: float,
    color_jitter: tuple[float, float, float],
) -> torch.Tensor:
    """Augment a uint8 ``(T, H, W, 3)`` clip with one set of random parameters and normalise.

    Returns float32 ``(3, T, size[0], size[1])``.
    """
    _, height, width, _ = clip.shape
    box = crop_box(height, width, scale=scale, ratio=ratio, rng=rng)
    flipped = flip and rng.random() < 0.5
    angle = float(rng.uniform(-rotate, rotate)) if rotate > 0 else 0.0
    frames = warp_clip(clip, box=box, size=size, flip=flipped, angle=angle)  # (T, S, S, 3) uint8
    b, c, s = (float(rng.uniform(max(0.0, 1 - j), 1 + j)) for j in color_jitter)
    x = torch.from_numpy(frames).permute(3, 0, 1, 2).contiguous().float()  # (T, S, S, 3) -> (3, T, S, S)
    return color_normalize(x, brightness=b, contrast=c, saturation=s, mean=mean, std=std, pixel_scale=1 / 255)


def warp_clip(
    clip: np.ndarray,
    *,
    box: tuple[int, int, int, int],
    size: tuple[int, int],
    flip: bool = False,
    angle: float = 0.0,
) -> np.ndarray:
    """Crop ``box`` = (top, left, h, w), resize to ``size``, flip, rotate ``angle`` degrees
    counter-clockwise (as ``F.rotate``): the same geometry for every frame of a uint8
    ``(T, H, W, 3)`` clip → ``(T, size[0], size[1], 3)``.

    All of it is one ``cv2.warpAffine`` per frame (one interpolation, zeros outside), cheaper
    than torchvision's resized_crop + rotate, whose ``grid_sample`` dominated a training item.
    Shrinking crops are first resized with area averaging, so they do not alias.
    """
    top, left, h, w = box
    out_h, out_w = size
    if (top, left, h, w) == (0, 0, out_h, out_w) == (0, 0, *clip.shape[1:3]) and not flip and angle == 0:
        return clip.copy()  # the identity (no augmentation), which warpAffine would copy exactly

    import cv2  # only training needs it; keeps `import fervid.data` light

    # Output pixel -> input pixel, composed right to left: rotate about the output centre,
    # mirror, then scale and shift into the crop (pixel centres aligned, as cv2.resize).
    a = math.radians(angle)
    cy, cx = (out_h - 1) / 2, (out_w - 1) / 2
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rot[:2, 2] = np.array([cx, cy]) - rot[:2, :2] @ np.array([cx, cy])
    mirror = np.array([[-1, 0, out_w - 1], [0, 1, 0], [0, 0, 1]]) if flip else np.eye(3)
    shrink = h > out_h or w > out_w
    sx, sy = (1.0, 1.0) if shrink else (w / out_w, h / out_h)
    ox, oy = (0.0, 0.0) if shrink else (left + 0.5 * sx - 0.5, top + 0.5 * sy - 0.5)
    to_crop = np.array([[sx, 0, ox], [0, sy, oy], [0, 0, 1]])
    matrix = (to_crop @ mirror @ rot)[:2]
    out = np.empty((clip.shape[0], out_h, out_w, 3), dtype=np.uint8)
    for t, frame in enumerate(clip):
        if shrink:
            frame = cv2.resize(frame[top : top + h, left : left + w], (out_w, out_h), interpolation=cv2.INTER_AREA)
        out[t] = cv2.warpAffine(
            frame,
            matrix,
            (out_w, out_h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return out


# ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
_GRAY = (0.2989, 0.587, 0.114)


def color_normalize(
    clip: torch.Tensor,
    *,
    brightness: float = 1.0,
    contrast: float = 1.0,
    saturation: float = 1.0,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    pixel_scale: float = 1.0,
) -> torch.Tensor:
    """Colour jitter then normalise a float ``(3, T, H, W)`` clip whose pixels times
    ``pixel_scale`` lie in [0, 1]; returns a new float32 ``(3, T, H, W)``.

    Brightness, contrast and saturation (in that order, torchvision's definitions, contrast
    about each frame's mean grey) are all linear in the pixels, so they compose into one 3×3
    colour matrix plus a per-frame offset, applied as one matrix product and clamped once
    instead of five passes over the clip; equal to the ``F.adjust_*`` chain wherever its
    intermediate clamps to [0, 1] do not bite.
    """
    _, t, h, w = clip.shape
    flat = clip.reshape(3, t * h * w)  # (3, T*H*W), a view for contiguous input
    gray = torch.tensor(_GRAY, dtype=clip.dtype)
    # saturation: x -> s x + (1 - s) gray(x) 1 ; rows of `ones @ gray` sum to 1, so S 1 = 1.
    sat = saturation * torch.eye(3) + (1 - saturation) * torch.ones(3, 1) * gray[None, :]
    matrix = contrast * brightness * pixel_scale * sat  # (3, 3)
    out = (matrix @ flat).view(3, t, h * w)
    if contrast != 1:  # else the offset is zero: skipping it changes no bit
        frame_gray = (gray @ flat).view(t, h * w).mean(1) * pixel_scale  # (T,) mean grey per frame
        offset = (1 - contrast) * brightness * frame_gray  # (T,)
        out.add_(offset.view(1, t, 1))
    out.clamp_(0, 1)
    std_t = torch.tensor(std, dtype=clip.dtype).view(3, 1, 1)
    mean_t = torch.tensor(mean, dtype=clip.dtype).view(3, 1, 1)
    return out.sub_(mean_t).div_(std_t).view(3, t, h, w)  # (3, T, H*W) -> (3, T, H, W)


def check_clip(clip: np.ndarray, source: str = "clip") -> None:
    """Raise :class:`FervidError` unless ``clip`` is a uint8 ``(T, H, W, 3)`` array with frames."""
    if not isinstance(clip, np.ndarray) or clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
        desc = f"{clip.dtype} {tuple(clip.shape)}" if isinstance(clip, np.ndarray) else type(clip).__name__
        raise FervidError(f"{source}: expected a uint8 (T, H, W, 3) RGB clip, got {desc}")
    if clip.shape[0] == 0:
        raise FervidError(f"{source}: clip has no frames")


def clip_tensor(clip: np.ndarray, source: str = "clip") -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 numpy → ``(T, 3, H, W)`` uint8 tensor (checks the layout)."""
    check_clip(clip, source)
    if not clip.flags.writeable:  # memory-mapped files are read-only; torch wants to own the memory
        clip = clip.copy()
    return torch.from_numpy(clip).permute(0, 3, 1, 2)  # (T, H, W, 3) -> (T, 3, H, W)


def _finish(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float], *, pixel_scale: float) -> torch.Tensor:
    """``(T, 3, H, W)`` pixels (times ``pixel_scale`` gives [0, 1]) → normalised float32 ``(3, T, H, W)``."""
    # One float copy in the output layout, then two in-place passes, instead of
    # scale + F.normalize + permute().contiguous(), which each allocate a new clip.
    out = clip.permute(1, 0, 2, 3).to(torch.float32, memory_format=torch.contiguous_format, copy=True)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1)
    return out.mul_(pixel_scale / std_t).sub_(mean_t / std_t)  # (x * scale - mean) / std


def _size(image_size: int | None, height: int, width: int) -> tuple[int, int]:
    return (height, width) if image_size is None else (int(image_size), int(image_size))


def to_model_input(
    clip_uint8: np.ndarray,
    *,
    image_size: int | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Evaluation transform: ``(T, H, W, 3)`` uint8 RGB → float32 ``(3, T, S, S)``.

    Resizes to ``image_size`` × ``image_size`` when given and different, scales to [0, 1] and
    normalises with ``mean``/``std``. ``image_size=None`` keeps the stored size.
    """
    clip = clip_tensor(clip_uint8)
    size = _size(image_size, clip.shape[2], clip.shape[3])
    if tuple(clip.shape[2:]) != size:
        clip = F.resize(clip, list(size), antialias=True)
    return _finish(clip, mean, std, pixel_scale=1 / 255)


def to_model_views(
    clip_uint8: np.ndarray,
    *,
    crops: int = 1,
    image_size: int | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Test-time spatial views: ``(T, H, W, 3)`` uint8 → float32 ``(crops, 3, T, S, S)``.

    ``crops=1`` is :func:`to_model_input` (the whole frame). ``crops=3`` resizes the clip to
    ``round(S * 8 / 7)`` (256 for 224, 128 for 112: the usual test-resize ratio) and cuts three
    S × S crops along the width, left, centre and right, vertically centred: MMAction2's
    ``ThreeCrop`` on a square face crop.
    """
    if crops == 1:
        return to_model_input(clip_uint8, image_size=image_size, mean=mean, std=std)[None]
    if crops != 3:
        raise FervidError(f"test crops must be 1 or 3, got {crops}")
    clip = clip_tensor(clip_uint8)  # (T, 3, H, W)
    side = _size(image_size, clip.shape[2], clip.shape[3])[0]
    big = round(side * 8 / 7)
    clip = F.resize(clip, [big, big], antialias=True)
    top = (big - side) // 2
    views = [clip[:, :, top : top + side, left : left + side] for left in (0, (big - side) // 2, big - side)]
    return torch.stack([_finish(v, mean, std, pixel_scale=1 / 255) for v in views])


def train_transform(
    clip_uint8: np.ndarray,
    *,
    rng: np.random.Generator,
    augment: Mapping | None = None,
    image_size: int | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Training transform: augment with one parameter set per clip, normalise.

    ``(T, H, W, 3)`` uint8 RGB → float32 ``(3, T, S, S)``; ``augment`` as in :func:`resolve_augment`.
    """
    params = resolve_augment(augment)
    check_clip(clip_uint8)
    size = _size(image_size, clip_uint8.shape[1], clip_uint8.shape[2])
    return augment_clip(clip_uint8, size=size, rng=rng, mean=mean, std=std, **params)
