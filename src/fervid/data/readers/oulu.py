"""Oulu-CASIA NIR&VIS as distributed.

``OriginalImg/{VL,NI}/{Strong,Weak,Dark}/P001…P080/{Anger,…,Surprise}/000.jpeg…`` and the
pre-cropped ``PreProcess_Img/{VL,NI}_Acropped/Strong/…`` (layout per the release; see
docs/data.md). SRC may be the folder holding ``OriginalImg``/``PreProcess_Img`` or any level
below it, down to one subject folder. The subject is the ``P…`` folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fervid.classes import BASIC6, canonical
from fervid.data.readers.common import EXCLUDED, Item, Listing, entries, is_os_file, require_dir
from fervid.errors import FervidError

MODALITIES = ("VL", "NI")
ILLUMINATIONS = ("Strong", "Weak", "Dark")
EXPRESSIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")
_SUBJECT = re.compile(r"P\d{3}", re.IGNORECASE)


def _pick(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    for a in allowed:
        if a.lower() == value.lower():
            return a
    raise FervidError(f"unknown Oulu-CASIA {what} {value!r} (choose from {', '.join(allowed)})")


def _has_subjects(folder: Path) -> bool:
    return any(p.is_dir() and _SUBJECT.fullmatch(p.name) for p in folder.iterdir())


def _from_path(folder: Path, given: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    """The modality/illumination a folder name states; an explicit option must agree with it."""
    name = folder.name.split("_")[0]
    stated = next((a for a in allowed if a.lower() == name.lower()), None)
    if stated and given and stated != given:
        raise FervidError(f"{folder}: this folder is {what} {stated}, but {given} was asked for")
    return stated or given


def _find_root(src: Path, modality: str, illumination: str, variant: str | None) -> Path:
    candidates = []
    for dirpath, dirnames, _ in os.walk(src):
        here = Path(dirpath)
        depth = len(here.relative_to(src).parts)
        if here.name.lower() == illumination.lower() and here.parent.name.lower() in (
            modality.lower(),
            f"{modality}_acropped".lower(),
        ):
            candidates.append(here)
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if not _SUBJECT.fullmatch(d) and depth < 5]
    kinds = {c: ("cropped" if c.parent.name.lower().endswith("_acropped") else "original") for c in candidates}
    if variant:
        candidates = [c for c in candidates if kinds[c] == variant]
    elif any(k == "original" for k in kinds.values()):
        candidates = [c for c in candidates if kinds[c] == "original"]  # original frames by default
    if not candidates:
        raise FervidError(
            f"{src}: no Oulu-CASIA {modality}/{illumination} sequences found (expected OriginalImg/{modality}/"
            f"{illumination}/P001/... or PreProcess_Img/{modality}_Acropped/{illumination}/P001/...)"
        )
    if len(candidates) > 1:
        found = ", ".join(map(str, candidates))
        raise FervidError(f"{src}: several Oulu-CASIA copies found ({found}); point SRC at one")
    return candidates[0]


def read(src, *, modality: str | None = None, illumination: str | None = None, variant: str | None = None) -> Listing:
    """List Oulu-CASIA sequences (default modality VL, illumination Strong: the standard 480)."""
    src = require_dir(src)
    modality = _pick(modality, MODALITIES, "modality")
    illumination = _pick(illumination, ILLUMINATIONS, "illumination")
    if variant not in (None, "original", "cropped"):
        raise FervidError(f"unknown Oulu-CASIA variant {variant!r} (original or cropped)")
    if _SUBJECT.fullmatch(src.name) and not _has_subjects(src):
        root, subjects = src.parent, [src]  # SRC is one subject's folder
    else:
        root, subjects = src, None
    if _has_subjects(root):
        illumination = _from_path(root, illumination, ILLUMINATIONS, "illumination")
        modality = _from_path(root.parent, modality, MODALITIES, "modality")
    else:
        modality, illumination = modality or "VL", illumination or "Strong"
        root = _find_root(root, modality, illumination, variant)
    cropped = root.parent.name.lower().endswith("_acropped")
    listing = Listing(
        dataset="oulu-casia",
        classes=list(BASIC6),
        options={
            "modality": modality or "VL",
            "illumination": illumination or "Strong",
            "variant": "cropped" if cropped else "original",
        },
    )
    by_name = {e.lower(): e for e in EXPRESSIONS}
    for subj in subjects or entries(root):
        if is_os_file(subj):
            listing.skip(subj, EXCLUDED + "OS file")
            continue
        if not (subj.is_dir() and _SUBJECT.fullmatch(subj.name)):
            listing.skip(subj, "not a subject folder (P001…P080)")
            continue
        for seq in entries(subj):
            if is_os_file(seq):
                listing.skip(seq, EXCLUDED + "OS file")
            elif not seq.is_dir():
                listing.skip(seq, "not an expression folder")
            elif seq.name.lower() not in by_name:
                listing.skip(seq, f"label {seq.name!r} not in the protocol ({', '.join(EXPRESSIONS)})")
            else:
                listing.items.append(
                    Item(
                        clip_id=f"{subj.name.upper()}_{by_name[seq.name.lower()]}",
                        subject=subj.name.upper(),
                        label=canonical(seq.name),
                        path=str(seq),
                        source=seq.relative_to(root.parent.parent).as_posix(),
                    )
                )
    return listing
