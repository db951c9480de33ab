"""Every face tracked: real two-face videos (tests/data/multi_face.py), fast vs every-frame detection."""

import csv
import json

import numpy as np
import pytest

from fervid.cli import main
from fervid.data.face_stage import EXHAUSTIVE, FAST, TrackSettings
from fervid.data.tracking import iou
from fervid.inference.api import Predictor, load_model

from .conftest import NO_FACE, SINGLE_FACE, decode, make_checkpoint


@pytest.fixture(scope="module")
def predictor(face_ckpt) -> Predictor:
    return load_model(face_ckpt)


@pytest.fixture(scope="module")
def full_size(tmp_path_factory) -> Predictor:
    """Default preprocessing (detection at up to 640 px, the whole of these videos)."""
    from fervid.data.faces import FaceCropper

    path = tmp_path_factory.mktemp("full") / "model.safetensors"
    return load_model(make_checkpoint(path, preprocess=FaceCropper(size=32).config))


def centre_x(track, frame):
    x, _, w, _ = track.box_at(frame)
    return x + w / 2


def test_two_faces_side_by_side_are_two_tracks_with_their_own_windows(predictor, multi_face):
    pred = predictor.predict(multi_face["side_by_side"])
    assert pred.faces == "all" and pred.frames == 60 and pred.dropped_tracks == 0
    left, right = pred.tracks
    assert (left.id, right.id) == (1, 2)  # numbered left to right
    for t in (left, right):
        assert (t.first_frame, t.end_frame) == (0, 60) and t.face_rate == 1.0
        assert [(w.start_frame, w.end_frame) for w in t.windows] == [(s, s + 8) for s in range(0, 53, 4)]
        assert all(w.label in predictor.classes for w in t.windows) and t.label in predictor.classes
        assert 1 <= len(t.thumbnails) <= 6
    assert all(centre_x(left, f) < 160 < centre_x(right, f) for f in range(60))
    assert [w.probs for w in left.windows] != [w.probs for w in right.windows]  # each its own crops
    # the one-face attributes stay: the main face's
    assert pred.windows is left.windows and pred.label == left.label


def test_a_face_hidden_for_a_moment_keeps_its_id(predictor, multi_face):
    pred = predictor.predict(multi_face["hide_return"])
    assert [t.id for t in pred.tracks] == [1, 2] and pred.dropped_tracks == 0
    hidden = pred.tracks[1]
    assert (hidden.first_frame, hidden.end_frame) == (0, 72)
    assert not hidden.seen[30:42].any() and hidden.seen[:30].all() and hidden.seen[42:].all()
    assert hidden.face_rate == pytest.approx(60 / 72)
    covered = [w for w in hidden.windows if 30 <= w.start_frame and w.end_frame <= 42]
    assert covered and all(w.label is None for w in covered)  # nobody to label there: said, not guessed
    assert pred.tracks[0].face_rate == 1.0


def test_faces_entering_leaving_and_crossing(predictor, multi_face):
    pred = predictor.predict(multi_face["enter_leave"])
    leaving, entering = pred.tracks
    assert leaving.first_frame == 0 and 38 <= leaving.end_frame <= 48  # slides out over frames 40-50
    assert 20 <= entering.first_frame <= 30 and entering.end_frame == 72  # slides in over frames 20-30
    assert pred.face_rate == 1.0

    pred = predictor.predict(multi_face["crossing"])
    a, b = pred.tracks  # A walks right in front of B walking left; each keeps its ID through the crossing
    assert (a.first_frame, a.end_frame, b.first_frame, b.end_frame) == (0, 72, 0, 72)
    assert centre_x(a, 0) < 100 and centre_x(a, 71) > 220
    assert centre_x(b, 0) > 220 and centre_x(b, 71) < 100


def agreement(fast, exhaustive):
    """Median IoU of the matching tracks' boxes in the frames both saw, and the face rates."""
    ious = []
    for t in exhaustive.tracks:
        candidates = []
        for u in fast.tracks:
            frames = [
                f for f in range(t.first_frame, t.end_frame) if t.box_at(f) is not None and u.box_at(f) is not None
            ]
            candidates.append([iou(t.box_at(f), u.box_at(f)) for f in frames])
        ious += max(candidates, key=np.sum)  # the fast track that overlaps it most
    return float(np.median(ious)), fast.face_rate, exhaustive.face_rate


@pytest.mark.parametrize("video", ["single_face", "hide_return", "crossing"])
def test_fast_detection_keeps_the_boxes_of_every_frame_detection(full_size, multi_face, video):
    path = SINGLE_FACE if video == "single_face" else multi_face[video]
    fast = full_size.predict(path)  # the default: detect every 10th frame on a shrunk copy
    every = full_size.predict(path, settings=EXHAUSTIVE)
    median_iou, rate_fast, rate_every = agreement(fast, every)
    assert median_iou >= 0.9
    assert abs(rate_fast - rate_every) <= 0.01
    assert len(fast.tracks) == len(every.tracks)
    for f, e in zip(fast.tracks, every.tracks):
        assert abs(f.face_rate - e.face_rate) <= (0.05 if video == "crossing" else 0.01)


def test_no_face_video_has_no_track(full_size):
    from fervid.errors import FervidError

    with pytest.raises(FervidError, match="no_face.mp4: no face found"):
        full_size.predict(NO_FACE, settings=FAST)  # following faces between detections invents none


def test_every_frame_largest_face_is_fervid_prepares_crop_exactly(predictor):
    """--faces largest --detect-every 1 --detect-size full: the crops of FaceCropper.crop, to the pixel."""
    frames = decode(SINGLE_FACE)
    expected = predictor.cropper.crop(frames)
    pred = predictor.predict_frames(frames, 30.0, faces="largest", settings=EXHAUSTIVE, keep_crops=True)
    (track,) = pred.tracks
    assert np.array_equal(track.clip, expected.clip)
    assert np.array_equal(track.seen, expected.detected)
    old = predictor.predict_crop(expected, 30.0)
    assert pred.to_dict() == old.to_dict() | {"video": "<frames>"}


def test_settings_are_checked():
    from fervid.errors import FervidError

    with pytest.raises(FervidError, match="at least 1"):
        TrackSettings(detect_every=0)
    with pytest.raises(FervidError, match="auto or full"):
        TrackSettings(detect_size="half")


def test_cli_writes_a_track_per_face(tmp_path, face_ckpt, multi_face, capsys):
    out = tmp_path / "out"
    args = ["predict", str(multi_face["side_by_side"]), "--checkpoint", str(face_ckpt), "--json", str(out / "p.json")]
    args += ["--csv", str(out / "p.csv"), "--plot", str(out / "p.png"), "--html", str(out / "p.html"), "--saliency"]
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "2 faces" in printed and "face 1 " in printed and "face 2 " in printed
    doc = json.loads((out / "p.json").read_text())
    assert [t["id"] for t in doc["tracks"]] == [1, 2]
    rows = list(csv.DictReader((out / "p.csv").open()))
    assert list(rows[0])[:3] == ["video", "track", "start_s"]
    for t in doc["tracks"]:
        mine = [r for r in rows if r["track"] == str(t["id"])]
        assert [float(r["start_s"]) for r in mine] == [w["start_s"] for w in t["windows"]]
        assert [r["label"] for r in mine] == [w["label"] for w in t["windows"]]
    page = (out / "p.html").read_text()
    for i in (1, 2):  # one section, timeline and table per face
        assert f'id="video-0-face-{i}"' in page and f'id="windows-0-{i}"' in page
    assert page.count("class probabilities over time") == 2
    assert page.count("Saliency (where the model looked)") == 2  # each face's crops explained
    assert (out / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
