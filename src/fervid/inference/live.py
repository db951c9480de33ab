"""Live prediction: a camera, a network stream or a file played at its own pace, labelled as it
arrives.

A reader thread takes frames from the source as they come and stamps each with its arrival time
(``time.monotonic()``); the caller's thread runs them through a
:class:`~fervid.inference.stream.VideoRun` in live mode, which labels each window as soon as its
frames are cropped (the smoothing span later). Each window is handed out with its latency: from
the arrival of its last frame to the moment its label is ready. When prediction is slower than
the stream, frames wait in a queue of about a second and, beyond that, are dropped and counted.

Ctrl-C (``KeyboardInterrupt``) or the end of the stream stops it cleanly: the windows still open
are labelled and the result covers everything seen. A stream that fails part-way does the same
and says why in ``LiveResult.failure``.
"""

from __future__ import annotations

import queue
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fervid.data.face_stage import FAST, TrackSettings
from fervid.inference.video_prediction import VideoPrediction, WindowPrediction


class FrameReader:
    """Iterate ``source`` on a thread; yields ``(frame, arrival time)`` pairs."""

    def __init__(self, source, *, max_queue: int):
        self.source = source
        self.queue: queue.Queue = queue.Queue(maxsize=max(2, max_queue))
        self.dropped = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="fervid-live-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for frame in self.source:
                if self._stop.is_set():
                    break
                try:
                    self.queue.put_nowait((frame, time.monotonic()))
                except queue.Full:
                    self.dropped += 1  # prediction is behind the stream: keep up rather than lag further
        except BaseException as e:  # an error in the source ends the stream; the caller reports it
            self.error = e
        finally:
            while not self._stop.is_set():
                try:
                    self.queue.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            yield item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


@dataclass
class LiveResult:
    """What a live run saw: the prediction over all of it and how it went."""

    prediction: VideoPrediction | None  # None when no face was confirmed
    frames: int
    seconds: float  # from the first frame's arrival to the end
    dropped: int  # frames dropped because prediction was behind the stream
    latencies: list[float] = field(default_factory=list)  # seconds, one per window
    interrupted: bool = False
    failure: str | None = None  # why the stream ended early, when it did

    def latency_summary(self) -> str:
        if not self.latencies:
            return "no window was labelled"
        ms = np.array(self.latencies) * 1000
        return f"latency median {np.median(ms):.0f} ms, 95th percentile {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms"


def run_live(
    source,
    predictor,
    *,
    faces: str = "all",
    settings: TrackSettings = FAST,
    window: int | None = None,
    stride: int | None = None,
    on_window: Callable[[int, WindowPrediction, float], None] | None = None,
    on_frame: Callable | None = None,
    on_progress: Callable[[VideoPrediction], None] | None = None,
    progress_every_s: float = 2.0,
) -> LiveResult:
    """Predict ``source`` (from :func:`fervid.data.streams.open_source`) as it arrives.

    ``on_window(track id, window, latency in s)`` is called as each window is labelled;
    ``on_frame(index, frame, faces)`` as each frame's boxes are final (for a recording);
    ``on_progress(prediction so far)`` at most every ``progress_every_s`` seconds, once a face
    is confirmed (for outputs written as it goes).
    """
    from fervid.errors import FervidError

    arrivals = array("d")
    latencies: list[float] = []

    def window_done(track_id: int, w: WindowPrediction) -> None:
        latency = time.monotonic() - arrivals[w.end_frame - 1]
        latencies.append(latency)
        if on_window is not None:
            on_window(track_id, w, latency)

    fps = source.fps or 30.0
    run = predictor.stream(
        fps=fps,
        name=source.name,
        faces=faces,
        settings=settings,
        window=window,
        stride=stride,
        live=True,
        on_window=window_done,
        on_frame=on_frame,
    )
    reader = FrameReader(source, max_queue=round(fps))
    interrupted = False
    last_progress = time.monotonic()
    try:
        for frame, arrived in reader:
            arrivals.append(arrived)
            run.push(frame)
            if on_progress is not None and time.monotonic() - last_progress >= progress_every_s:
                last_progress = time.monotonic()
                so_far = run.snapshot()
                if so_far is not None:
                    on_progress(so_far)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        reader.stop()
    failure = getattr(source, "failure", None)
    if reader.error is not None and failure is None:
        failure = f"{source.name}: stream failed ({reader.error})"
    seconds = time.monotonic() - arrivals[0] if arrivals else 0.0
    try:
        pred = run.finish() if len(arrivals) else None
    except FervidError:  # nothing was confirmed as a face
        pred = None
    if not arrivals and failure is None and not interrupted:
        failure = f"{source.name}: no frames arrived"
    return LiveResult(pred, len(arrivals), seconds, reader.dropped, latencies, interrupted, failure)
