"""A tiny prepared dataset with a learnable, augmentation-proof signal, written directly
(uint8 clips + manifest + meta), so training tests do not depend on synth/prepare speed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from fervid.classes import BASIC6
from fervid.data.manifest import ClipRecord, write_manifest, write_meta

# Tiny model settings that train in seconds on a CPU.
TINY_C3D = ["model.name=c3d", "model.kwargs={channels: [8, 16], hidden: 32}", "data.num_frames=8", "data.image_size=32"]
# The same with 6 steps per epoch on make_prepared's default set, and a last.ckpt every 2 steps:
# the resume and fault tests kill and restart it mid-epoch.
RESUMABLE_C3D = [
    *TINY_C3D[1:],
    "batch_size=3",
    "data.num_workers=0",
    "trainer.progress_bar=false",
    "optim.lr=3e-3",
    "trainer.checkpoint_every_n_steps=2",
]


def train_cmd(base: Path, run_dir: Path, *extra: str, settings=RESUMABLE_C3D, launcher=("-m", "fervid")) -> list[str]:
    """``fervid train BASE/cfg.yaml --data BASE/data --folds 2 --epochs 3 --run-dir RUN_DIR`` with
    each of ``settings`` as ``--set``, run by this Python through ``launcher``."""
    cmd = [sys.executable, *launcher, "train", str(base / "cfg.yaml"), "--data", str(base / "data")]
    cmd += ["--folds", "2", "--epochs", "3", "--run-dir", str(run_dir), *extra]
    for s in settings:
        cmd += ["--set", s]
    return cmd


def make_prepared(
    root: Path, *, subjects: int = 8, frames: int = 8, size: int = 32, seed: int = 0, fold=lambda s: ""
) -> Path:
    """``subjects`` × 6 clips: class ``c`` brightens colour channel ``c % 3`` over time in the
    top (``c < 3``) or bottom half of the frame (flip-proof), over per-subject noise.

    ``fold(s)`` fills the manifest's fold column for subject ``s`` (0-based): official folds
    (DFEW-style ``"1"``…``"5"``) or a ``"train"``/``"test"`` split (FERV39k-style)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "clips").mkdir(parents=True, exist_ok=True)
    records = []
    for s in range(subjects):
        base = rng.integers(40, 90)  # per-subject skin tone
        for c, label in enumerate(BASIC6):
            clip = rng.normal(base, 12, size=(frames, size, size, 3))
            rows = slice(0, size // 2) if c < 3 else slice(size // 2, size)
            for t in range(frames):
                clip[t, rows, :, c % 3] += 120 * t / (frames - 1)
            clip_id = f"P{s + 1:03d}_{label}"
            np.save(root / "clips" / f"{clip_id}.npy", np.clip(clip, 0, 255).astype(np.uint8))
            records.append(
                ClipRecord(
                    clip_id=clip_id,
                    subject=f"P{s + 1:03d}",
                    label=label,
                    n_frames=frames,
                    source=f"synthetic/{clip_id}",
                    face_rate=1.0,
                    fold=fold(s),
                    file=f"clips/{clip_id}.npy",
                )
            )
    write_manifest(root, records)
    write_meta(
        root,
        {
            "dataset": "tiny",
            "classes": list(BASIC6),
            "size": size,
            "preprocess": {"detector": "none", "size": size},
            "source": "tests",
            "options": {},
        },
    )
    return root
