"""MAFW as released (Liu et al., ACM MM 2022): 10,045 clips, 11 single-label classes, 5 folds.

Split lists ``…/single/no_caption/set_{1..5}/{train,test}.txt``, one clip per row ``<file> <label>``
(e.g. ``00025.mp4 happiness``). REFERENCE gives the folder as ``split/``; public loaders read the
same lists under ``Train & Test Set/``: any parent is accepted. A clip's fold is the set whose
*test* list holds it (``1``-``5``, as DFEW's).

Clips: frame folders ``data/frames/<file stem>/`` (what MAE-DFER's ``preprocess/mafw.py`` and
other public loaders read), else the release's videos ``data/clips/<file>``. Neither is a face
crop: prepare with a face detector.

Classes are matched by name (codebases number them differently): anger, disgust, fear,
happiness, neutral, sadness, surprise, contempt, anxiety, helplessness, disappointment. MAFW has
no subject ids (clips of films and shows), so each clip is its own subject.
"""

from __future__ import annotations

from pathlib import Path

from fervid.classes import BASIC6, canonical
from fervid.data.readers.common import Item, Listing, find_dir, require_dir, safe_id
from fervid.errors import FervidError

CLASSES = (*BASIC6, "neutral", "contempt", "anxiety", "helplessness", "disappointment")


def _lists_root(src: Path) -> Path:
    found = [d for d in find_dir(src, {"no_caption"}, max_depth=5) if d.parent.name.lower() == "single"]
    if len(found) != 1:
        raise FervidError(f"{src}: expected one single/no_caption/ folder (MAFW's split lists), found {len(found)}")
    return found[0]


def _media(src: Path) -> tuple[Path, bool]:
    """The folder holding the clips and whether it holds videos (else frame folders)."""
    for name, videos in (("frames", False), ("clips", True)):
        found = find_dir(src, {name}, max_depth=3)
        if len(found) > 1:
            raise FervidError(f"{src}: several {name}/ folders ({', '.join(map(str, found))}); point SRC at one copy")
        if found:
            return found[0], videos
    raise FervidError(f"{src}: no data/frames/ (frame folders) or data/clips/ (videos) found")


def _rows(path: Path) -> list[tuple[int, str, str]]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise FervidError(f"{path}: unreadable split file ({e})") from None
    return [(i, *(line.split() + [""])[:2]) for i, line in enumerate(lines, 1) if line.strip()]


def read(src) -> Listing:
    """List MAFW's single-labelled clips with their official fold (1-5)."""
    src = require_dir(src)
    lists = _lists_root(src)
    media, videos = _media(src)
    listing = Listing(dataset="mafw", classes=list(CLASSES), options={"media": media.name})
    folds: dict[str, str] = {}
    for k in range(1, 6):
        path = lists / f"set_{k}" / "test.txt"
        if not path.is_file():
            raise FervidError(f"{path}: MAFW split file missing")
        for line, file, label in _rows(path):
            where = f"{path}:{line} ({file})"
            name = canonical(label) if label and not label.replace(".", "").isdigit() else None
            if name not in CLASSES:
                listing.skip(where, f"label {label!r} is not one of MAFW's 11 single-label classes")
                continue
            stem = Path(file).stem
            if stem in folds:
                listing.skip(where, f"already in the test list of set {folds[stem]}")
                continue
            clip = media / file if videos else media / stem
            if not (clip.is_file() if videos else clip.is_dir()):
                listing.skip(clip, "clip not found")
                continue
            folds[stem] = str(k)
            listing.items.append(
                Item(
                    clip_id=safe_id(stem),
                    subject=safe_id(stem),
                    label=name,
                    path=str(clip),
                    source=clip.relative_to(media.parent).as_posix(),
                    fold=str(k),
                )
            )
    listing.items.sort(key=lambda it: it.clip_id)
    return listing
