"""Prediction speed of the whole ``fervid predict`` path on CPU, per model.

Stages, timed separately on one video (default: tests/data/single_face.mp4, 72 frames of
640x360): decode (PyAV) -> face detection + tracking + crop (the default Haar preprocessing,
112 px crops) -> sliding-window model inference. Decoding and cropping do not depend on the
model, so they are timed once (best of ``--repeat``) and added to each model's inference time.
Reported fps = video frames / (decode + crop + model) seconds.

Configurations: each model's tiny configuration (tests/models/conftest.py) at the default
stride (window // 2), and the full-size defaults (``--full``; stride = window, i.e.
non-overlapping windows, to keep it to a minute or two on a small CPU).
Weights are random: speed does not depend on them.

    python benchmarks/predict_speed.py [--video V] [--full c3d,cnn_lstm,...] [--repeat 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FULL = "c3d,cnn_lstm,r2plus1d,tsm,timesformer,vivit"


def tiny_configs() -> dict:
    spec = importlib.util.spec_from_file_location("tiny", ROOT / "tests" / "models" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TINY


def best_of(repeat: int, fn):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=str(ROOT / "tests" / "data" / "single_face.mp4"))
    ap.add_argument("--full", default=DEFAULT_FULL, help="models to also run at full-size defaults ('' for none)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from fervid.checkpoint import CheckpointMeta
    from fervid.data.faces import FaceCropper
    from fervid.data.video import read_video
    from fervid.inference.predict import classify_windows, plan_windows
    from fervid.models import create_model, get_model_info, list_models

    torch.set_num_threads(os.cpu_count() or 1)
    cropper = FaceCropper()  # the default preprocessing of `fervid prepare`
    t_decode, video = best_of(args.repeat, lambda: read_video(args.video))
    t_crop, crop = best_of(args.repeat, lambda: cropper.crop(video.frames))
    n = len(video.frames)
    h, w = video.frames[0].shape[:2]
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"# video {Path(args.video).name}: {n} frames {w}x{h}; decode {t_decode:.2f} s ({n / t_decode:.0f} fps), "
        f"face crop {t_crop:.2f} s ({n / t_crop:.1f} fps, face in {crop.face_rate:.0%} of frames)"
    )
    print("| model | config | T x S | window/stride | windows | model s | model fps | whole path fps |")
    print("|---|---|---|---|---|---|---|---|")

    tiny = tiny_configs()
    full = [m for m in args.full.split(",") if m]
    runs = [(name, "tiny", dict(tiny[name])) for name in list_models()]
    runs += [(name, "full", {}) for name in full]
    for name, label, kwargs in runs:
        info = get_model_info(name)
        frames = kwargs.pop("num_frames", info.num_frames)
        size = kwargs.pop("image_size", info.image_size)
        torch.manual_seed(0)
        model = create_model(name, num_classes=6, num_frames=frames, image_size=size, **kwargs).eval()
        meta = CheckpointMeta(
            model=name,
            num_classes=6,
            num_frames=frames,
            image_size=size,
            classes=list("abcdef"),
            mean=list(info.mean),
            std=list(info.std),
            model_kwargs=kwargs,
        )
        stride = max(1, frames // 2) if label == "tiny" else frames
        spans = plan_windows(n, window=frames, stride=stride)

        infer = partial(
            classify_windows,
            model,
            crop.clip,
            spans,
            num_frames=frames,
            image_size=size,
            mean=meta.mean,
            std=meta.std,
            sampling=meta.sampling,
        )

        infer() if label == "tiny" else None  # warm-up (full-size ones are slow enough not to need it)
        t_model, _ = best_of(args.repeat if label == "tiny" else 1, infer)
        total = t_decode + t_crop + t_model
        print(
            f"| {name} | {label} | {frames} x {size} | {frames}/{stride} | {len(spans)} | {t_model:.2f} | "
            f"{n / t_model:.1f} | {n / total:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
