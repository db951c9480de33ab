"""Clip loading: the prepared cache (ClipDataset) vs decoding JPEG frames on every read.

Builds, in a temporary directory, the same sequences twice: as Oulu-CASIA-like 320x240 JPEG
frame folders, and as a prepared directory of 112x112 uint8 ``.npy`` clips. Then times making
one eval-ready 16-frame clip (float32 (3, 16, 112, 112), normalised) both ways:

- cache: ``ClipDataset.__getitem__`` (memory-mapped read of the 16 sampled frames + transform);
- decode: ``cv2.imread`` of the 16 sampled JPEGs, crop of a fixed face box, ``cv2.resize`` to
  112, BGR->RGB, same transform (``to_model_input``). Face detection is NOT included
  (prepare does it once), so this understates what decoding from scratch costs.

Both are also timed without the shared transform ("frames only": uint8 (16, 112, 112, 3)), and
the training item (augmentation) against the same augmentation chained from torchvision ops.
Everything runs single-threaded, as one DataLoader worker does. Frames come from
tests/data/single_face.mp4 (a real face video) so the JPEGs compress like real faces.

Usage: python benchmarks/clip_loading.py [--sequences 20] [--frames 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from fervid.data import ClipDataset
from fervid.data.manifest import ClipRecord, write_manifest, write_meta
from fervid.data.sampling import sample_indices
from fervid.data.transforms import to_model_input

VIDEO = Path(__file__).resolve().parents[1] / "tests" / "data" / "single_face.mp4"
FACE_BOX = (40, 100, 160, 160)  # (top, left, h, w) in the 320x240 frame


def source_frames(n: int) -> list[np.ndarray]:
    """``n`` BGR 320x240 frames from the real face video (cycled if it is shorter)."""
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        x0 = (w - h * 4 // 3) // 2  # 4:3 centre crop, as Oulu-CASIA's 320x240
        frames.append(cv2.resize(f[:, x0 : x0 + h * 4 // 3], (320, 240), interpolation=cv2.INTER_AREA))
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read {VIDEO}")
    return [frames[i % len(frames)] for i in range(n)]


def crop_resize(frame_bgr: np.ndarray, size: int) -> np.ndarray:
    top, left, h, w = FACE_BOX
    face = cv2.resize(frame_bgr[top : top + h, left : left + w], (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(face, cv2.COLOR_BGR2RGB)


def build(root: Path, sequences: int, frames: int, size: int) -> list[list[Path]]:
    src = source_frames(sequences * frames)
    (root / "prep" / "clips").mkdir(parents=True)
    records, jpeg_seqs = [], []
    for s in range(sequences):
        seq = src[s * frames : (s + 1) * frames]
        folder = root / "jpeg" / f"P{s + 1:03d}" / "Happiness"
        folder.mkdir(parents=True)
        paths = []
        for t, f in enumerate(seq):
            p = folder / f"{t:03d}.jpeg"
            cv2.imwrite(str(p), f, [cv2.IMWRITE_JPEG_QUALITY, 95])
            paths.append(p)
        jpeg_seqs.append(paths)
        clip = np.stack([crop_resize(f, size) for f in seq])  # (T, size, size, 3) uint8 RGB
        np.save(root / "prep" / "clips" / f"s{s}.npy", clip)
        records.append(
            ClipRecord(
                clip_id=f"s{s}",
                subject=f"P{s + 1:03d}",
                label="happiness",
                n_frames=frames,
                source=str(folder),
                face_rate=1.0,
                file=f"clips/s{s}.npy",
            )
        )
    write_manifest(root / "prep", records)
    write_meta(root / "prep", {"dataset": "bench", "classes": ["happiness"], "size": size, "preprocess": {}})
    return jpeg_seqs


def decode_frames(paths: list[Path], num_frames: int, size: int) -> np.ndarray:
    idx = sample_indices(len(paths), num_frames, "uniform")
    return np.stack([crop_resize(cv2.imread(str(paths[i]), cv2.IMREAD_COLOR), size) for i in idx])


def torchvision_augment(frames: np.ndarray, rng: np.random.Generator, size: int) -> torch.Tensor:
    """The same augmentation chained from torchvision.transforms.v2.functional ops, for comparison."""
    import torchvision.transforms.v2.functional as F

    from fervid.data.transforms import DEFAULT_AUGMENT as A
    from fervid.data.transforms import IMAGENET_MEAN, IMAGENET_STD, crop_box

    x = torch.from_numpy(frames).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
    box = crop_box(x.shape[2], x.shape[3], scale=A["scale"], ratio=A["ratio"], rng=rng)
    x = F.resized_crop(x, *box, [size, size], antialias=True)
    if rng.random() < 0.5:
        x = F.horizontal_flip(x)
    x = F.rotate(
        x.float().div_(255), float(rng.uniform(-A["rotate"], A["rotate"])), interpolation=F.InterpolationMode.BILINEAR
    )
    for adjust in (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation):
        x = adjust(x, float(rng.uniform(1 - A["color_jitter"], 1 + A["color_jitter"])))
    return F.normalize(x, list(IMAGENET_MEAN), list(IMAGENET_STD)).permute(1, 0, 2, 3).contiguous()


def rate(fn, n_items: int, repeats: int) -> tuple[float, float]:
    """Best of ``repeats`` passes: (clips/s by wall clock, CPU ms per clip of this thread).

    CPU time is reported too because the shared 2-core machine is often busy: waiting for a
    core inflates wall time, not CPU time.
    """
    fn(0)  # warm the page cache and lazy imports
    best_wall, best_cpu = 0.0, float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.thread_time()
        for i in range(n_items):
            fn(i)
        best_wall = max(best_wall, n_items / (time.perf_counter() - w0))
        best_cpu = min(best_cpu, (time.thread_time() - c0) * 1000 / n_items)
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=20)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--num-frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seqs = build(root, args.sequences, args.frames, args.size)
        ds = ClipDataset(root / "prep", num_frames=args.num_frames)
        a, b = ds[0][0], to_model_input(decode_frames(seqs[0], args.num_frames, args.size))
        assert a.shape == b.shape, (a.shape, b.shape)
        rows = {
            "cache: frames (mmap .npy read)": rate(
                lambda i: np.asarray(ds.load(i)[sample_indices(len(seqs[i]), args.num_frames)]), len(ds), args.repeats
            ),
            "decode: frames (imread+crop+resize)": rate(
                lambda i: decode_frames(seqs[i], args.num_frames, args.size), len(seqs), args.repeats
            ),
            "cache: ClipDataset item": rate(lambda i: ds[i], len(ds), args.repeats),
            "decode: frames + same transform": rate(
                lambda i: to_model_input(decode_frames(seqs[i], args.num_frames, args.size)), len(seqs), args.repeats
            ),
        }
        train_ds = ClipDataset(root / "prep", num_frames=args.num_frames, train=True)
        train_rate = rate(lambda i: train_ds[i], len(train_ds), args.repeats)
        rng = np.random.default_rng(0)
        tv_rate = rate(
            lambda i: torchvision_augment(
                np.asarray(ds.load(i)[sample_indices(len(seqs[i]), args.num_frames)]), rng, args.size
            ),
            len(ds),
            args.repeats,
        )
        jpeg_kb = np.mean([p.stat().st_size for s in seqs for p in s]) / 1024
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"opencv {cv2.__version__}, 1 thread"
    )
    print(
        f"{args.sequences} sequences x {args.frames} frames; clip = {args.num_frames} frames -> "
        f"float32 {tuple(a.shape)}; JPEG 320x240 q95, {jpeg_kb:.1f} KiB/frame"
    )
    rows["cache: ClipDataset item, train augment"] = train_rate
    rows["same, chained torchvision v2 ops"] = tv_rate
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'path':<40}{'clips/s':>9}{'wall ms':>9}{'CPU ms':>9}")
    for name, (r, cpu) in rows.items():
        print(f"{name:<40}{r:>9.1f}{1000 / r:>9.2f}{cpu:>9.2f}")
    (fc, fc_cpu), (fd, fd_cpu), (ec, ec_cpu), (ed, ed_cpu) = list(rows.values())[:4]
    print(
        f"cache speed-up, frames only: {fc / fd:.1f}x wall, {fd_cpu / fc_cpu:.1f}x CPU; "
        f"eval-ready clip: {ec / ed:.1f}x wall, {ed_cpu / ec_cpu:.1f}x CPU"
    )


if __name__ == "__main__":
    main()
