"""Clip transforms: one random parameter set per clip, shapes, evaluation transform."""

import numpy as np
import pytest
import torch

from fervid.data.transforms import (
    DEFAULT_AUGMENT,
    IMAGENET_MEAN,
    IMAGENET_STD,
    crop_box,
    resolve_augment,
    to_model_input,
    train_transform,
)
from fervid.errors import FervidError


def face_like_frame(size=48, seed=0):
    """A frame with structure in every direction, so crops, flips and rotations all change it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    frame = np.stack([x * 5, y * 5, (x * y) % 256], axis=-1) + rng.integers(0, 30, (size, size, 3))
    return frame.clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(8))
def test_identical_frames_stay_identical_after_augmentation(seed):
    clip = np.repeat(face_like_frame()[None], 6, axis=0)  # (6, 48, 48, 3), all frames equal
    out = train_transform(
        clip, rng=np.random.default_rng(seed), augment={"rotate": 15, "color_jitter": 0.4}, image_size=32
    )
    assert out.shape == (3, 6, 32, 32) and out.dtype == torch.float32
    for t in range(1, 6):
        assert torch.equal(out[:, t], out[:, 0]), "every frame must get the same crop/flip/rotation/colour"


def test_augmentation_changes_the_clip_and_follows_the_seed():
    clip = np.stack([face_like_frame(seed=s) for s in range(4)])
    plain = to_model_input(clip)
    a = train_transform(clip, rng=np.random.default_rng(5))
    b = train_transform(clip, rng=np.random.default_rng(5))
    c = train_transform(clip, rng=np.random.default_rng(6))
    assert a.shape == plain.shape == (3, 4, 48, 48)
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, plain)


def test_same_transform_applied_to_different_frames_matches_per_frame_application():
    """Augmenting a clip equals augmenting each frame alone with the same parameters."""
    clip = np.stack([face_like_frame(seed=s) for s in range(3)])
    whole = train_transform(clip, rng=np.random.default_rng(11), image_size=40)
    for t in range(3):
        single = train_transform(clip[t : t + 1], rng=np.random.default_rng(11), image_size=40)
        torch.testing.assert_close(whole[:, t], single[:, 0])


def test_no_augmentation_equals_eval_transform():
    clip = np.stack([face_like_frame(seed=s) for s in range(3)])
    off = {"scale": [1, 1], "ratio": [1, 1], "flip": False, "rotate": 0, "color_jitter": 0}
    torch.testing.assert_close(train_transform(clip, rng=np.random.default_rng(0), augment=off), to_model_input(clip))


def test_to_model_input_scales_normalises_and_resizes():
    clip = np.full((5, 40, 30, 3), 255, dtype=np.uint8)
    out = to_model_input(clip, image_size=64)
    assert out.shape == (3, 5, 64, 64) and out.dtype == torch.float32
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out[:, 2, 10, 10], expected)
    same = to_model_input(clip, mean=(0, 0, 0), std=(1, 1, 1))
    assert same.shape == (3, 5, 40, 30) and torch.all(same == 1)


def test_to_model_input_rejects_wrong_layouts():
    for bad in (
        np.zeros((4, 8, 8), np.uint8),
        np.zeros((4, 3, 8, 8), np.uint8),
        np.zeros((4, 8, 8, 3), np.float32),
        np.zeros((0, 8, 8, 3), np.uint8),
    ):
        with pytest.raises(FervidError):
            to_model_input(bad)


def test_to_model_input_accepts_read_only_memory_mapped_clips(tmp_path):
    np.save(tmp_path / "c.npy", np.stack([face_like_frame()] * 2))
    mm = np.load(tmp_path / "c.npy", mmap_mode="r")
    assert to_model_input(mm).shape == (3, 2, 48, 48)


def test_crop_box_respects_scale_ratio_and_bounds():
    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, h, w = crop_box(112, 112, scale=(0.5, 1.0), ratio=(0.9, 1.1), rng=rng)
        assert 0 <= top and top + h <= 112 and 0 <= left and left + w <= 112
        assert 0.45 <= h * w / 112**2 <= 1.0
    assert crop_box(40, 80, scale=(1, 1), ratio=(1, 1), rng=rng) == (0, 20, 40, 40)


def test_resolve_augment_merges_over_defaults_and_validates():
    r = resolve_augment({"rotate": 0, "color_jitter": [0.1, 0.2, 0.3]})
    assert r["rotate"] == 0 and r["color_jitter"] == (0.1, 0.2, 0.3)
    assert r["scale"] == tuple(DEFAULT_AUGMENT["scale"]) and r["flip"] is True
    assert resolve_augment(None) == resolve_augment(resolve_augment(None)) == resolve_augment(True)
    off = resolve_augment(False)
    assert off["flip"] is False and off["rotate"] == 0 and off["scale"] == (1.0, 1.0)
    for bad in ({"blur": 2}, {"scale": [0.5]}, {"scale": [0.9, 1.2]}, {"rotate": -1}, {"color_jitter": [1, 2]}):
        with pytest.raises(FervidError):
            resolve_augment(bad)


def smooth_clip(t=2, h=48, w=56):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = np.stack([128 + 100 * np.sin(x / 9), 128 + 100 * np.cos(y / 7), 60 + x + y], axis=-1)
    return np.repeat(frame.clip(0, 255).astype(np.uint8)[None], t, axis=0)


@pytest.mark.parametrize(
    ("box", "size", "flip", "angle"),
    [
        ((4, 6, 40, 44), (48, 48), True, 8.0),  # upscaling crop, flipped, rotated
        ((0, 0, 48, 56), (24, 24), False, -6.0),  # shrinking crop (area-averaged first)
        ((5, 5, 30, 30), (30, 30), False, 0.0),  # plain crop
    ],
)
def test_warp_clip_matches_torchvision_geometry(box, size, flip, angle):
    """One OpenCV warp = torchvision resized_crop -> horizontal_flip -> rotate (reference
    semantics of torchvision transforms/v2/functional), up to interpolation differences."""
    import torchvision.transforms.v2.functional as F

    from fervid.data.transforms import warp_clip

    clip = smooth_clip()
    ref = F.resized_crop(torch.from_numpy(clip).permute(0, 3, 1, 2).float(), *box, list(size), antialias=True)
    if flip:
        ref = F.horizontal_flip(ref)
    ref = F.rotate(ref, angle, interpolation=F.InterpolationMode.BILINEAR)
    out = torch.from_numpy(warp_clip(clip, box=box, size=size, flip=flip, angle=angle)).permute(0, 3, 1, 2).float()
    assert out.shape == ref.shape
    inner = (..., slice(4, -4), slice(4, -4))  # borders differ in how zeros blend in
    assert (out - ref)[inner].abs().mean() < 1.0
    assert (out - ref)[inner].abs().max() < 4.0


def test_fused_colour_jitter_matches_torchvision_adjustments():
    import torchvision.transforms.v2.functional as F

    from fervid.data.transforms import color_normalize

    # Mid-range pixels and moderate factors, so torchvision's intermediate clamps do not bite.
    x = torch.rand(4, 3, 20, 24, generator=torch.Generator().manual_seed(1)) * 0.4 + 0.3
    for b, c, s in [(1.2, 0.8, 1.3), (0.8, 1.2, 0.7), (1.0, 1.0, 0.0)]:
        ref = F.adjust_saturation(F.adjust_contrast(F.adjust_brightness(x, b), c), s)
        ref = F.normalize(ref, list(IMAGENET_MEAN), list(IMAGENET_STD)).permute(1, 0, 2, 3)
        out = color_normalize(
            x.permute(1, 0, 2, 3).contiguous() * 255, brightness=b, contrast=c, saturation=s, pixel_scale=1 / 255
        )
        assert out.shape == (3, 4, 20, 24)
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)


def test_three_crops_are_left_centre_right_of_the_8_7_resize():
    from fervid.data.transforms import to_model_input, to_model_views

    clip = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    clip[:, :, :, 0] = np.arange(32, dtype=np.uint8)[None, None, :] * 8  # red ramps left to right
    one = to_model_views(clip, image_size=28)
    assert one.shape == (1, 3, 2, 28, 28) and torch.equal(one[0], to_model_input(clip, image_size=28))
    three = to_model_views(clip, crops=3, image_size=28, mean=(0, 0, 0), std=(1, 1, 1))  # 28 * 8 / 7 = 32
    assert three.shape == (3, 3, 2, 28, 28)
    starts = [round(float(v[0, 0, 0, 0]) * 255 / 8) for v in three]
    assert starts == [0, 2, 4]  # left, centre and right crops of the 32-px frame
