"""The prepared-dataset directory: ``meta.json``, ``manifest.csv``, ``clips/``, ``skipped.csv``.

This is the contract between ``fervid prepare`` (writer) and training/evaluation (readers):

- ``meta.json``: ``{"format", "dataset", "classes": [canonical names, index order],
  "size", "preprocess": {...}, "source", "reader" (the ``--format``), "options"}``.
- ``manifest.csv``: one row per clip, columns :data:`MANIFEST_COLUMNS`; ``label`` is a
  canonical class name from ``meta.json``'s ``classes``; ``fold`` is empty unless the dataset
  ships official folds (DFEW's five, a CSV column) or a ``train``/``test`` split (FERV39k's);
  ``file`` is relative to the directory.
- ``clips/<clip_id>.npy``: ``uint8`` array ``(T, H, W, 3)``, RGB, face-cropped.
- ``boxes/<clip_id>.npy``: ``float64`` ``(T, 4)``: each frame's crop (centre x, centre y, face
  side before the margin, roll in degrees) in source-frame pixels; ``FaceCropper.cut`` re-cuts
  anything aligned with the source frames (e.g. synthetic AU masks) exactly as the clip was cut.
- ``skipped.csv``: ``item,reason`` for everything that was not turned into a clip.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from fervid.errors import FervidError
from fervid.writes import atomic_write_bytes

FORMAT = "fervid-prepared/1"
MANIFEST_COLUMNS = ("clip_id", "subject", "label", "n_frames", "source", "face_rate", "dropped_frames", "fold", "file")


@dataclass
class ClipRecord:
    clip_id: str
    subject: str
    label: str
    n_frames: int
    source: str
    face_rate: float
    dropped_frames: int = 0
    fold: str = ""  # official fold id where the dataset defines one, else empty
    file: str = ""  # relative to the prepared directory, e.g. clips/<clip_id>.npy


def write_csv_atomic(path: str | os.PathLike, header, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def write_manifest(prepared_dir: str | os.PathLike, records: list[ClipRecord]) -> None:
    rows = [[getattr(r, c) for c in MANIFEST_COLUMNS] for r in records]
    write_csv_atomic(Path(prepared_dir) / "manifest.csv", MANIFEST_COLUMNS, rows)


def read_manifest(prepared_dir: str | os.PathLike) -> list[ClipRecord]:
    path = Path(prepared_dir) / "manifest.csv"
    if not path.is_file():
        raise FervidError(f"{path}: no manifest; run `fervid prepare` first")
    types = {f.name: f.type for f in fields(ClipRecord)}
    out = []
    with open(path, newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                out.append(
                    ClipRecord(
                        **{
                            k: (int(v) if types[k] == "int" else float(v) if types[k] == "float" else v)
                            for k, v in row.items()
                            if k in types
                        }
                    )
                )
            except (TypeError, ValueError) as e:
                raise FervidError(f"{path}:{i}: malformed manifest row ({e})") from None
    return out


def write_meta(prepared_dir: str | os.PathLike, meta: dict) -> None:
    meta = {"format": FORMAT, **meta}
    atomic_write_bytes(Path(prepared_dir) / "meta.json", json.dumps(meta, indent=2).encode())


def read_meta(prepared_dir: str | os.PathLike) -> dict:
    path = Path(prepared_dir) / "meta.json"
    if not path.is_file():
        raise FervidError(f"{path}: not a prepared dataset (no meta.json); run `fervid prepare` first")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise FervidError(f"{path}: malformed ({e})") from None


def record_dict(r: ClipRecord) -> dict:
    return asdict(r)
