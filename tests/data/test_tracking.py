"""Following every face: the association of detections with tracks (fervid.data.tracking)."""

import numpy as np
import pytest

from fervid.data.tracking import MultiTracker, iou, iou_matrix


def test_iou_matrix_agrees_with_iou():
    a = np.array([[0, 0, 10, 10], [5, 5, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [20, 20, 5, 5], [5, 0, 10, 10]], float)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    assert np.allclose(m, [[iou(x, y) for y in b] for x in a])
    assert abs(m[0, 0] - 1) < 1e-9 and m[0, 1] == 0


def test_two_moving_faces_keep_their_ids_and_are_numbered_left_to_right():
    mt = MultiTracker(max_gap=5, min_hits=2)
    ids = []
    for t in range(10):
        left, right = (10 + 2 * t, 50, 40, 40, 9.0), (200 - 2 * t, 60, 40, 40, 9.0)
        pairs = mt.update(t, [right, left])  # the detector's order says nothing
        ids.append([(tr.id, box[0]) for tr, box in pairs])
    assert [i for i, _ in ids[0]] == [None, None]  # not confirmed after one detection
    assert sorted(ids[1]) == [(1, 12.0), (2, 198.0)]  # confirmed at the second, left first
    assert all(sorted(d) == [(1, 10 + 2 * t), (2, 200 - 2 * t)] for t, d in enumerate(ids) if t)


def test_a_face_hidden_within_the_gap_keeps_its_id_and_a_longer_gap_ends_it():
    mt = MultiTracker(max_gap=10, min_hits=1)
    face = (100, 100, 50, 50, 9.0)
    ((tr, _),) = mt.update(0, [face])
    for t in range(1, 8):  # hidden for 7 frames
        assert mt.update(t, []) == []
    ((again, _),) = mt.update(8, [face])
    assert again is tr and tr.id == 1
    for t in range(9, 20):
        mt.update(t, [])
    assert mt.tracks == [] and mt.ended == [tr]
    ((new, _),) = mt.update(20, [face])
    assert new is not tr and new.id == 2


def test_a_lost_face_is_looked_for_where_its_motion_leads():
    mt = MultiTracker(max_gap=30, min_hits=1)
    for t in range(10):
        mt.update(t, [(10 + 4 * t, 50, 40, 40, 9.0)])  # moving right, 4 px per frame
    (tr,) = mt.tracks
    predicted = tr.predicted(20)  # 11 frames unseen: further right, by less than 11 frames' motion
    assert 46 + 4 < predicted[0] < 46 + 4 * 11
    ((again, _),) = mt.update(20, [(10 + 4 * 20, 50, 40, 40, 9.0)])  # reappears 40 px on: still the same face
    assert again is tr


def test_a_face_followed_off_course_for_a_frame_is_still_looked_for_where_its_detections_lead():
    """The crossing scene's failure (fast mode, one run in ten): B, half hidden behind A, was followed
    to a wrong place in the last frame before it vanished, that step was taken as its motion, and
    B came back 20 frames later as a new face. Motion now comes from detections only."""
    mt = MultiTracker(max_gap=60, min_hits=1)
    for t in range(0, 30, 10):  # detected every 10th frame, moving left 4 px per frame
        mt.update(t, [(260 - 4 * t, 90, 60, 60, 9.0)])
        (tr,) = mt.tracks
        for u in range(t + 1, t + 10):
            tr.observe(u, (260 - 4 * u, 90, 60, 60), detected=False)  # followed by its look
    tr.observe(30, (160, 95, 60, 60), detected=False)  # pulled off course: 3 px right instead of 4 left
    assert tr.velocity[0] == pytest.approx(-4)
    ((again, _),) = mt.update(50, [(260 - 4 * 50, 90, 60, 60, 9.0)])  # reappears 20 frames on
    assert again is tr
