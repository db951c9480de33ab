"""Frame sources for prediction: a video file (read as fast as it decodes, or paced at its own
frame rate, as a replay of a recording), a network stream (``rtsp://``, ``http(s)://``, read by
FFmpeg through PyAV) or a camera (by index, through OpenCV).

Each source iterates over upright RGB ``uint8`` frames. A source that cannot be opened raises
:class:`~fervid.errors.FervidError` with one line naming it; a stream that fails part-way ends the
iteration and leaves the reason in ``failure`` (frames that failed to decode in a file are counted
in ``n_dropped``, as :func:`~fervid.data.video.read_video` counts them).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator

import numpy as np

from fervid.data.video import _short, decoded_frames, frame_rate, open_video, tag_rotation, upright_rgb
from fervid.errors import FervidError

URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
# Seconds to wait for a network stream to answer (to open, and then for each read).
NETWORK_TIMEOUT = 10.0


class VideoSource:
    """A video file or network stream, decoded by PyAV.

    Args:
        path: a file, or a URL FFmpeg reads.
        paced: yield each frame no sooner than its time in the video after the first (a file
            replayed as if it were live).
    """

    def __init__(self, path: str | os.PathLike, *, paced: bool = False):
        self.name = str(path)
        self.is_url = self.name.startswith(URL_SCHEMES)
        options = {"timeout": NETWORK_TIMEOUT} if self.is_url else {}
        self.container, self.stream = open_video(self.name if self.is_url else path, **options)
        self.fps = frame_rate(self.stream)
        self.frames = int(self.stream.frames or 0) or None  # from the header; None when unknown
        self.paced = paced
        self.errors: list = []
        self.failure: str | None = None

    @property
    def n_dropped(self) -> int:
        return len(self.errors)

    def __iter__(self) -> Iterator[np.ndarray]:
        tag = tag_rotation(self.stream)
        start = None
        try:
            for frame in decoded_frames(self.container, self.stream, self.errors):
                if self.paced and frame.time is not None:
                    if start is None:
                        start = time.monotonic() - frame.time
                    wait = start + frame.time - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                yield upright_rgb(frame, tag)[0]
        finally:
            self.close()
        if self.is_url and self.errors:
            self.failure = f"{self.name}: stream dropped ({_short(self.errors[-1])})"

    def close(self) -> None:
        self.container.close()


class CameraSource:
    """A camera by index (``0`` is the first), through OpenCV's ``VideoCapture``."""

    def __init__(self, index: int):
        import cv2

        self.name = f"camera {index}"
        self.cap = cv2.VideoCapture(index)
        if not self.cap.isOpened():
            self.cap.release()
            raise FervidError(f"{self.name}: cannot open the camera")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0) or 30.0  # webcams often do not say
        self.frames = None
        self.n_dropped = 0
        self.failure: str | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2

        try:
            while True:
                ok, bgr = self.cap.read()
                if not ok:
                    self.failure = f"{self.name}: the camera stopped sending frames"
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self.close()

    def close(self) -> None:
        self.cap.release()


def open_source(spec: str, *, paced: bool = True) -> VideoSource | CameraSource:
    """A camera index (``0``), a URL, or a video file (``paced``: at its own frame rate)."""
    if spec.isdigit():
        return CameraSource(int(spec))
    if spec.startswith(URL_SCHEMES):
        return VideoSource(spec)
    if "://" in spec:
        raise FervidError(f"{spec}: unsupported stream ({', '.join(s[:-3] for s in URL_SCHEMES)} are read)")
    return VideoSource(spec, paced=paced)


def prefetched(frames: Iterable, depth: int = 8) -> Iterator:
    """``frames``, decoded ahead on a thread (up to ``depth`` waiting): PyAV decodes and converts
    with the GIL released, so decoding overlaps the face stage and the model. An error in the
    thread is raised here, where the frame would have come."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    frames = iter(frames)

    def read() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        q.put((frame, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as e:  # handed to the consumer
            q.put((done, e))
            return
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # a generator left half-way closes its container now, not at garbage collection
        q.put((done, None))

    thread = threading.Thread(target=read, name="fervid-decode", daemon=True)
    thread.start()
    try:
        while True:
            frame, error = q.get()
            if error is not None:
                raise error
            if frame is done:
                return
            yield frame
    finally:
        stop.set()
