"""CK+ (Extended Cohn-Kanade) as distributed.

Frames ``cohn-kanade-images/S005/001/S005_001_00000001.png``; labels
``Emotion/S005/001/S005_001_000000NN_emotion.txt`` holding one float code (0 neutral,
1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise). Only sequences
with an emotion file are labelled; the others are listed as excluded. Subject = ``S…`` folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from fervid.classes import BASIC6, canonical
from fervid.data.readers.common import EXCLUDED, Item, Listing, entries, find_dir, is_os_file, require_dir
from fervid.errors import FervidError

CODES = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sadness", 7: "surprise"}
_SUBJECT = re.compile(r"S\d{3}", re.IGNORECASE)


def _one_dir(src: Path, name: str) -> Path:
    found = find_dir(src, {name})
    if not found:
        raise FervidError(f"{src}: no {name}/ folder found (CK+ layout: cohn-kanade-images/ and Emotion/)")
    if len(found) > 1:
        raise FervidError(f"{src}: several {name}/ folders ({', '.join(map(str, found))}); point SRC at one copy")
    return found[0]


def _read_code(path: Path) -> int | None:
    try:
        value = float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None
    return int(value) if value.is_integer() else None


def read(src, *, contempt: bool = True) -> Listing:
    """List labelled CK+ sequences; ``contempt=False`` leaves contempt out (six classes)."""
    src = require_dir(src)
    images, labels = _one_dir(src, "cohn-kanade-images"), _one_dir(src, "Emotion")
    listing = Listing(
        dataset="ck+", classes=list(BASIC6) + (["contempt"] if contempt else []), options={"contempt": contempt}
    )
    seen = set()
    for subj in entries(images):
        if is_os_file(subj):
            listing.skip(subj, EXCLUDED + "OS file")
            continue
        if not (subj.is_dir() and _SUBJECT.fullmatch(subj.name)):
            listing.skip(subj, "not a subject folder (S005, …)")
            continue
        for seq in entries(subj):
            if is_os_file(seq):
                listing.skip(seq, EXCLUDED + "OS file")
                continue
            if not seq.is_dir():
                listing.skip(seq, "not a sequence folder")
                continue
            seen.add((subj.name, seq.name))
            files = [p for p in (labels / subj.name / seq.name).glob("*_emotion.txt") if not is_os_file(p)]
            if not files:
                listing.skip(seq, EXCLUDED + "no emotion label (unlabelled in CK+)")
                continue
            if len(files) > 1:
                listing.skip(seq, f"{len(files)} emotion files for one sequence")
                continue
            code = _read_code(files[0])
            if code not in CODES:
                listing.skip(files[0], "unreadable emotion code (expected one number 1-7)")
                continue
            name = canonical(CODES[code])
            if name not in listing.classes:
                reason = (
                    (EXCLUDED + "contempt (--no-contempt)")
                    if name == "contempt"
                    else (f"label {name!r} (code {code}) not in the protocol")
                )
                listing.skip(seq, reason)
                continue
            listing.items.append(
                Item(
                    clip_id=f"{subj.name}_{seq.name}",
                    subject=subj.name,
                    label=name,
                    path=str(seq),
                    source=seq.relative_to(images.parent).as_posix(),
                )
            )
    for f in sorted(labels.glob("*/*/*_emotion.txt")):
        if (f.parent.parent.name, f.parent.name) not in seen:
            listing.skip(f, "emotion label without an image sequence")
    return listing
