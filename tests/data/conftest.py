"""Builders for small dataset trees in each real layout (see /work/shared/REFERENCE.md "Datasets").

Frames are tiny (64x48) and uniform grey with brightness ``20 + 10 * index``, so a prepared clip's
frame order can be read back from its pixel values.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

W, H = 64, 48
OULU_EXPRESSIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")


def frame(i: int, gray: bool = False) -> np.ndarray:
    value = min(250, 20 + 10 * i)
    return np.full((H, W) if gray else (H, W, 3), value, np.uint8)


def brightness(clip: np.ndarray) -> list[int]:
    """Frame index encoded by :func:`frame`, per frame of a (T, H, W, 3) clip."""
    return [round((float(f.mean()) - 20) / 10) for f in clip]


def write_frames(folder: Path, n: int, pattern: str = "{:03d}.jpeg", gray: bool = False, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / pattern.format(i + start)), frame(i, gray))
    return folder


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def write_video(path: Path, n: int, fps: int = 10, rotation: int | None = None) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i in range(n):
            img = frame(i)
            img[:8, :8] = 255  # a marker in the top-left corner to check orientation
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def make_oulu(
    root: Path,
    subjects=("P001", "P002", "P003"),
    n: int = 5,
    *,
    cropped: bool = False,
    modality: str = "VL",
    illumination: str = "Strong",
) -> Path:
    """``root/B_OriginalImg/OriginalImg/VL/Strong/P00x/<Expression>/000.jpeg…``; returns the Strong folder."""
    if cropped:
        base = root / "PreProcess_Img" / f"{modality}_Acropped" / illumination
    else:
        base = root / "B_OriginalImg" / "OriginalImg" / modality / illumination
    for s in subjects:
        for e in OULU_EXPRESSIONS:
            write_frames(base / s / e, n)
    return base


def make_ckplus(root: Path, sequences: dict[tuple[str, str], float | None], n: int = 4) -> Path:
    """``cohn-kanade-images/S005/001/S005_001_0000000k.png`` (grayscale) and ``Emotion/…_emotion.txt``."""
    for (s, q), code in sequences.items():
        write_frames(root / "cohn-kanade-images" / s / q, n, pattern=f"{s}_{q}_" + "{:08d}.png", gray=True, start=1)
        (root / "Emotion" / s / q).mkdir(parents=True, exist_ok=True)
        if code is not None:
            (root / "Emotion" / s / q / f"{s}_{q}_{n:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
    return root


def make_dfew(root: Path, folds: dict[int, list[tuple[int, int]]], n: int = 4) -> Path:
    """``EmoLabel_DataSplit/test(single-labeled)/set_k.csv`` + ``Clip/clip_224x224/<00001>/…jpg``."""
    test = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    test.mkdir(parents=True, exist_ok=True)
    (root / "EmoLabel_DataSplit" / "train(single-labeled)").mkdir(exist_ok=True)
    for k in range(1, 6):
        rows = folds.get(k, [])
        (test / f"set_{k}.csv").write_text("video_name,label\n" + "".join(f"{v},{lab}\n" for v, lab in rows))
        for v, _ in rows:
            write_frames(root / "Clip" / "clip_224x224" / f"{v:05d}", n, pattern=f"{v:05d}_{{}}.jpg")
    return root


def make_ferv39k(
    root: Path, splits: dict[str, list[str]], frames: list[str] | None = None, n: int = 3, header: str | None = None
) -> Path:
    """``4_setups/All_scenes/{train,test}_All.csv`` with the given row lines, and face-crop frame folders
    ``2_ClipsforFaceCrop/<Scene>/<Class>/<NNNN>/`` for ``frames`` (default: every row's path)."""
    lists = root / "4_setups" / "All_scenes"
    lists.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows = splits.get(split, [])
        (lists / f"{split}_All.csv").write_text("".join(f"{r}\n" for r in ([header] if header else []) + rows))
    paths = frames if frames is not None else [r.replace(",", " ").split()[0] for rows in splits.values() for r in rows]
    for clip in paths:
        write_frames(root / "2_ClipsforFaceCrop" / clip, n, pattern="{:03d}.jpg")
    return root


def make_mafw(root: Path, test_sets: dict[int, list[str]], clips: list[str], n: int = 3) -> Path:
    """``Train & Test Set/single/no_caption/set_k/{train,test}.txt`` (test rows as given, train lists empty)
    and videos ``data/clips/<file>``."""
    for k in range(1, 6):
        folder = root / "Train & Test Set" / "single" / "no_caption" / f"set_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.txt").write_text("")
        (folder / "test.txt").write_text("".join(f"{r}\n" for r in test_sets.get(k, [])))
    for file in clips:
        write_video(root / "data" / "clips" / file, n)
    return root


@pytest.fixture
def layouts():
    """The builders above, for test modules (importing conftest directly is fragile)."""
    return SimpleNamespace(
        frame=frame,
        brightness=brightness,
        write_frames=write_frames,
        truncate=truncate,
        write_video=write_video,
        make_oulu=make_oulu,
        make_ckplus=make_ckplus,
        make_dfew=make_dfew,
        make_ferv39k=make_ferv39k,
        make_mafw=make_mafw,
        EXPRESSIONS=OULU_EXPRESSIONS,
    )
