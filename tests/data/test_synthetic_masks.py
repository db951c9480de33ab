"""AU masks of the synthetic generator: where FACS says, beside the frames, frames untouched, cut as the clips."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fervid.cli import main
from fervid.data.synthetic import generate, make_subject, plan_sequence
from fervid.data.synthetic_frames import FrameComposer
from fervid.data.synthetic_masks import CHANGED, FACE, MASK_DIR, crop_masks, sequence_masks, write_au_masks
from fervid.data.synthetic_render import AU_INDEX, AUS

SMALL = dict(subjects=2, frames=(4, 5), size=(96, 72), intensity=(0.8, 1.0))


def _changed_centroid(aus: tuple[str, ...]) -> tuple[np.ndarray, dict[str, float]]:
    """Centroid (x, y) of the pixels changed by ``aus`` at full intensity in one 320x240 frame, and
    the frame heights of the face's eye, nose and mouth lines."""
    subject = make_subject(0, 1)
    composer = FrameComposer(subject, (320, 240))
    seq = plan_sequence(0, subject, "happiness", 3)
    levels = np.zeros((3, len(AUS)))
    for name in aus:
        levels[1:, AU_INDEX[name]] = 1.0
    seq = dataclasses.replace(seq, aus=levels, blink=np.zeros(3))
    mask = sequence_masks(composer, seq)[2]
    ys, xs = np.nonzero(mask == CHANGED)
    at = subject.face.at  # where the eyes, nose and mouth sit on the canvas
    m = composer.affine(seq, 2)

    def frame_y(canvas_y: float) -> float:
        return float(m[1, 0] * 160.0 + m[1, 1] * canvas_y + m[1, 2])  # on the face's midline

    lines = {"eyes": frame_y(at.eye_y), "nose": frame_y(at.nose_y), "mouth": frame_y(at.mouth_y)}
    return np.array([xs.mean(), ys.mean()]), lines


@pytest.mark.parametrize(
    "aus,where",
    [
        (("AU12",), "mouth"),  # lip corners up and out
        (("AU1", "AU2"), "brows"),  # inner and outer brow raised
        (("AU9",), "nose"),  # nose wrinkled, upper lip lifted
    ],
)
def test_masks_mark_where_facs_says_each_au_acts(aus, where):
    (_, y), lines = _changed_centroid(aus)
    if where == "mouth":
        assert lines["nose"] < y < lines["mouth"] + 0.5 * (lines["mouth"] - lines["nose"])
    elif where == "brows":
        assert y < lines["eyes"]
    else:
        assert lines["eyes"] < y < lines["mouth"]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_masks_lie_beside_the_frames_which_stay_byte_identical(tmp_path):
    from fervid.data.readers import read_listing

    out = tmp_path / "synth"
    generate(out, seed=4, **SMALL)
    frames = _tree(out / "OriginalImg")
    assert write_au_masks(out) == 12
    assert _tree(out / "OriginalImg") == frames  # the frames are never touched
    jpegs = sorted(p.relative_to(out / "OriginalImg" / "VL" / "Strong") for p in out.rglob("*.jpeg"))
    pngs = sorted(p.relative_to(out / MASK_DIR) for p in (out / MASK_DIR).rglob("*.png"))
    assert [p.with_suffix("") for p in pngs] == [p.with_suffix("") for p in jpegs]  # one mask per frame
    for folder in {p.parent for p in pngs}:
        masks = np.stack(
            [
                cv2.imread(str(out / MASK_DIR / folder / f"{i:03d}.png"), cv2.IMREAD_GRAYSCALE)
                for i in range(len(list((out / MASK_DIR / folder).iterdir())))
            ]
        )
        assert set(np.unique(masks)) <= {0, FACE, CHANGED}
        assert not (masks[0] == CHANGED).any()  # frame 0 is neutral: nothing changed
        assert (masks[-1] == CHANGED).any() and (masks[-1] == FACE).sum() > 100
    listing = read_listing("oulu", out)  # the mask tree does not disturb the reader
    assert len(listing.items) == 12 and not listing.skipped
    generate(tmp_path / "again", seed=4, **SMALL)
    assert _tree(tmp_path / "again" / "OriginalImg") == frames  # same seed, same bytes


def test_synth_cli_writes_masks(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["synth", str(out), "--subjects", "1", "--frames", "3", "--size", "64x48", "--masks"]) == 0
    assert "wrote AU masks of 6 sequences" in capsys.readouterr().out
    assert len(list((out / MASK_DIR).rglob("*.png"))) == 18


def test_masks_are_cut_exactly_as_the_clips(tiny_study, tmp_path):
    from fervid.data.faces import FaceCropper
    from fervid.data.manifest import read_manifest, read_meta
    from fervid.data.readers.common import list_frames
    from fervid.data.video import read_frames

    prepared, synth = tiny_study / "prepared", tiny_study / "synth"
    record = next(r for r in read_manifest(prepared) if r.clip_id == "P001_Surprise")
    clip = np.load(prepared / record.file)
    geometry = np.load(prepared / "boxes" / "P001_Surprise.npy")
    frames, _ = read_frames(list_frames(synth / "OriginalImg" / record.source)[0])
    cropper = FaceCropper.from_config(read_meta(prepared)["preprocess"])
    assert np.array_equal(cropper.cut(frames, geometry), clip)  # the recorded boxes re-cut the clip exactly

    changed, face = crop_masks(prepared, "P001_Surprise", synth)
    assert changed.shape == face.shape == clip.shape[:3]
    assert not changed[0].any() and changed[-1].any()
    assert (changed & face).sum() == changed.sum()  # changes lie on the face
    assert face[:, 20:28, 20:28].all()  # the crop is centred on the face

    old = tmp_path / "prepared"  # a set prepared before boxes were recorded: re-cropped and checked
    shutil.copytree(prepared, old, ignore=shutil.ignore_patterns("boxes"))
    again = crop_masks(old, "P001_Surprise", synth)
    assert np.array_equal(again[0], changed) and np.array_equal(again[1], face)
    np.save(old / record.file, np.roll(clip, 1, axis=2))  # the stored clip no longer matches its frames
    with pytest.raises(Exception, match="does not reproduce the clip"):
        crop_masks(old, "P001_Surprise", synth)
