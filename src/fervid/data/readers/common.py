"""What every reader returns: a :class:`Listing` of sequences to prepare plus what it skipped."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from fervid.classes import BASIC6, canonical
from fervid.data.video import IMAGE_EXTS, VIDEO_EXTS, natural_key
from fervid.errors import FervidError

# Reasons starting with this prefix are exclusions by design (OS files, unlabelled CK+
# sequences, contempt with --no-contempt): listed in skipped.csv but not failures for --strict.
EXCLUDED = "excluded: "
OS_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", ".directory"})

# Known classes come first, in this order, so index orders line up across datasets.
CLASS_ORDER = (*BASIC6, "neutral", "contempt")


@dataclass
class Item:
    """One sequence to turn into a clip."""

    clip_id: str
    subject: str
    label: str  # canonical class name
    path: str  # a video file or a folder of frames
    source: str  # the path as shown to users (relative to SRC)
    fold: str = ""


@dataclass
class Listing:
    dataset: str
    classes: list[str]
    items: list[Item] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    options: dict = field(default_factory=dict)  # reader options as resolved

    def skip(self, item, reason: str) -> None:
        self.skipped.append((str(item), reason))


def is_os_file(path: Path) -> bool:
    name = path.name.lower()
    return name in OS_FILES or name.startswith("._")  # "._x": macOS AppleDouble resource forks


def entries(folder: Path) -> list[Path]:
    """Children of ``folder`` in natural order (``P2`` before ``P10``)."""
    return sorted(folder.iterdir(), key=lambda p: natural_key(p.name))


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTS


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTS


def list_frames(folder: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files of a frame folder in numeric order, and everything else as skip rows."""
    frames, skipped = [], []
    for p in entries(folder):
        if is_os_file(p):
            skipped.append((str(p), EXCLUDED + "OS file"))
        elif is_image(p):
            frames.append(p)
        else:
            skipped.append((str(p), "not an image frame"))
    return frames, skipped


def order_classes(names) -> list[str]:
    names = set(names)
    return [c for c in CLASS_ORDER if c in names] + sorted(names - set(CLASS_ORDER))


def safe_id(text: str) -> str:
    """A file-name-safe clip id from a relative path: ``a/b c.mp4`` -> ``a__b_c``."""
    stem = os.path.splitext(text)[0] if Path(text).suffix.lower() in VIDEO_EXTS else text
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("\\", "/").strip("/").replace("/", "__"))


def check_unique(items: list[Item]) -> None:
    seen: dict[str, str] = {}
    for it in items:
        if it.clip_id in seen:
            raise FervidError(f"{it.source}: clip id {it.clip_id!r} also used by {seen[it.clip_id]}")
        seen[it.clip_id] = it.source


def label_name(text: str, where: str) -> str:
    """Canonical class name; numeric codes are refused (classes are matched by name)."""
    text = text.strip()
    if re.fullmatch(r"[-+]?\d+(\.\d*)?", text):
        raise FervidError(f"{where}: label {text!r} is a numeric code; give class names (e.g. 'happiness')")
    return canonical(text)


def find_dir(root: Path, names: set[str], max_depth: int = 4) -> list[Path]:
    """Folders below ``root`` (itself included) whose name is in ``names`` (case-insensitive)."""
    names = {n.lower() for n in names}
    found = []
    root = Path(root)
    if root.name.lower() in names:
        return [root]
    for dirpath, dirnames, _ in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        for d in dirnames:
            if d.lower() in names:
                found.append(Path(dirpath) / d)
        dirnames[:] = [d for d in dirnames if d.lower() not in names and depth + 1 < max_depth]
    return sorted(found)


def require_dir(src) -> Path:
    src = Path(src)
    if not src.is_dir():
        raise FervidError(f"{src}: no such folder")
    return src
