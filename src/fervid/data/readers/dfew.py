"""DFEW as released.

``EmoLabel_DataSplit/{train,test}(single-labeled)/set_{1..5}.csv`` (``video_name,label``,
labels 1-7 = Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear) and frame folders
``Clip/clip_224x224/<5-digit id>/``. A clip's fold is the set whose test list holds it.
DFEW has no subject ids (movie clips), so every clip is its own subject; use the folds.
"""

from __future__ import annotations

import csv
from pathlib import Path

from fervid.classes import BASIC6, canonical
from fervid.data.readers.common import Item, Listing, find_dir, require_dir
from fervid.errors import FervidError

CODES = {1: "happy", 2: "sad", 3: "neutral", 4: "angry", 5: "surprise", 6: "disgust", 7: "fear"}
FRAME_DIRS = ("clip_224x224", "jpg_256")


def _rows(path: Path) -> list[tuple[int, str, str]]:
    """(line, video_name, label) of one split CSV, header skipped."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise FervidError(f"{path}: unreadable split file ({e})") from None
    if rows and rows[0] and not rows[0][0].strip().isdigit():
        return [(i, r[0].strip(), r[1].strip() if len(r) > 1 else "") for i, r in enumerate(rows[1:], 2) if r]
    return [(i, r[0].strip(), r[1].strip() if len(r) > 1 else "") for i, r in enumerate(rows, 1) if r]


def read(src) -> Listing:
    """List DFEW's single-labelled clips with their official fold (1-5)."""
    src = require_dir(src)
    splits = find_dir(src, {"EmoLabel_DataSplit"}, max_depth=3)
    if len(splits) != 1:
        raise FervidError(f"{src}: expected one EmoLabel_DataSplit/ folder, found {len(splits)}")
    frames_root = next((d for name in FRAME_DIRS for d in find_dir(src, {name}, max_depth=3)), None)
    if frames_root is None:
        raise FervidError(f"{src}: no Clip/clip_224x224/ (or jpg_256/) frame folder found")
    listing = Listing(dataset="dfew", classes=[*BASIC6, "neutral"], options={"frames": frames_root.name})
    folds: dict[str, str] = {}
    for k in range(1, 6):
        path = splits[0] / "test(single-labeled)" / f"set_{k}.csv"
        if not path.is_file():
            raise FervidError(f"{path}: DFEW split file missing")
        for line, name, label in _rows(path):
            where = f"{path}:{line}"
            if not name.isdigit():
                listing.skip(where, f"bad video name {name!r}")
                continue
            clip_id = f"{int(name):05d}"
            try:
                code = int(float(label))
            except ValueError:
                code = None
            if code not in CODES:
                listing.skip(f"{where} ({clip_id})", f"label {label!r} not in the protocol (1-7)")
                continue
            if clip_id in folds:
                listing.skip(f"{where} ({clip_id})", f"already in the test list of set {folds[clip_id]}")
                continue
            folder = frames_root / clip_id
            if not folder.is_dir():
                listing.skip(folder, "no frames folder for this clip")
                continue
            folds[clip_id] = str(k)
            listing.items.append(
                Item(
                    clip_id=clip_id,
                    subject=clip_id,
                    label=canonical(CODES[code]),
                    path=str(folder),
                    source=folder.relative_to(frames_root.parent).as_posix(),
                    fold=str(k),
                )
            )
    listing.items.sort(key=lambda it: it.clip_id)
    return listing
