"""Temporal sampling: shapes, order, padding for each mode."""

import numpy as np
import pytest

from fervid.data.sampling import MODES, sample_indices
from fervid.errors import FervidError


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 3, 15, 16, 17, 100])
def test_length_range_and_order(mode, n):
    rng = np.random.default_rng(0)
    idx = sample_indices(n, 16, mode, rng=rng)
    assert idx.shape == (16,) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < n
    assert np.all(np.diff(idx) >= 0), "frame order must be preserved"


def test_uniform_spans_whole_sequence_at_segment_centres():
    idx = sample_indices(160, 16, "uniform")
    np.testing.assert_array_equal(idx, np.arange(16) * 10 + 5)
    assert sample_indices(160, 16).tolist() == idx.tolist()  # uniform is the default


def test_uniform_equals_segment_without_rng():
    for n in (7, 16, 45):
        np.testing.assert_array_equal(sample_indices(n, 16, "uniform"), sample_indices(n, 16, "segment"))


def test_last_takes_the_apex_end():
    np.testing.assert_array_equal(sample_indices(30, 8, "last"), np.arange(22, 30))


@pytest.mark.parametrize("mode", MODES)
def test_short_sequence_padded_by_repeating_every_frame_in_order(mode):
    idx = sample_indices(5, 12, mode, rng=np.random.default_rng(1))
    assert set(idx.tolist()) == set(range(5)), "every frame of a short sequence is used"
    assert np.all(np.diff(idx) >= 0)


def test_last_pads_with_the_first_frame_keeping_apex_contiguous():
    np.testing.assert_array_equal(sample_indices(3, 6, "last"), [0, 0, 0, 0, 1, 2])


def test_uniform_short_sequence_repeats_nearest_frame():
    np.testing.assert_array_equal(sample_indices(3, 6, "uniform"), [0, 0, 1, 1, 2, 2])


def test_segment_jitter_stays_in_its_segment_and_varies():
    rng = np.random.default_rng(0)
    draws = np.stack([sample_indices(64, 8, "segment", rng=rng) for _ in range(200)])
    seg = np.arange(8)[None, :]
    assert np.all(draws // 8 == seg), "each index must lie in its own segment"
    assert len({tuple(d) for d in draws}) > 100, "training jitter should vary between draws"


def test_segment_is_reproducible_for_a_seed():
    a = sample_indices(50, 16, "segment", rng=np.random.default_rng(3))
    b = sample_indices(50, 16, "segment", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("args", [(0, 16, "uniform"), (10, 0, "uniform"), (10, 4, "random")])
def test_bad_arguments_raise_fervid_error(args):
    with pytest.raises(FervidError):
        sample_indices(*args)


@pytest.mark.parametrize("n", [3, 16, 50])
def test_view_indices_interleave_evenly_and_one_view_is_uniform(n):
    from fervid.data.sampling import view_indices

    assert np.array_equal(view_indices(n, 8, "uniform", 1)[0], sample_indices(n, 8, "uniform"))
    views = view_indices(n, 8, "segment", 4)
    assert views.shape == (4, 8) and views.min() >= 0 and views.max() < n
    assert np.all(np.diff(views, axis=1) >= 0) and np.all(np.diff(views, axis=0) >= 0)
    if n >= 32:  # room for 4 distinct frames per segment: every view takes other frames
        assert len({tuple(v) for v in views}) == 4
    with pytest.raises(FervidError, match="one window"):
        view_indices(n, 8, "last", 2)
