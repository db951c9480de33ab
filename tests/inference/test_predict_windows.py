import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fervid.inference.predict import plan_windows, window_face_rates


@given(n=st.integers(1, 400), window=st.integers(1, 64), stride=st.integers(1, 64))
def test_windows_cover_the_video_in_order(n, window, stride):
    spans = plan_windows(n, window=window, stride=stride)
    covered = np.zeros(n, bool)
    for s, e in spans:
        assert 0 <= s < e <= n
        assert e - s == min(window, n)
        covered[s:e] = True
    assert covered.all() or stride > window  # a stride longer than the window skips frames, by request
    assert covered[-1]  # the tail is always seen
    starts = [s for s, _ in spans]
    assert starts == sorted(set(starts))
    # only the tail window may sit closer than `stride` to its neighbour
    assert all(b - a == stride for a, b in zip(starts[:-2], starts[1:-1]))


def test_windows_examples():
    assert plan_windows(5, window=8, stride=4) == [(0, 5)]
    assert plan_windows(16, window=8, stride=4) == [(0, 8), (4, 12), (8, 16)]
    assert plan_windows(18, window=8, stride=4) == [(0, 8), (4, 12), (8, 16), (10, 18)]


def test_bad_window_rejected():
    with pytest.raises(ValueError):
        plan_windows(10, window=0, stride=1)


def test_face_rates():
    detected = np.array([1, 1, 0, 0, 0, 0, 1, 1], bool)
    assert window_face_rates(detected, [(0, 4), (2, 6), (4, 8)]).tolist() == [0.5, 0.0, 0.5]
