"""ClipDataset on a tiny prepared directory built in tmp."""

import pickle

import numpy as np
import pytest
import torch

from fervid.data import ClipDataset, read_manifest
from fervid.data.manifest import ClipRecord, write_manifest, write_meta
from fervid.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from fervid.errors import FervidError

CLASSES = ["anger", "happiness", "surprise"]


def make_prepared(root, lengths=(20, 9, 30, 16), size=24):
    """Clip i has frames whose pixel value encodes the frame number (frame t = 10 * t)."""
    (root / "clips").mkdir(parents=True)
    records = []
    for i, n in enumerate(lengths):
        clip = np.zeros((n, size, size, 3), dtype=np.uint8)
        clip += (np.arange(n, dtype=np.uint8) * 5)[:, None, None, None]
        np.save(root / "clips" / f"c{i}.npy", clip)
        records.append(
            ClipRecord(
                clip_id=f"c{i}",
                subject=f"P{i // 2 + 1:03d}",
                label=CLASSES[i % 3],
                n_frames=n,
                source=f"src/{i}",
                face_rate=1.0,
                file=f"clips/c{i}.npy",
            )
        )
    write_manifest(root, records)
    write_meta(root, {"dataset": "tiny", "classes": CLASSES, "size": size, "preprocess": {}})
    return root


@pytest.fixture
def prepared(tmp_path):
    return make_prepared(tmp_path / "prep")


def frame_numbers(clip):
    """Recover the stored frame numbers from an eval clip (3, T, H, W) normalised."""
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None, None]
    px = (clip * std + mean) * 255  # (3, T, H, W) back to pixel values
    return torch.round(px[0, :, 0, 0] / 5).long().tolist()


def test_eval_items_shapes_labels_and_frames(prepared):
    ds = ClipDataset(prepared, num_frames=16)
    assert len(ds) == 4 and ds.classes == CLASSES
    assert ds.labels.tolist() == [0, 1, 2, 0]
    clip, label = ds[0]
    assert clip.shape == (3, 16, 24, 24) and clip.dtype == torch.float32 and label == 0
    assert frame_numbers(clip) == [0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 18, 19]
    short, _ = ds[1]  # 9 frames padded to 16 by repetition, in order
    nums = frame_numbers(short)
    assert sorted(nums) == nums and set(nums) == set(range(9))


def test_indices_and_last_sampling_and_resize(prepared):
    ds = ClipDataset(prepared, indices=[2, 0], num_frames=4, sampling="last", image_size=32)
    assert [r.clip_id for r in ds.records] == ["c2", "c0"] and ds.labels.tolist() == [2, 0]
    clip, label = ds[0]
    assert clip.shape == (3, 4, 32, 32) and label == 2
    assert frame_numbers(clip) == [26, 27, 28, 29]


def test_eval_is_deterministic_train_is_augmented_and_varies(prepared):
    ev = ClipDataset(prepared, num_frames=8)
    assert torch.equal(ev[2][0], ev[2][0])
    tr = ClipDataset(prepared, num_frames=8, train=True, image_size=20)
    torch.manual_seed(0)
    a = tr[2][0]
    b = tr[2][0]
    assert a.shape == (3, 8, 20, 20) and not torch.equal(a, b)
    torch.manual_seed(0)
    assert torch.equal(tr[2][0], a), "training draws follow torch's seed"


def test_train_without_augmentation_only_jitters_time(prepared):
    tr = ClipDataset(prepared, num_frames=8, train=True, augment=False)
    torch.manual_seed(1)
    seen = {tuple(frame_numbers(tr[2][0])) for _ in range(20)}
    assert len(seen) > 1
    for nums in seen:  # 30 frames in 8 segments of 3.75: index i lies in segment i
        assert all(int(i * 3.75) <= t < (i + 1) * 3.75 for i, t in enumerate(nums))


def test_dataset_pickles_for_dataloader_workers(prepared):
    ds = pickle.loads(pickle.dumps(ClipDataset(prepared, num_frames=4, train=True)))
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert x.shape == (2, 3, 4, 24, 24) and y.tolist() == [0, 1]


def test_missing_and_corrupt_clip_files_name_the_file(prepared):
    (prepared / "clips" / "c1.npy").unlink()
    (prepared / "clips" / "c2.npy").write_bytes(b"\x93NUMPY garbage")
    ds = ClipDataset(prepared, num_frames=4)
    with pytest.raises(FervidError, match="c1.npy"):
        ds[1]
    with pytest.raises(FervidError, match="c2.npy"):
        ds[2]


def test_truncated_and_wrong_layout_clips_raise(prepared):
    path = prepared / "clips" / "c0.npy"
    path.write_bytes(path.read_bytes()[:-500])
    np.save(prepared / "clips" / "c3.npy", np.zeros((4, 8, 8), dtype=np.uint8))
    ds = ClipDataset(prepared, num_frames=4)
    for i, name in [(0, "c0.npy"), (3, "c3.npy")]:
        with pytest.raises(FervidError, match=name):
            ds[i]


def test_bad_construction_raises(prepared, tmp_path):
    with pytest.raises(FervidError, match="meta.json"):
        ClipDataset(tmp_path / "nowhere")
    with pytest.raises(FervidError, match="out of range"):
        ClipDataset(prepared, indices=[7])
    with pytest.raises(FervidError, match="sampling"):
        ClipDataset(prepared, sampling="random")
    with pytest.raises(FervidError, match="unknown augmentation"):
        ClipDataset(prepared, train=True, augment={"blur": 1})
    records = read_manifest(prepared)
    records[0].label = "contempt"
    write_manifest(prepared, records)
    with pytest.raises(FervidError, match="contempt"):
        ClipDataset(prepared)


def test_seeded_items_depend_on_the_seed_alone(prepared):
    ds = ClipDataset(prepared, num_frames=4, train=True, image_size=16)
    rng_before = torch.get_rng_state(), np.random.get_state()[1].copy()
    a, b, c = ds.item(2, seed=7), ds.item(2, seed=7), ds.item(2, seed=8)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    assert torch.equal(rng_before[0], torch.get_rng_state())  # no global RNG read or reseeded
    assert np.array_equal(rng_before[1], np.random.get_state()[1])


def test_seeded_clips_key_items_by_epoch_and_index(prepared):
    from fervid.train.resumable import SeededClips

    seeded = SeededClips(ClipDataset(prepared, num_frames=4, train=True, image_size=16), seed=3)
    assert torch.equal(seeded[(1, 2)][0], seeded[(1, 2)][0])
    assert not torch.equal(seeded[(1, 2)][0], seeded[(2, 2)][0])


def test_test_views_interleave_over_time_and_crops_cut_left_centre_right(prepared):
    one = ClipDataset(prepared, num_frames=4)
    views = ClipDataset(prepared, num_frames=4, views=2)
    clip, label = views[0]  # 20 frames, segments of 5: view v takes frame floor(5 * (i + (v + 0.5) / 2))
    assert clip.shape == (2, 3, 4, 24, 24) and label == 0
    assert [frame_numbers(v) for v in clip] == [[1, 6, 11, 16], [3, 8, 13, 18]]
    assert torch.equal(ClipDataset(prepared, num_frames=4, views=1)[0][0], one[0][0])
    crops = ClipDataset(prepared, num_frames=4, views=3, crops=3, image_size=14)[2][0]
    assert crops.shape == (9, 3, 4, 14, 14)  # view-major: views 0, 0, 0, 1, 1, 1, ...
    assert frame_numbers(crops[0]) == frame_numbers(crops[2]) != frame_numbers(crops[3])
    with pytest.raises(FervidError, match="'last' is one window"):
        ClipDataset(prepared, num_frames=4, sampling="last", views=2)
    with pytest.raises(FervidError, match="crops must be 1 or 3"):
        ClipDataset(prepared, num_frames=4, crops=2)
    with pytest.raises(FervidError, match="for evaluation"):
        ClipDataset(prepared, num_frames=4, train=True, views=2)
