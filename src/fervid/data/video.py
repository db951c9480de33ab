"""Decoding videos (PyAV) and frame folders (OpenCV) into RGB ``uint8`` frames.

Corrupt frames inside an otherwise good sequence are dropped and counted, never silently;
a file that yields no frame at all raises :class:`~fervid.errors.FervidError` naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervid.errors import FervidError

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


@dataclass
class Video:
    frames: list[np.ndarray]  # each (H, W, 3) uint8 RGB, upright (rotation metadata applied)
    fps: float
    n_dropped: int = 0  # packets/frames that failed to decode
    rotation: int = 0  # degrees counter-clockwise that were applied to make frames upright


def natural_key(name: str) -> tuple:
    """Sort key that orders ``2.jpg`` before ``10.jpg`` (numbers compared as numbers)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in re.split(r"(\d+)", name) if p)


def _upright(img: np.ndarray, ccw_degrees: float) -> np.ndarray:
    k = int(round(ccw_degrees / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def open_video(path: str | os.PathLike, **options):
    """``(container, stream)``: PyAV's container and first video stream of ``path`` (a file, or a
    URL FFmpeg reads), decoding with PyAV's frame threads. Raises :class:`FervidError` naming it."""
    import av

    name = str(path)
    is_url = "://" in name
    if not is_url and not Path(path).is_file():
        raise FervidError(f"{path}: no such video file")
    try:
        container = av.open(name, **options)
    except (av.FFmpegError, OSError, ValueError) as e:
        what = "cannot open stream" if is_url else "unreadable video"
        raise FervidError(f"{path}: {what} ({_short(e)})") from None
    if not container.streams.video:
        container.close()
        raise FervidError(f"{path}: no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def frame_rate(stream) -> float:
    """A PyAV video stream's frame rate (0.0 when the container does not say)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def decoded_frames(container, stream, errors: list):
    """PyAV frames of ``stream`` in order. A packet that fails to decode is appended to ``errors``
    and decoding goes on; a demuxer error ends the sequence (it cannot resync) and is appended too."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, OSError, ValueError) as e:
            errors.append(e)
            return  # the demuxer cannot resync after this: the rest of the file is lost
        try:
            decoded = packet.decode()
        except (av.FFmpegError, OSError, ValueError) as e:
            errors.append(e)
            continue
        yield from decoded


def upright_rgb(frame, tag_rotation: float = 0.0) -> tuple[np.ndarray, float]:
    """A PyAV frame as upright RGB ``(H, W, 3)`` uint8, and the rotation applied (degrees ccw)."""
    rotation = getattr(frame, "rotation", 0) or tag_rotation
    return _upright(frame.to_ndarray(format="rgb24"), rotation), rotation


def tag_rotation(stream) -> float:
    # Older containers carry a clockwise 'rotate' tag instead of a display matrix.
    return -float(stream.metadata.get("rotate", 0) or 0)


def read_video(path: str | os.PathLike, *, max_frames: int | None = None) -> Video:
    """Decode every frame of ``path`` to RGB; rotation metadata (display matrix) is applied.

    A packet that fails to decode is counted in ``n_dropped`` and decoding continues, so a
    truncated file still yields the frames before the damage.
    """
    container, stream = open_video(path)
    frames: list[np.ndarray] = []
    errors: list = []
    rotation = 0
    with container:
        fps = frame_rate(stream)
        tag = tag_rotation(stream)
        for frame in decoded_frames(container, stream, errors):
            if max_frames is not None and len(frames) >= max_frames:
                break
            img, rotation = upright_rgb(frame, tag)
            frames.append(img)
    if not frames:
        raise FervidError(f"{path}: unreadable video (no decodable frames)")
    return Video(frames=frames, fps=fps, n_dropped=len(errors), rotation=int(round(rotation)) % 360)


def _short(e: Exception) -> str:
    text = getattr(e, "strerror", None) or str(e)  # FFmpeg errors repeat the file name in str(e)
    return text.splitlines()[0] if text else type(e).__name__


def _is_truncated(data: bytes) -> bool:
    # OpenCV's libjpeg only warns on a truncated JPEG and returns a grey-filled image, so the
    # end-of-image marker is checked first (trailing padding is allowed).
    if data[:2] == b"\xff\xd8":
        return not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in data[-16:]
    return False


def read_image(path: str | os.PathLike) -> np.ndarray | None:
    """One image as RGB ``uint8`` (grayscale expanded to 3 channels), or ``None`` if corrupt."""
    import cv2

    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data or _is_truncated(data):
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        return None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_frames(paths) -> tuple[list[np.ndarray], int]:
    """Read image files in natural order of their names; returns ``(frames, n_dropped)``.

    Unreadable or truncated images are dropped and counted. Frames whose size differs from
    the first good frame are resized to it, so a sequence always stacks into one array.
    """
    import cv2

    paths = sorted((Path(p) for p in paths), key=lambda p: natural_key(p.name))
    frames: list[np.ndarray] = []
    dropped = 0
    for p in paths:
        img = read_image(p)
        if img is None:
            dropped += 1
            continue
        if frames and img.shape != frames[0].shape:
            h, w = frames[0].shape[:2]
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        frames.append(img)
    return frames, dropped
