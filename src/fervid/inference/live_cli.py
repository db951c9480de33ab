"""``fervid predict --live SOURCE``: labels printed as each window closes, outputs written as it goes."""

from __future__ import annotations

import argparse
import sys


def _line(track_id: int, w, latency: float) -> str:
    label = f"{w.label} {w.probs[w.label]:.2f}" if w.label is not None else "no face"
    return f"{w.start_s:8.2f} - {w.end_s:8.2f} s  face {track_id}  {label}  (latency {latency * 1000:.0f} ms)"


class _Outputs:
    """JSON and CSV of the prediction so far, rewritten atomically as it grows and at the end."""

    def __init__(self, args: argparse.Namespace):
        self.json, self.csv = args.json, args.csv

    def write(self, pred) -> None:
        from fervid.inference.outputs import write_csv, write_json

        if self.json:
            write_json(self.json, [pred])
        if self.csv:
            write_csv(self.csv, [pred])


class _Recording:
    """The annotated recording (``--annotate``), started at the first final frame."""

    def __init__(self, path: str | None, fps: float):
        self.path, self.fps, self.writer = path, fps, None

    def frame(self, index: int, frame, faces) -> None:
        from fervid.inference.annotate import AnnotatedWriter, draw_faces

        if self.writer is None:
            h, w = frame.shape[:2]
            self.writer = AnnotatedWriter(self.path, width=w, height=h, rate=self.fps)
        self.writer.frame(draw_faces(frame, faces))

    def close(self):
        return self.writer.close() if self.writer is not None else None


def run_live(args: argparse.Namespace, predictor, settings) -> int:
    from fervid.data.streams import open_source
    from fervid.errors import FervidError
    from fervid.inference.live import run_live as live

    if args.saliency:
        raise FervidError("--saliency does not go with --live (it needs every crop of the video kept)")
    source = open_source(args.live)  # cannot be opened: one line, exit 2
    fps = source.fps or 30.0
    print(f"fervid predict: live from {source.name} ({fps:.2f} fps); Ctrl-C stops", file=sys.stderr, flush=True)
    outputs = _Outputs(args)
    recording = _Recording(args.annotate, fps) if args.annotate else None

    def on_window(track_id, w, latency):
        if not args.quiet:
            print(_line(track_id, w, latency), flush=True)

    result = live(
        source,
        predictor,
        faces=args.faces,
        settings=settings,
        window=args.window,
        stride=args.stride,
        on_window=on_window,
        on_frame=recording.frame if recording else None,
        on_progress=outputs.write if args.json or args.csv else None,
    )
    pred = result.prediction
    if pred is not None:
        outputs.write(pred)
        if args.plot:
            from fervid.inference.plot import plot_timeline

            plot_timeline(pred, args.plot)
        if args.html:
            from fervid.inference.html_predict import PredictionPage, write_predict_html

            write_predict_html(args.html, [PredictionPage(pred)])
    if recording is not None:
        recording.close()
    n_faces = len(pred.tracks) if pred is not None else 0
    rate = result.frames / result.seconds if result.seconds > 0 else 0.0
    print(
        f"live: {result.frames} frames in {result.seconds:.1f} s ({rate:.1f} fps), {n_faces} face"
        f"{'s' * (n_faces != 1)}; {result.latency_summary()} (frame arrival to label)"
        + (f"; {result.dropped} frames dropped: prediction was slower than the stream" if result.dropped else ""),
        flush=True,
    )
    if result.failure:
        print(f"fervid predict: error: {result.failure}", file=sys.stderr)
        return 1
    if result.interrupted:
        print("fervid predict: stopped (Ctrl-C); outputs are complete", file=sys.stderr)
    if pred is None:
        print(f"fervid predict: no face found in {source.name}", file=sys.stderr)
        return 1
    return 0
