"""FERV39k as released (Wang et al., CVPR 2022): 38,935 clips, 7 classes, one fixed split.

Split lists ``4_setups/All_scenes/train_All.csv`` and ``test_All.csv``: one clip per row, its path
``<Scene>/<Class>/<NNNN>`` and its label. The row format is not the same in every copy, so both
forms seen are read, with or without a header row:

- ``Interview/Happy/0118,3``: comma, numeric label (a form reported for the lists, unconfirmed);
- ``Action/Sad/0010 Sad``: space, class name, no header (how MAE-DFER's ``preprocess/ferv39k.py``
  reads the lists with ``pd.read_csv(delimiter=' ', header=None)``, and other public loaders).

Numeric codes are the classes in alphabetical order, 0 Angry, 1 Disgust, 2 Fear, 3 Happy,
4 Neutral, 5 Sad, 6 Surprise (the mapping of public FERV39k loaders that index by name; it
agrees with ``Interview/Happy/0118,3``; unconfirmed for the release itself). Classes are matched
by name: a label that names (or codes) another class than the path's ``<Class>`` folder is
skipped and listed, never guessed.

Frames: the release's face crops, ``2_ClipsforFaceCrop/<Scene>/<Class>/<NNNN>/*.jpg``, the folder
that DFER-CLIP's and other public annotation lists point at (DFER-CLIP ``annotation/FERV39K_*.txt``:
``…/FERV39K/2_ClipsforFaceCrop/Action/Happy/0015``). Unconfirmed: the release archive may unpack
as ``2_ClipsforFaceCrop/2_ClipsforFaceCrop/…`` (a path seen in public training scripts); that
nesting is followed. The frames are already face crops: prepare with ``--detector none``.

Fold values are exactly ``train`` and ``test`` (the split's ``holdout`` rule reads them). FERV39k
has no subject ids (clips of films and shows), so each clip is its own subject.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from fervid.classes import BASIC6, canonical
from fervid.data.readers.common import Item, Listing, find_dir, require_dir, safe_id
from fervid.errors import FervidError

CODES = {0: "Angry", 1: "Disgust", 2: "Fear", 3: "Happy", 4: "Neutral", 5: "Sad", 6: "Surprise"}
SPLITS = ("train", "test")
FRAMES_DIR = "2_ClipsforFaceCrop"
_PATH = re.compile(r"[^/\\]+[/\\][^/\\]+[/\\][^/\\]+")  # Scene/Class/NNNN


def _rows(path: Path) -> list[tuple[int, str, str]]:
    """(line, clip path, label) of one split list; comma- or space-separated, header skipped."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise FervidError(f"{path}: unreadable split file ({e})") from None
    out = []
    for i, line in enumerate(lines, 1):
        fields = next(csv.reader([line])) if "," in line else line.split()
        fields = [f.strip() for f in fields if f.strip()]
        if not fields:
            continue
        if i == 1 and not _PATH.fullmatch(fields[0]):
            continue  # a header row such as "path,label"
        out.append((i, fields[0].replace("\\", "/"), fields[1] if len(fields) > 1 else ""))
    return out


def _frames_root(src: Path) -> Path:
    found = find_dir(src, {FRAMES_DIR}, max_depth=3)
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise FervidError(
            f"{src}: {what} {FRAMES_DIR}/ folders found (FERV39k's face-crop frames); point SRC at one copy"
        )
    root = found[0]
    while (root / FRAMES_DIR).is_dir():  # the archive unpacked inside a folder of its own name
        root = root / FRAMES_DIR
    return root


def _label(text: str) -> str | None:
    """The FERV39k class a label names or codes, ``None`` if neither."""
    if re.fullmatch(r"\d+", text):
        return CODES.get(int(text))
    return next((c for c in CODES.values() if c.lower() == text.lower()), None)


def read(src) -> Listing:
    """List FERV39k's clips with their split (fold ``train`` or ``test``)."""
    src = require_dir(src)
    setups = find_dir(src, {"4_setups"}, max_depth=3)
    if len(setups) != 1:
        raise FervidError(f"{src}: expected one 4_setups/ folder (FERV39k's split lists), found {len(setups)}")
    frames_root = _frames_root(src)
    listing = Listing(dataset="ferv39k", classes=[*BASIC6, "neutral"], options={})
    seen: dict[str, str] = {}
    for split in SPLITS:
        path = setups[0] / "All_scenes" / f"{split}_All.csv"
        if not path.is_file():
            raise FervidError(f"{path}: FERV39k split file missing")
        for line, clip, label in _rows(path):
            where = f"{path}:{line} ({clip})"
            if not _PATH.fullmatch(clip):
                listing.skip(where, "not a Scene/Class/NNNN clip path")
                continue
            name, folder_class = _label(label), clip.split("/")[1]
            if name is None:
                listing.skip(where, f"label {label!r} is not one of FERV39k's 7 classes (0-6 or a name)")
                continue
            if name.lower() != folder_class.lower():
                listing.skip(where, f"label {label!r} ({name}) disagrees with the clip's class folder {folder_class!r}")
                continue
            if clip in seen:
                listing.skip(where, f"already listed in {seen[clip]}")
                continue
            folder = frames_root / clip
            if not folder.is_dir():
                listing.skip(folder, "no frames folder for this clip")
                continue
            seen[clip] = f"{path.name}"
            clip_id = safe_id(clip)
            listing.items.append(
                Item(
                    clip_id=clip_id,
                    subject=clip_id,
                    label=canonical(name),
                    path=str(folder),
                    source=folder.relative_to(frames_root.parent).as_posix(),
                    fold=split,
                )
            )
    return listing
