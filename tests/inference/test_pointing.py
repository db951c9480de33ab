"""Pointing game and energy ratio, and benchmarks/saliency_pointing.py's machinery on a tiny study."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fervid.data.synthetic_masks import crop_masks
from fervid.inference.pointing import (
    centre_prior,
    default_tolerance,
    energy_ratio,
    peak,
    pointing_hit,
    random_map,
    score_frames,
)

ROOT = Path(__file__).resolve().parents[2]


def test_peak_of_a_flat_top_is_its_middle():
    m = np.zeros((12, 12))
    m[0:4, 0:6] = 1.0  # a coarse cell upsampled: a plateau in the top-left corner
    assert peak(m) == (1, 2)  # nearest the plateau's centroid (1.5, 2.5), not (0, 0)
    m[9, 9] = 2.0
    assert peak(m) == (9, 9)


def test_pointing_hit_and_tolerance():
    mask = np.zeros((20, 20), bool)
    mask[5:8, 5:8] = True
    s = np.zeros((20, 20))
    s[6, 6] = 1
    assert pointing_hit(s, mask)
    s = np.zeros((20, 20))
    s[6, 10] = 1  # 3 px right of the mask
    assert not pointing_hit(s, mask) and not pointing_hit(s, mask, tolerance=2) and pointing_hit(s, mask, tolerance=3)
    assert not pointing_hit(np.zeros((20, 20)), mask)  # an empty map points nowhere
    assert default_tolerance(224) == 15 and default_tolerance(48) == 3


def test_energy_ratio():
    face = np.zeros((10, 10), bool)
    face[2:8, 2:8] = True  # 36 px
    mask = np.zeros((10, 10), bool)
    mask[3:5, 3:6] = True  # 6 px, a sixth of the face
    assert energy_ratio(face.astype(float), mask, face) == pytest.approx(1.0)  # even over the face
    assert energy_ratio(mask.astype(float), mask, face) == pytest.approx(6.0)  # all of it in the mask
    assert energy_ratio(np.ones((10, 10)), mask, face) == pytest.approx(36 / 100)  # the background costs
    assert energy_ratio(np.zeros((10, 10)), mask, face) == 0.0
    assert np.isnan(energy_ratio(np.ones((10, 10)), np.zeros((10, 10), bool), face))


def test_baselines_and_frame_scores():
    c = centre_prior(48)
    assert (
        c.shape == (48, 48)
        and c.max() == pytest.approx(1, abs=0.01)
        and peak(c) in {(23, 23), (23, 24), (24, 23), (24, 24)}
    )
    assert np.array_equal(random_map(8, np.random.default_rng(1)), random_map(8, np.random.default_rng(1)))
    maps, changed, face = np.ones((3, 8, 8)), np.zeros((3, 8, 8), bool), np.ones((3, 8, 8), bool)
    changed[1:, 2, 2] = True  # frame 0 neutral: skipped
    scores = score_frames(maps, changed, face, tolerance=0)
    assert len(scores["hits"]) == 2 and scores["energy"] == [pytest.approx(1.0)] * 2


def _benchmark():
    spec = importlib.util.spec_from_file_location("saliency_pointing", ROOT / "benchmarks" / "saliency_pointing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_scores_held_out_clips_against_the_baselines(tiny_study, tmp_path, capsys):
    bench = _benchmark()
    out = tmp_path / "pointing.md"
    assert bench.main([str(tiny_study), "--models", "c3d", "--max-clips", "3", "--out", str(out)]) == 0
    table = out.read_text()
    assert table in capsys.readouterr().out
    assert table.splitlines()[2].startswith("| c3d | Grad-CAM on features | 3 (")
    row = json.loads(out.with_suffix(".json").read_text())["c3d"]
    folds = json.loads((tiny_study / "runs" / "c3d" / "folds.json").read_text())["folds"]
    assert row["clips"] == 3 and Path(row["run"]).name == "c3d"  # fold 1 has no checkpoint: not scored
    assert all(c.split("_")[0] in folds[0]["test_subjects"] for c in row["clip_ids"])  # held-out subjects only
    assert row["frames"] == row["model"]["frames"] == row["centre"]["frames"] == row["random"]["frames"]
    assert 0 < row["frames"] <= 3 * 8
    for key in ("model", "centre", "random"):
        assert 0 <= row[key]["pointing"] <= 1 and row[key]["energy"] >= 0


def test_readme_strip_explains_a_held_out_clip_with_its_au_mask(tiny_study, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("saliency_strip", ROOT / "benchmarks" / "saliency_strip.py")
    strip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(strip)
    out = tmp_path / "strip.png"
    assert strip.main([str(tiny_study), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    fold0 = json.loads((tiny_study / "runs" / "c3d" / "folds.json").read_text())["folds"][0]
    clip = line.split(": ", 1)[1].split(" ")[0]
    assert clip.split("_")[0] in fold0["test_subjects"] and clip.endswith("_Happiness")  # the rule: held out, happiness
    assert "a held-out subject), c3d fold 0" in line and "AU mask outlined" in line
    from PIL import Image

    from fervid.inference.explain_outputs import outline

    with Image.open(out) as png:
        assert png.format == "PNG" and png.width > 600
    frames = np.load(tiny_study / "prepared" / "clips" / f"{clip}.npy")
    changed, _ = crop_masks(tiny_study / "prepared", clip, tiny_study / "synth")
    drawn = (outline(frames, changed) != frames).any(axis=-1)  # (T, S, S)
    assert drawn.any() and not (drawn & ~changed).any()  # the outline runs along the mask's own border pixels
    assert not drawn[~changed.any(axis=(1, 2))].any()  # frames without change (neutral onset) stay as they were
