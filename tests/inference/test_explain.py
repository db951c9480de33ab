"""``fervid explain`` and its API on prepared synthetic clips and on a real face video."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fervid.cli import main
from fervid.data.sampling import sample_indices
from fervid.errors import FervidError
from fervid.inference.explain import explain_clip
from fervid.models import list_models

from . import test_zero_shot
from .conftest import CLASSES, SINGLE_FACE, make_checkpoint
from .test_saliency import TINY

clip_dir = test_zero_shot.clip_dir  # the fixture: a tiny random CLIP saved as a Hugging Face directory

CLIP = "P002_Happiness"


def _check_outputs(out, stem: str, t: int, side: int) -> dict:
    doc = json.loads((out / f"{stem}.json").read_text())
    maps = np.load(out / f"{stem}.npy")
    assert maps.shape == (t, side, side) and maps.dtype == np.float32
    assert 0 <= maps.min() and maps.max() <= 1
    with Image.open(out / f"{stem}.png") as png:
        assert png.format == "PNG" and png.width > 300
    with Image.open(out / f"{stem}.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == t
    assert len(doc["frames"]) == t and doc["crop_size"] == side
    assert sum(f["importance"] for f in doc["frames"]) == pytest.approx(1, abs=1e-4)
    assert doc["files"] == {"strip": f"{stem}.png", "gif": f"{stem}.gif", "maps": f"{stem}.npy"}
    assert doc["target"] in doc["probs"] and doc["predicted"] == max(doc["probs"], key=doc["probs"].get)
    return doc


def test_explain_a_prepared_clip_by_id(tiny_study, tmp_path, capsys):
    ckpt = tiny_study / "runs" / "c3d" / "fold_00" / "model.safetensors"
    out = tmp_path / "ex"
    assert (
        main(
            [
                "explain",
                str(ckpt),
                "--data",
                str(tiny_study / "prepared"),
                "--clip",
                CLIP,
                "--out",
                str(out),
                "--target",
                "happiness",
            ]
        )
        == 0
    )
    assert "saliency for happiness" in capsys.readouterr().out
    doc = _check_outputs(out, CLIP, t=8, side=48)
    assert doc["label"] == "happiness" and doc["target"] == "happiness" and doc["model"] == "c3d"
    assert [f["index"] for f in doc["frames"]] == list(range(8))  # 8-frame clip, "last" sampling


@pytest.mark.parametrize("name", list_models())
def test_every_model_explains_a_synthetic_clip(name, tiny_study, tmp_path):
    cfg = dict(TINY[name])
    t, s = cfg.pop("num_frames"), cfg.pop("image_size")
    if "class_names" in cfg:  # clip's text head names the checkpoint's classes, as `fervid train` makes it
        cfg["class_names"] = CLASSES
    ckpt = make_checkpoint(tmp_path / f"{name}.safetensors", model=name, kwargs=cfg, num_frames=t, image_size=s)
    clip = tiny_study / "prepared" / "clips" / f"{CLIP}.npy"
    assert main(["explain", str(ckpt), str(clip), "--out", str(tmp_path)]) == 0
    doc = _check_outputs(tmp_path, CLIP, t=t, side=48)  # maps at the model's 32 px, resized onto the 48-px crops
    assert doc["label"] == "happiness"  # a .npy inside a prepared set finds its label in the manifest


def test_frames_and_maps_line_up_with_the_clip(face_ckpt):
    clip = np.random.default_rng(0).integers(0, 255, (12, 40, 40, 3), dtype=np.uint8)
    ex = explain_clip(clip, str(face_ckpt), span=(2, 12))
    assert ex.frame_index.tolist() == (2 + sample_indices(10, 8, "uniform")).tolist()  # as evaluation samples
    assert np.array_equal(ex.frames, clip[ex.frame_index]) and ex.saliency.shape == (8, 40, 40)
    assert ex.classes == CLASSES and set(ex.probs) == set(CLASSES)


@pytest.mark.parametrize("name", ["c3d", "videomae"])
def test_explain_a_real_face_video(name, face_ckpt, tmp_path, capsys):
    """A CNN (Grad-CAM) and a transformer (attention relevance over tubelets) on a real video."""
    if name == "c3d":
        ckpt = face_ckpt
    else:
        kwargs = {k: v for k, v in TINY[name].items() if k not in ("num_frames", "image_size")}
        ckpt = make_checkpoint(tmp_path / "vm.safetensors", model=name, kwargs=kwargs, num_frames=8, image_size=32)
    out = tmp_path / "ex"
    assert main(["explain", str(ckpt), str(SINGLE_FACE), "--out", str(out)]) == 0
    doc = _check_outputs(out, "single_face", t=8, side=32)
    assert doc["model"] == name
    w = doc["window"]
    assert w["end_frame"] - w["start_frame"] == 8
    assert all(w["start_frame"] <= f["index"] < w["end_frame"] for f in doc["frames"])
    assert all(f["time_s"] == pytest.approx(f["index"] / 30, abs=1e-3) for f in doc["frames"])
    assert "most important: " in capsys.readouterr().out


def test_explain_with_a_zero_shot_clip_predictor(clip_dir, tiny_study):
    """Zero-shot CLIP (no temporal transformer: the mean of the frame embeddings, a text head)
    explains like a checkpoint, for any of its prompt classes."""
    from fervid.inference.zero_shot import load_zero_shot

    predictor = load_zero_shot(clip_dir, classes=["happiness", "sadness", "surprise"], num_frames=4)
    assert predictor.model.temporal is None
    clip = np.load(tiny_study / "prepared" / "clips" / f"{CLIP}.npy")
    ex = explain_clip(clip, predictor, target="sadness", name=CLIP)
    assert ex.model == "clip" and ex.target == "sadness" and ex.method.startswith("gradient-weighted attention")
    assert ex.saliency.shape == (4, 48, 48) and 0.9 < ex.saliency.max() <= 1  # 32-px maps resized onto 48-px crops
    assert ex.temporal.sum() == pytest.approx(1) and set(ex.probs) == {"happiness", "sadness", "surprise"}


def test_bad_requests_are_one_line_errors(face_ckpt, tiny_study, capsys):
    assert main(["explain", str(face_ckpt)]) == 2
    assert "give CLIP_OR_VIDEO, or --data PREPARED with --clip" in capsys.readouterr().err
    assert main(["explain", str(face_ckpt), "--data", str(tiny_study / "prepared"), "--clip", "nope"]) == 2
    assert "no clip 'nope'" in capsys.readouterr().err
    assert main(["explain", str(face_ckpt), "x.npy", "--all-windows"]) == 2
    assert "apply to videos" in capsys.readouterr().err
    with pytest.raises(FervidError, match="target class 'joy' is not one of the model's"):
        explain_clip(np.zeros((8, 32, 32, 3), np.uint8), str(face_ckpt), target="joy")
