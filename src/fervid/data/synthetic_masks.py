"""Ground truth for saliency: where the active Action Units changed each synthetic frame.

For every frame the generator draws twice, with the frame's AU intensities and with all AUs at
zero, on the same head pose, blink, gaze and lighting and without sensor noise, and marks the
pixels whose colour differs by more than :data:`CHANGE_THRESHOLD` grey levels in any channel:
the change a viewer (or a model) could see there. Measuring the rendered change, rather than
rasterising the regions each AU moves, includes everything the renderer does (wrinkles, the
cheek highlight, the opening mouth, the jaw drop) at frame resolution after blur, and nothing
it does not. The face is the head outline (skin region; lowered by AU26) plus the AU mask.

Masks are written beside the frames, one PNG per frame, with the same names::

    OUT/AUMasks/P001/Anger/000.png   uint8: 0 outside the face, 128 face, 255 changed by an AU

They are recomputed from ``OUT/synth.json`` (the generator is deterministic for a seed), so
they can be added to an existing ``fervid synth`` folder; the frames are never touched.
:func:`crop_masks` cuts them exactly as ``fervid prepare`` cut the clip.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from fervid.data.synthetic import FOLDERS
from fervid.data.synthetic_frames import FrameComposer
from fervid.data.synthetic_sequence import Sequence, make_subject, plan_subject
from fervid.errors import FervidError

MASK_DIR = "AUMasks"
CHANGE_THRESHOLD = 8.0  # grey levels of 255: above JPEG q90 error and the sensor noise (sigma 1-4)
FACE, CHANGED = 128, 255


def sequence_masks(composer: FrameComposer, seq: Sequence) -> list[np.ndarray]:
    """Frame masks of one planned sequence, uint8 ``(H, W)`` with 0 / :data:`FACE` / :data:`CHANGED`."""
    w, h = composer.size
    neutral = np.zeros(seq.aus.shape[1])
    out = []
    for i in range(seq.n_frames):
        changed = np.zeros((h, w), bool)
        if seq.aus[i].any():
            diff = np.abs(composer.lit_frame(seq, i, seq.aus[i]) - composer.lit_frame(seq, i, neutral))
            changed = diff.max(axis=2) > CHANGE_THRESHOLD
        renderer, m = composer.subject.face, composer.affine(seq, i)
        head = np.maximum(renderer.head_mask(neutral), renderer.head_mask(seq.aus[i]))
        face = cv2.warpAffine(head, m, (w, h), flags=cv2.INTER_LINEAR) >= 128
        out.append(np.where(changed, CHANGED, np.where(face, FACE, 0)).astype(np.uint8))
    return out


def _write_subject_masks(root: Path, meta: dict, s: int) -> int:
    seed, size = meta["seed"], tuple(meta["size"])
    subject = make_subject(seed, s)
    composer = FrameComposer(subject, size)
    records = {(r["subject"], r["emotion"]): r for r in meta["sequences"]}
    n = 0
    for seq in plan_subject(seed, subject, tuple(meta["frames"]), tuple(meta["intensity"])):
        name = f"P{s + 1:03d}"
        rec = records.get((name, seq.emotion))
        if rec is None or rec["n_frames"] != seq.n_frames or rec["apex"] != round(seq.apex, 4):
            raise FervidError(
                f"{root}: synth.json's {name} {seq.emotion} does not match this fervid's generator "
                "(written by another version?); regenerate the set to get masks"
            )
        folder = root / MASK_DIR / name / FOLDERS[seq.emotion]
        folder.mkdir(parents=True, exist_ok=True)
        for i, mask in enumerate(sequence_masks(composer, seq)):
            ok, buf = cv2.imencode(".png", mask)
            if not ok:
                raise FervidError(f"{folder}: PNG encoding failed")
            (folder / f"{i:03d}.png").write_bytes(buf.tobytes())
        n += 1
    return n


def write_au_masks(synth_dir, *, workers: int = 1) -> int:
    """Write ``synth_dir/AUMasks/...`` for a ``fervid synth`` folder; returns the sequences done.

    The tree is built beside and moved into place, so a half-written mask folder never exists.
    """
    root = Path(synth_dir)
    meta_path = root / "synth.json"
    if not meta_path.is_file():
        raise FervidError(f"{root}: no synth.json; AU masks need a folder written by `fervid synth`")
    meta = json.loads(meta_path.read_text())
    tmp = root / f".{MASK_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        subjects = range(int(meta["subjects"]))
        if workers > 1 and len(subjects) > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, len(subjects))) as pool:
                done = sum(pool.map(functools.partial(_write_subject_masks, tmp, meta), subjects))
        else:
            done = sum(_write_subject_masks(tmp, meta, s) for s in subjects)
        shutil.rmtree(root / MASK_DIR, ignore_errors=True)
        (tmp / MASK_DIR).rename(root / MASK_DIR)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done


def read_masks(folder) -> tuple[np.ndarray, np.ndarray]:
    """A sequence's masks (a folder of ``NNN.png``) as bool ``(changed, face)``, each ``(N, H, W)``."""
    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise FervidError(f"{folder}: no AU masks (run `fervid synth ... --masks` or write_au_masks)")
    raw = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    return raw == CHANGED, raw >= FACE


@functools.lru_cache(maxsize=4)
def _prepared(path: str, manifest_mtime: int):
    """A prepared set's records by clip id and its face cropper (read once per set and manifest version)."""
    from fervid.data.faces import FaceCropper
    from fervid.data.manifest import read_manifest, read_meta

    return {r.clip_id: r for r in read_manifest(path)}, FaceCropper.from_config(read_meta(path)["preprocess"])


def crop_masks(prepared_dir, clip_id: str, synth_dir) -> tuple[np.ndarray, np.ndarray]:
    """The AU and face masks of prepared clip ``clip_id``, cut as its frames were: bool ``(changed, face)``,
    each ``(T, S, S)`` like the clip.

    Uses the crop geometry ``fervid prepare`` recorded (``boxes/<clip_id>.npy``); a set prepared
    before that is re-cropped from its frames and used only if this reproduces the stored clip exactly.
    """
    prepared, synth = Path(prepared_dir), Path(synth_dir)
    records, cropper = _prepared(str(prepared.resolve()), (prepared / "manifest.csv").stat().st_mtime_ns)
    record = records.get(clip_id)
    if record is None:
        raise FervidError(f"{prepared}: no clip {clip_id!r} in manifest.csv")
    subject, expression = Path(record.source).parts[-2:]
    changed, face = read_masks(synth / MASK_DIR / subject / expression)
    boxes_path = prepared / "boxes" / f"{clip_id}.npy"
    if boxes_path.is_file():
        geometry = np.load(boxes_path)
    else:
        from fervid.data.readers.common import list_frames
        from fervid.data.video import read_frames

        frames, _ = read_frames(list_frames(synth / "OriginalImg" / record.source)[0])
        crop = cropper.crop(frames)
        if not np.array_equal(crop.clip, np.load(prepared / record.file)):
            raise FervidError(
                f"{prepared}: {clip_id} has no recorded crop boxes and re-cropping its frames does not "
                "reproduce the clip; prepare the set again"
            )
        geometry = crop.geometry
    if len(geometry) != len(changed):
        raise FervidError(f"{prepared}: {clip_id} has {len(geometry)} crop boxes but {len(changed)} mask frames")
    cut = [cropper.cut(m.astype(np.uint8) * 255, geometry) >= 128 for m in (changed, face)]
    return cut[0], cut[1]
