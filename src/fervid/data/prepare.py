"""``fervid prepare``: decode every sequence, crop the face, cache clips as ``uint8`` arrays.

Writes the prepared directory described in :mod:`fervid.data.manifest`. Work is per clip and
resumable: each finished clip (or its skip reason) is recorded in ``OUT/.prepare/<clip_id>.json``
after its array is written atomically, so a second run redoes nothing complete and an
interrupted run loses nothing finished; ``manifest.csv`` and ``skipped.csv`` are rebuilt from
those records at the end (and on interruption).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing as mp
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fervid.data.faces import FaceCropper
from fervid.data.manifest import ClipRecord, read_meta, write_csv_atomic, write_manifest, write_meta
from fervid.data.readers import Item, read_listing
from fervid.data.readers.common import EXCLUDED, list_frames
from fervid.data.verify import clip_problem
from fervid.data.video import read_frames, read_video
from fervid.errors import FervidError
from fervid.writes import WriteFailed, atomic_write_bytes

STATE_DIR = ".prepare"


@dataclass
class PrepareSummary:
    out: str
    written: int  # clips in the manifest (this run and earlier ones)
    skipped: int  # problems listed in skipped.csv
    excluded: int  # exclusions by design listed there too (OS files, unlabelled, --no-contempt)
    processed: int  # items worked on in this run (0 when everything was already done)
    dropped_frames: int
    seconds: float

    @property
    def line(self) -> str:
        return f"{self.written} clips written, {self.skipped} skipped (see {Path(self.out) / 'skipped.csv'})"


class _Skip(Exception):
    pass


def _load(item: Item) -> tuple[list[np.ndarray], int, list[tuple[str, str]]]:
    path = Path(item.path)
    if path.is_dir():
        paths, extra = list_frames(path)
        if not paths:
            raise _Skip("empty sequence folder (no frames)", extra)
        frames, dropped = read_frames(paths)
        if not frames:
            raise _Skip(f"all {len(paths)} frames unreadable", extra)
        return frames, dropped, extra
    try:
        video = read_video(path)
    except FervidError as e:
        raise _Skip(str(e).removeprefix(f"{path}: "), []) from None
    return video.frames, video.n_dropped, []


def process_item(item: Item, out: Path, cropper: FaceCropper) -> dict:
    """Crop one sequence into ``out/clips/<id>.npy`` and record the outcome; returns the record."""
    try:
        frames, dropped, extra = _load(item)
        crop = cropper.crop(frames)
        if not crop.detected.any():
            raise _Skip(f"no face found in any of {len(frames)} frames", extra)
    except _Skip as e:
        state = {"skipped": e.args[0], "extra": e.args[1]}
    else:
        file = f"clips/{item.clip_id}.npy"
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(crop.clip, dtype=np.uint8))  # (T, H, W, 3) RGB
        atomic_write_bytes(out / file, buf.getvalue(), what="a cached clip")
        buf = io.BytesIO()
        np.save(buf, crop.geometry)  # (T, 4): centre x, centre y, side, roll; re-cuts aligned masks exactly
        atomic_write_bytes(out / "boxes" / f"{item.clip_id}.npy", buf.getvalue(), what="a clip's crop boxes")
        record = ClipRecord(
            clip_id=item.clip_id,
            subject=item.subject,
            label=item.label,
            n_frames=len(crop.clip),
            source=item.source,
            face_rate=round(crop.face_rate, 4),
            dropped_frames=dropped,
            fold=item.fold,
            file=file,
        )
        state = {"record": asdict(record), "extra": extra}
    atomic_write_bytes(
        out / STATE_DIR / f"{item.clip_id}.json", json.dumps(state).encode(), what="prepare's record of a clip"
    )
    return state


def _done_state(out: Path, item: Item) -> dict | None:
    path = out / STATE_DIR / f"{item.clip_id}.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if "record" in state and clip_problem(out / state["record"]["file"], ClipRecord(**state["record"])):
        return None  # the array was removed or damaged: redo it
    return state


_WORKER_CROPPER: FaceCropper | None = None


def _init_worker(config: dict) -> None:
    import cv2

    global _WORKER_CROPPER
    cv2.setNumThreads(1)  # parallelism comes from the processes
    _WORKER_CROPPER = FaceCropper.from_config(config)


def _work(args: tuple[Item, str]) -> tuple[str, dict]:
    item, out = args
    return item.clip_id, process_item(item, Path(out), _WORKER_CROPPER)


def _pool_context():
    # Not plain fork: a parent whose OpenCV thread pool has run can deadlock a forked child. A
    # fork server that has only imported this module forks cheap, safe workers.
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return mp.get_context("spawn")


def _check_out(out: Path, meta: dict) -> None:
    """Refuse to mix clips made with other settings, or to write into an unrelated folder."""
    if out.exists() and not out.is_dir():
        raise FervidError(f"{out}: exists and is not a folder")
    if (out / "meta.json").is_file():
        old = read_meta(out)
        for key in ("dataset", "classes", "preprocess", "options"):
            if old.get(key) != meta[key]:
                raise FervidError(
                    f"{out}: prepared earlier with a different {key} ({old.get(key)} vs {meta[key]}); "
                    "use another OUT or delete this one"
                )
    elif out.is_dir() and any(p.name != STATE_DIR for p in out.iterdir()):
        raise FervidError(f"{out}: not empty and not a prepared dataset; choose a new OUT")


def prepare(
    src: str | os.PathLike,
    out: str | os.PathLike,
    fmt: str,
    *,
    size: int = 112,
    detector: str = "haar",
    detector_model: str | None = None,
    margin: float = 0.2,
    align: bool = False,
    smoothing: int = 5,
    detect_every: int = 1,
    detect_size: str = "full",
    workers: int = 1,
    strict: bool = False,
    progress: bool = True,
    **reader_options: Any,
) -> PrepareSummary:
    """Prepare dataset ``src`` (layout ``fmt``) into ``out``; see the module docstring.

    ``reader_options`` go to the reader (oulu: ``modality``, ``illumination``, ``variant``;
    ckplus: ``contempt``; folders: ``subject_regex``). With ``strict``, any skipped item
    (exclusions by design aside) raises :class:`FervidError` after everything is written.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    out = Path(out)
    listing = read_listing(fmt, src, **{k: v for k, v in reader_options.items() if v is not None})
    cropper = FaceCropper(
        detector=detector,
        detector_model=detector_model,
        size=size,
        margin=margin,
        align=align,
        smoothing=smoothing,
        detect_every=detect_every,
        detect_size=detect_size,
    )
    meta = {
        "dataset": listing.dataset,
        "classes": listing.classes,
        "size": size,
        "preprocess": cropper.config,
        "source": str(Path(src).resolve()),
        "reader": fmt,
        "options": listing.options,
    }
    _check_out(out, meta)
    write_meta(out, meta)  # first: a folder holding only our subfolders would be "not a prepared dataset"
    (out / "clips").mkdir(parents=True, exist_ok=True)
    (out / STATE_DIR).mkdir(exist_ok=True)

    states = {it.clip_id: s for it in listing.items if (s := _done_state(out, it)) is not None}
    todo = [it for it in listing.items if it.clip_id not in states]
    bar = tqdm(total=len(todo), desc="prepare", unit="clip", disable=not progress or not todo, file=sys.stderr)
    try:
        if workers <= 1 or len(todo) <= 1:
            for it in todo:
                states[it.clip_id] = process_item(it, out, cropper)
                bar.update()
        else:
            ctx = _pool_context()
            with ctx.Pool(min(workers, len(todo)), initializer=_init_worker, initargs=(cropper.config,)) as pool:
                for clip_id, state in pool.imap_unordered(_work, [(it, str(out)) for it in todo]):
                    states[clip_id] = state
                    bar.update()
    except BaseException:
        bar.close()
        with contextlib.suppress(WriteFailed):  # a full disk fails the lists too: report what it failed first
            _write_lists(out, listing, states)
        raise
    bar.close()
    summary = _write_lists(out, listing, states)
    summary.processed = len(todo)
    summary.seconds = time.perf_counter() - start
    if strict and summary.skipped:
        raise FervidError(f"{summary.line}; --strict")
    return summary


def _write_lists(out: Path, listing, states: dict[str, dict]) -> PrepareSummary:
    records, skipped = [], list(listing.skipped)
    for it in listing.items:
        state = states.get(it.clip_id)
        if state is None:
            continue  # interrupted before this one
        skipped.extend(tuple(row) for row in state.get("extra", []))
        if "record" in state:
            records.append(ClipRecord(**state["record"]))
        else:
            skipped.append((it.path, state["skipped"]))
    write_manifest(out, records)
    write_csv_atomic(out / "skipped.csv", ("item", "reason"), skipped)
    excluded = sum(reason.startswith(EXCLUDED) for _, reason in skipped)
    return PrepareSummary(
        out=str(out),
        written=len(records),
        skipped=len(skipped) - excluded,
        excluded=excluded,
        processed=0,
        dropped_frames=sum(r.dropped_frames for r in records),
        seconds=0.0,
    )
