"""One folder per class: ``SRC/<class>/<video file or frame folder>``.

The subject comes from ``subject_regex`` searched in each item's path relative to SRC (its
first group, else the whole match); without it each video is its own subject.
"""

from __future__ import annotations

import re

from fervid.data.readers.common import (
    EXCLUDED,
    Item,
    Listing,
    entries,
    is_image,
    is_os_file,
    is_video,
    label_name,
    order_classes,
    require_dir,
    safe_id,
)
from fervid.errors import FervidError


def read(src, *, subject_regex: str | None = None) -> Listing:
    src = require_dir(src)
    try:
        pattern = re.compile(subject_regex) if subject_regex else None
    except re.error as e:
        raise FervidError(f"--subject-regex {subject_regex!r}: {e}") from None
    listing = Listing(dataset=src.name, classes=[], options={"subject_regex": subject_regex})
    for class_dir in entries(src):
        if is_os_file(class_dir):
            listing.skip(class_dir, EXCLUDED + "OS file")
            continue
        if not class_dir.is_dir():
            listing.skip(class_dir, "not in a class folder")
            continue
        label = label_name(class_dir.name, str(class_dir))
        for p in entries(class_dir):
            if is_os_file(p):
                listing.skip(p, EXCLUDED + "OS file")
                continue
            if is_image(p):
                listing.skip(p, "a single image, not a sequence (put frames in a folder)")
                continue
            if not (p.is_dir() or is_video(p)):
                listing.skip(p, "not a video file or frame folder")
                continue
            rel = p.relative_to(src).as_posix()
            subject = safe_id(rel)
            if pattern:
                m = pattern.search(rel)
                if not m:
                    listing.skip(p, f"--subject-regex {subject_regex!r} does not match {rel!r}")
                    continue
                subject = m.group(1) if m.groups() else m.group(0)
            listing.items.append(Item(clip_id=safe_id(rel), subject=subject, label=label, path=str(p), source=rel))
    listing.classes = order_classes(it.label for it in listing.items)
    return listing
