"""``fervid predict`` options for faces: which faces (``--faces``), how they are found
(``--detect-every``, ``--detect-size``), the annotated video (``--annotate``) and live input
(``--live``, run by :mod:`fervid.inference.live_cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_options(p: argparse.ArgumentParser) -> None:
    from fervid.data.face_stage import TrackSettings

    f = p.add_argument_group("faces")
    f.add_argument(
        "--faces",
        choices=["all", "largest"],
        default="all",
        help="all (default): every face, one track each (JSON 'tracks', CSV 'track'); largest: the most "
        "prominent face only, in the one-face JSON form of earlier versions",
    )
    f.add_argument(
        "--detect-every",
        type=int,
        default=TrackSettings.detect_every,
        metavar="N",
        help="run the face detector every N frames and follow faces in between, detecting again early "
        f"when a face is lost (default {TrackSettings.detect_every}; 1: every frame)",
    )
    f.add_argument(
        "--detect-size",
        choices=["auto", "full"],
        default="auto",
        help="auto (default): detect on frames shrunk as far as the detector still finds the smallest face "
        "it looks for; full: at the checkpoint's detection size, as `fervid prepare` does",
    )
    f.add_argument(
        "--max-gap",
        type=float,
        default=TrackSettings.max_gap_s,
        metavar="S",
        help=f"seconds a face may be hidden and keep its ID ({TrackSettings.max_gap_s:g})",
    )
    f.add_argument(
        "--annotate",
        metavar="OUT.mp4",
        help="write the video with each face's box, ID, label and probability (several videos: OUT-<video>.mp4)",
    )
    live = p.add_argument_group("live input")
    live.add_argument(
        "--live",
        metavar="SOURCE",
        help="label as the video arrives: a camera index (0), an rtsp:// or http:// URL, or a file played at "
        "its own frame rate; prints each window's label per face as it closes; Ctrl-C stops",
    )


def settings(args: argparse.Namespace):
    from fervid.data.face_stage import TrackSettings

    return TrackSettings(detect_every=args.detect_every, detect_size=args.detect_size, max_gap_s=args.max_gap)


def output_paths(out: str, names: list[str]) -> list[Path]:
    """``out`` for one video; ``OUT-<video stem>.suffix`` each (made unique) for several."""
    out = Path(out)
    if len(names) == 1:
        return [out]
    paths, seen = [], set()
    for video in names:
        name = f"{out.stem}-{Path(video).stem}"
        base, k = name, 2
        while name in seen:
            name, k = f"{base}-{k}", k + 1
        seen.add(name)
        paths.append(out.with_name(name + out.suffix))
    return paths


def write_annotations(out: str, preds, *, quiet: bool) -> list[str]:
    """Annotate each predicted video; returns the errors (one line each), the others still written."""
    from fervid.errors import FervidError
    from fervid.inference.annotate import annotate_video

    errors = []
    for pred, path in zip(preds, output_paths(out, [p.video for p in preds])):
        try:
            annotate_video(pred.video, pred, path, progress=not quiet)
        except FervidError as e:
            errors.append(str(e))
            print(f"fervid predict: error: {e}", file=sys.stderr)
    return errors
