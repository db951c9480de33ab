"""A CSV clip list: ``path,label[,subject][,fold]`` rows (FERV39k/MAFW-style lists).

Paths (video files or frame folders) are relative to the CSV's folder. A header row naming
the columns (``path,label,subject,fold`` in any order) is optional. Labels are class names.
"""

from __future__ import annotations

import csv
from pathlib import Path

from fervid.data.readers.common import Item, Listing, is_video, label_name, order_classes, safe_id
from fervid.errors import FervidError

COLUMNS = ("path", "label", "subject", "fold")


def read(src) -> Listing:
    src = Path(src)
    if not src.is_file():
        raise FervidError(f"{src}: no such CSV file (--format csv takes the clip list itself)")
    try:
        with open(src, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FervidError(f"{src}: unreadable CSV ({e})") from None
    start, cols = 0, list(COLUMNS)
    if rows and {"path", "label"} <= {c.strip().lower() for c in rows[0]}:
        cols, start = [c.strip().lower() for c in rows[0]], 1
    listing = Listing(dataset=src.stem, classes=[], options={})
    base = src.parent
    for line, row in enumerate(rows[start:], start + 1):
        if not any(c.strip() for c in row):
            continue
        rec = {k: v.strip() for k, v in zip(cols, row)}
        where = f"{src.name}:{line}"
        if not rec.get("path") or not rec.get("label"):
            listing.skip(where, "row without path or label")
            continue
        path = base / rec["path"]
        if not (path.is_dir() or is_video(path)):
            listing.skip(f"{where} ({rec['path']})", "not found (or not a video file / frame folder)")
            continue
        clip_id = safe_id(rec["path"])
        listing.items.append(
            Item(
                clip_id=clip_id,
                subject=rec.get("subject") or clip_id,
                label=label_name(rec["label"], where),
                path=str(path),
                source=rec["path"],
                fold=rec.get("fold", ""),
            )
        )
    listing.classes = order_classes(it.label for it in listing.items)
    return listing
