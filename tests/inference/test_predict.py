"""predict_video / Predictor on the real face video, no-face stretches and bad inputs."""

import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.inference.api import Predictor, VideoPrediction, load_model, predict_video

from .conftest import NO_FACE, SINGLE_FACE, decode, write_video


@pytest.fixture(scope="module")
def predictor(face_ckpt) -> Predictor:
    return load_model(face_ckpt)


@pytest.fixture(scope="module")
def single_face(predictor) -> VideoPrediction:
    return predict_video(SINGLE_FACE, predictor)


def test_real_face_video_is_labelled_window_by_window(single_face, predictor):
    pred = single_face
    assert pred.frames == 72 and pred.fps == pytest.approx(30.0)
    assert pred.face_rate > 0.9  # one frontal face throughout
    # T = 8, stride 4 over 72 frames: starts 0, 4, ..., 64
    assert [(w.start_frame, w.end_frame) for w in pred.windows] == [(s, s + 8) for s in range(0, 65, 4)]
    for w in pred.windows:
        assert w.start_s == pytest.approx(w.start_frame / 30) and w.end_s == pytest.approx(w.end_frame / 30)
        assert w.label in predictor.classes
        assert sum(w.probs.values()) == pytest.approx(1, abs=1e-4)
        assert w.label == max(w.probs, key=w.probs.get)
    mean = np.mean([[w.probs[c] for c in pred.classes] for w in pred.windows], axis=0)
    assert [pred.probs[c] for c in pred.classes] == pytest.approx(mean.tolist(), abs=1e-5)
    assert pred.label == pred.classes[int(mean.argmax())]
    assert 1 <= len(pred.thumbnails) <= 6


def test_window_and_stride_options(predictor):
    pred = predictor.predict(SINGLE_FACE, window=24, stride=24)
    assert [(w.start_frame, w.end_frame) for w in pred.windows] == [(0, 24), (24, 48), (48, 72)]
    assert all(w.label is not None for w in pred.windows)
    with pytest.raises(FervidError, match="window and stride must be >= 1"):
        predictor.predict_frames([np.zeros((8, 8, 3), np.uint8)], 25.0, window=0)


def test_no_face_stretch_is_reported_not_guessed(tmp_path, predictor):
    face = [f[::2, ::2] for f in decode(SINGLE_FACE)]  # 180 x 320
    blank = [np.full_like(face[0], 90) for _ in range(40)]
    video = write_video(tmp_path / "face_blank_face.mp4", face[:32] + blank + face[32:64], fps=30)
    pred = predict_video(video, predictor)
    assert pred.frames == 104
    assert 0.5 < pred.face_rate < 0.7  # 64 face frames of 104
    blank_windows = [w for w in pred.windows if w.start_frame >= 32 and w.end_frame <= 72]
    face_windows = [w for w in pred.windows if w.end_frame <= 32 or w.start_frame >= 72]
    assert blank_windows and face_windows
    for w in blank_windows:
        assert w.label is None and w.probs is None and w.face_rate == 0
    assert all(w.label is not None for w in face_windows)
    assert pred.label is not None


def test_video_without_any_face_is_an_error_naming_it(predictor):
    with pytest.raises(FervidError, match="no_face.mp4: no face"):
        predictor.predict(NO_FACE)


def test_unreadable_video_is_an_error_naming_it(tmp_path, predictor):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(FervidError, match="broken.mp4"):
        predictor.predict(bad)


def test_not_a_fervid_checkpoint(tmp_path):
    import torch
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(FervidError, match="foreign.safetensors: not a fervid checkpoint"):
        load_model(foreign)
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    with pytest.raises(FervidError, match="notes.safetensors"):
        load_model(text)


def test_top_level_api_is_the_same():
    import fervid

    assert fervid.load_model is load_model and fervid.predict_video is predict_video


def test_checkpoint_with_wrong_weights_is_rejected(tmp_path):
    import torch

    from fervid.checkpoint import CheckpointMeta, save_checkpoint

    meta = CheckpointMeta(
        model="c3d",
        num_classes=6,
        num_frames=8,
        image_size=16,
        classes=list("abcdef"),
        mean=[0.5] * 3,
        std=[0.5] * 3,
        model_kwargs={"channels": (4, 8), "hidden": 16},
    )
    path = tmp_path / "mismatch.safetensors"
    save_checkpoint(path, torch.nn.Linear(3, 3), meta)
    with pytest.raises(FervidError, match="mismatch.safetensors: weights do not fit"):
        load_model(path)
