"""Predicting a video as its frames arrive: the engine behind ``fervid predict`` and ``--live``.

Frames are pushed one at a time. The face stage (:class:`~fervid.data.face_stage.FaceStage`)
finds and follows the faces; each face's crops are cut once their smoothed box is final
(:class:`~fervid.data.track_crops.CropStream`, ``lookahead`` frames later); windows are laid from
each face's first frame as :func:`~fervid.inference.predict.plan_windows` lays them over a video
(``window`` frames every ``stride``, the last one aligned to the face's last frame) and labelled as
soon as their frames are cut, a batch at a time (or at once, ``live``). Only the crops of windows
still to come are kept, so memory does not grow with the video's length.

``faces="largest"`` follows one face as ``fervid prepare`` does (the most prominent, then the best
overlap) over the whole video; ``faces="all"`` keeps one track per face, from the first frame to
the last in which it was seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fervid.data.face_stage import FAST, FaceStage, TrackSettings
from fervid.data.track_crops import CropStream, FrameBuffer
from fervid.data.tracking import follow
from fervid.errors import FervidError
from fervid.inference.face_run import Drawn, FaceRun
from fervid.inference.predict import MIN_FACE_RATE, classify_inputs, window_input
from fervid.inference.video_prediction import TrackPrediction, VideoPrediction, WindowPrediction

__all__ = ["Drawn", "StreamTimes", "VideoRun"]


@dataclass
class StreamTimes:
    """Seconds per stage of one video (the face stage's own split is in ``FaceStage.times``)."""

    faces: float = 0.0
    crop: float = 0.0
    model: float = 0.0
    extra: dict = field(default_factory=dict)


class VideoRun:
    """Predict one video from frames pushed in order; see the module docstring.

    Args:
        predictor: a :class:`~fervid.inference.api.Predictor` (model, checkpoint metadata, cropper).
        fps: the video's frame rate.
        name: how errors and results name the video.
        faces: ``all`` (one track per face) or ``largest`` (one face, fervid's original form).
        settings: the face stage's :class:`~fervid.data.face_stage.TrackSettings`.
        window, stride: frames per window (default: the model's ``T``) and between windows
            (default ``window // 2``).
        lookahead: frames a crop waits for later boxes (default: a window and the smoothing span;
            ``live`` default: the smoothing span only, for a short delay).
        expected_frames: the video's length when known (very short videos confirm faces sooner).
        keep_crops: keep every crop in ``TrackPrediction.clip`` (for saliency).
        live: label each window as soon as it closes instead of in batches.
        on_window: called with ``(track id, WindowPrediction)`` as each window is labelled
            (a face's windows wait until it is confirmed).
        on_frame: called with ``(frame index, frame, [Drawn, ...])`` once a frame's boxes are final.
    """

    def __init__(
        self,
        predictor,
        *,
        fps: float,
        name: str = "<frames>",
        faces: str = "all",
        settings: TrackSettings = FAST,
        window: int | None = None,
        stride: int | None = None,
        lookahead: int | None = None,
        expected_frames: int | None = None,
        keep_crops: bool = False,
        live: bool = False,
        on_window: Callable[[int, WindowPrediction], None] | None = None,
        on_frame: Callable[[int, np.ndarray, list[Drawn]], None] | None = None,
        batch_size: int = 8,
    ):
        if faces not in ("all", "largest"):
            raise FervidError(f"faces {faces!r}: choose all or largest")
        if not fps or fps <= 0:
            raise FervidError(f"{name}: invalid frame rate {fps!r}")
        self.window = int(predictor.meta.num_frames if window is None else window)
        self.stride = int(max(1, self.window // 2) if stride is None else stride)
        if self.window < 1 or self.stride < 1:
            raise FervidError(f"{name}: window and stride must be >= 1 (got {self.window}, {self.stride})")
        self.predictor, self.fps, self.name, self.faces = predictor, float(fps), name, faces
        self.cropper = predictor.cropper
        half = self.cropper.smoothing // 2 if self.cropper.smoothing > 1 else 0
        span = half * (2 if self.cropper.align else 1)
        self.stage = FaceStage(
            self.cropper.detector,
            detect_max_side=self.cropper.detect_max_side,
            fps=self.fps,
            settings=settings,
            expected_frames=expected_frames,
        )
        span += self.stage.hold  # a detection may still place a face in the frames since the previous one
        self.lookahead = int(lookahead if lookahead is not None else span + (0 if live else self.window))
        self.lookahead = max(self.lookahead, span)
        self.frames = FrameBuffer(self.lookahead + 1)
        self.keep_crops, self.live, self.batch_size = keep_crops, live, batch_size
        self.on_window, self.on_frame = on_window, on_frame
        self.runs: dict[int, FaceRun] = {}
        self.pending: list[tuple[FaceRun, int, object]] = []
        self.size: tuple[int, int] | None = None
        self._last_pick = None
        self._picks: dict[int, tuple | None] = {}  # largest: the face followed in the last few frames
        self._n_ended = 0
        self.times = StreamTimes()

    # -- pushing frames ------------------------------------------------------------------------
    def push(self, frame: np.ndarray) -> None:
        """The next frame, ``(H, W, 3)`` uint8 RGB."""
        t = self.frames.add(frame)
        if self.size is None:
            self.size = frame.shape[:2]
        elif frame.shape[:2] != self.size:
            raise FervidError(
                f"{self.name}: frame {t} is {frame.shape[1]}x{frame.shape[0]}, the video's are "
                f"{self.size[1]}x{self.size[0]}"
            )
        t0 = time.perf_counter()
        seen = self.stage.step(frame)
        t1 = time.perf_counter()
        self.times.faces += t1 - t0
        if self.faces == "largest":
            self._follow_largest(t, seen)
        else:
            self._follow_all(t, seen)
        for run in self.runs.values():
            if run.end is None:
                self._advance(run)
        self.times.crop += time.perf_counter() - t1
        self._classify(force=self.live)
        self._emit()
        if self.on_frame is not None and t - self.lookahead >= 0:
            self._draw(t - self.lookahead)

    def finish(self) -> VideoPrediction:
        """End of the video: the last windows, and the result."""
        n = self.frames.last + 1
        if n == 0:
            raise FervidError(f"{self.name}: no frames decoded")
        self.stage.finish()
        t1 = time.perf_counter()
        for run in self.runs.values():
            if run.end is None:
                self._close(run, n - 1 if self.faces == "largest" else run.last_seen)
        self.times.crop += time.perf_counter() - t1
        self._classify(force=True)
        self._emit()
        if self.on_frame is not None:
            for f in range(max(0, n - self.lookahead), n):
                self._draw(f)
        return self._result(n)

    # -- internals -----------------------------------------------------------------------------
    def _follow_largest(self, t: int, seen) -> None:
        """One face, as FaceCropper.crop follows it: the most prominent, then the best overlap."""
        h, w = self.size
        run = self.runs.get(0) or self._new_run(0, t, None)
        pick = follow([s.box for s in seen if s.frame == t], self._last_pick, w, h)
        for g in sorted({s.frame for s in seen if s.frame < t}):  # found by a detection, followed back
            if self._picks.get(g) is None and g >= run.first:
                box = follow([s.box for s in seen if s.frame == g], self._picks.get(g - 1), w, h)
                self._picks[g] = box
                run.crops.revise(g, box)
                run.last_seen = max(run.last_seen, g)
        self._last_pick = pick or self._last_pick
        self._picks[t] = pick
        self._picks.pop(t - self.stage.hold - 1, None)
        self._add(run, t, pick)

    def _follow_all(self, t: int, seen) -> None:
        """One run per face (track), from the first frame it was seen in."""
        by_key: dict[int, dict[int, tuple]] = {}
        tracks = {}
        for s in seen:
            by_key.setdefault(s.track.key, {})[s.frame] = s.box
            tracks[s.track.key] = s.track
        for key, boxes in by_key.items():
            run = self.runs.get(key)
            if run is None:
                first = min(boxes)
                run = self._new_run(key, first, tracks[key])
                for g in range(first, t):
                    self._add(run, g, boxes.get(g))
            else:
                for g in sorted(g for g in boxes if g < t):
                    run.crops.revise(g, boxes[g])
                    run.last_seen = max(run.last_seen, g)
        for run in self.runs.values():
            if run.end is None:
                self._add(run, t, by_key.get(run.key, {}).get(t))
        ended = self.stage.tracker.ended
        for tr in ended[self._n_ended :]:
            self._close(self.runs[tr.key], tr.last_seen)
        self._n_ended = len(ended)

    def _new_run(self, key: int, first: int, track) -> FaceRun:
        crops = CropStream(self.cropper, first, self.size, self.lookahead, hold=self.stage.hold)
        run = FaceRun(key, first, crops, track)
        if self.keep_crops:
            run.kept = []
        self.runs[key] = run
        return run

    def _add(self, run: FaceRun, t: int, box) -> None:
        run.crops.add(t, box)
        if box is not None:
            run.last_seen = t

    def _close(self, run: FaceRun, last: int) -> None:
        """The face's last frame is ``last``: cut its remaining crops, lay its last windows."""
        run.end = last
        if last < run.first:  # never seen (cannot happen for a track; a video's first frames)
            return
        run.crops.close(last)
        run.truncate(last)
        self._advance(run)
        if not run.spans:
            self._window(run, run.first, last + 1)  # shorter than a window: one window over it all
        elif run.spans[-1][1] < last + 1:  # the tail would be unseen: a window ending at the end
            self._window(run, last + 1 - self.window, last + 1)
        run.store.clear()

    def _advance(self, run: FaceRun) -> None:
        run.take(run.crops.ready(self.frames))
        while True:
            s, e = run.next_start, run.next_start + self.window
            if e > run.cut:
                break
            if run.end is None and self.faces == "all" and run.last_seen < e - 1:
                break  # the face may have gone for good before e: its last window would then end earlier
            if run.end is not None and e > run.end + 1:
                break
            self._window(run, s, e)
            run.next_start += self.stride
        floor = min(run.next_start, (run.last_seen if self.faces == "all" else run.cut - 1) + 1 - self.window)
        for f in [f for f in run.store if f < floor]:
            del run.store[f]

    def _window(self, run: FaceRun, s: int, e: int) -> None:
        rate = float(np.mean(run.seen[s - run.first : e - run.first]))
        run.spans.append((s, e))
        if rate < MIN_FACE_RATE:
            run.windows.append(WindowPrediction(s, e, s / self.fps, e / self.fps, rate, None, None))
            return
        t0 = time.perf_counter()
        m = self.predictor.meta
        clip = np.stack([run.store[f] for f in range(s, e)])
        _, x = window_input(
            clip,
            (0, e - s),
            num_frames=m.num_frames,
            image_size=m.image_size,
            mean=m.mean,
            std=m.std,
            sampling=m.sampling,
        )
        self.times.model += time.perf_counter() - t0
        run.windows.append(None)
        self.pending.append((run, len(run.windows) - 1, x))

    def _classify(self, *, force: bool) -> None:
        if not self.pending or (len(self.pending) < self.batch_size and not force):
            return
        t0 = time.perf_counter()
        probs = classify_inputs(self.predictor.model, [x for _, _, x in self.pending], batch_size=self.batch_size)
        classes = self.predictor.classes
        for (run, i, _), p in zip(self.pending, probs):
            s, e = run.spans[i]
            rate = float(np.mean(run.seen[s - run.first : e - run.first]))
            run.windows[i] = WindowPrediction(
                s, e, s / self.fps, e / self.fps, rate, classes[int(p.argmax())], self.predictor._as_dict(p)
            )
        self.pending = []
        self.times.model += time.perf_counter() - t0

    def _emit(self) -> None:
        for run in self.runs.values():
            if run.id is None:
                continue
            while run.emitted < len(run.windows) and run.windows[run.emitted] is not None:
                w = run.windows[run.emitted]
                run.emitted += 1
                if w.label is not None:
                    run.latest = w
                if self.on_window is not None:
                    self.on_window(run.id, w)

    def _draw(self, f: int) -> None:
        faces = []
        for run in self.runs.values():
            i = f - run.first
            if run.id is None or not 0 <= i < len(run.seen) or not run.seen[i]:
                continue
            w = run.latest
            faces.append(Drawn(run.id, run.boxes[i], w.label if w else None, w.probs[w.label] if w else None))
        self.on_frame(f, self.frames[f], sorted(faces, key=lambda d: d.id))

    def _track(self, run: FaceRun, *, so_far: bool = False) -> TrackPrediction:
        last = run.last_seen if so_far and self.faces == "all" else None  # later frames may not be the face's
        return run.prediction(self.predictor, self.fps, so_far=so_far, last=last)

    def snapshot(self) -> VideoPrediction | None:
        """The prediction so far (windows labelled until now), ``None`` before any face is confirmed."""
        runs = [r for r in self.runs.values() if r.id is not None and any(r.seen)]
        if not runs:
            return None
        return self._assemble(self.frames.last + 1, [self._track(r, so_far=True) for r in runs], len(self.runs))

    def _result(self, n: int) -> VideoPrediction:
        confirmed = [r for r in self.runs.values() if r.id is not None and any(r.seen)]
        if not confirmed:
            raise FervidError(f"{self.name}: no face found in any of its {n} frames")
        return self._assemble(n, [self._track(r) for r in confirmed], len(self.runs))

    def _assemble(self, n: int, tracks: list[TrackPrediction], n_runs: int) -> VideoPrediction:
        tracks = sorted(tracks, key=lambda t: t.id)
        main = max(tracks, key=lambda t: (int(t.seen.sum()), -t.id))
        anyface = np.zeros(n, bool)
        for tr in tracks:
            anyface[tr.first_frame : tr.end_frame] |= tr.seen
        return VideoPrediction(
            video=self.name,
            fps=self.fps,
            frames=n,
            face_rate=float(anyface.mean()),
            windows=main.windows,
            label=main.label,
            probs=main.probs,
            classes=self.predictor.classes,
            prompts=self.predictor.meta.extra.get("prompts"),
            thumbnails=main.thumbnails,
            faces=self.faces,
            tracks=tracks,
            dropped_tracks=n_runs - len(tracks),
        )
