"""Synthetic expression generator: render speed, Haar face detection rate, and a learnability probe.

    python benchmarks/synth_bench.py [--subjects 20] [--detect-subjects 6] [--probe-subjects 12]

1. ``generate`` with the defaults (320×240, 10–30 frames per sequence): wall and CPU time.
2. fervid's default face detector (OpenCV Haar, as ``fervid prepare`` runs it) on every frame
   of the first subjects: detection rate per emotion, for frame 0 and by apex intensity.
3. A nearest-centroid probe, leave-one-subject-out, on frame 0 and on the motion (last minus
   first frame of a face-centred crop), for weak and strong expressions, with its most common
   confusions: a model that sees only frame 0 must be at chance, weak expressions harder.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import torch

from fervid.data.faces import HaarDetector
from fervid.data.synthetic import EMOTIONS, generate


def bench_render(subjects: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cpu = time.process_time()
        s = generate(Path(tmp) / "synth", subjects=subjects, workers=workers)
        cpu = time.process_time() - cpu
        mb = sum(p.stat().st_size for p in Path(tmp).rglob("*.jpeg")) / 1e6
    own = f", {cpu:.1f} s CPU in this process" if workers == 1 else ""
    print(
        f"workers={workers}: {s.frames} frames in {s.seconds:.1f} s wall ({s.frames / s.seconds:.0f} frames/s{own}), "
        f"{mb:.0f} MB of JPEG"
    )


def bench_detect(subjects: int) -> None:
    detector = HaarDetector()
    hits = collections.defaultdict(lambda: [0, 0])
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "synth", subjects=subjects)
        meta = json.loads((Path(tmp) / "synth" / "synth.json").read_text())
        for rec in meta["sequences"]:
            folder = Path(tmp, "synth", "OriginalImg", "VL", "Strong", rec["subject"], rec["emotion"].capitalize())
            band = "apex < 0.5" if rec["apex"] < 0.5 else "apex >= 0.5"
            for i, f in enumerate(sorted(folder.glob("*.jpeg"))):
                found = len(detector.detect(cv2.imread(str(f))[..., ::-1])) > 0
                for key in ("all frames", rec["emotion"], band) + (("frame 0",) if i == 0 else ()):
                    hits[key][0] += found
                    hits[key][1] += 1
    print(f"Haar detection, {subjects} subjects (fervid.data.faces.HaarDetector defaults):")
    for key in ("all frames", "frame 0", *EMOTIONS, "apex < 0.5", "apex >= 0.5"):
        h, n = hits[key]
        print(f"  {key:12s} {h:5d}/{n:<5d} {100 * h / n:5.1f} %")


def _probe_helpers():
    # The unit test's probe, loaded from its file, so that the benchmark measures the same thing.
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "test_synthetic.py"
    spec = importlib.util.spec_from_file_location("test_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.probe_features, module.loso_predict


def bench_probe(subjects: int) -> None:
    print(f"Nearest-centroid probe, leave-one-subject-out, {subjects} subjects, 16 frames at 160x120 (chance 16.7 %):")
    probe_features, loso_predict = _probe_helpers()
    for lo, hi in ((0.2, 0.4), (0.4, 0.7), (0.7, 1.0)):
        first, motion, y, subj = probe_features(
            seed=5, subjects=subjects, frames=16, size=(160, 120), intensity=(lo, hi)
        )
        p_first, p_motion = loso_predict(first, y, subj), loso_predict(motion, y, subj)
        confusions = collections.Counter(
            " / ".join(sorted((EMOTIONS[a], EMOTIONS[b]))) for a, b in zip(y, p_motion) if a != b
        ).most_common(3)
        print(
            f"  apex {lo:.1f}-{hi:.1f}: frame 0 {100 * (p_first == y).mean():5.1f} %, "
            f"motion {100 * (p_motion == y).mean():5.1f} %; top confusions: "
            + ", ".join(f"{k} ({n})" for k, n in confusions)
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=20)
    ap.add_argument("--detect-subjects", type=int, default=6)
    ap.add_argument("--probe-subjects", type=int, default=12)
    args = ap.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"opencv {cv2.__version__}, load average {os.getloadavg()[0]:.1f}"
    )
    bench_render(args.subjects, 1)
    bench_render(args.subjects, 2)
    bench_detect(args.detect_subjects)
    bench_probe(args.probe_subjects)


if __name__ == "__main__":
    main()
