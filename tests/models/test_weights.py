"""The loading rules of fervid.models.weights: honest reports, no silent partial loads."""

import json

import pytest
import torch

from fervid.checkpoint import CheckpointMeta, save_checkpoint
from fervid.errors import FervidError, PretrainedMismatchError
from fervid.models import create_model, get_model_info
from fervid.models.registry import Converted
from fervid.models.weights import interpolate_pos_embed, load_converted, read_state_dict, resize_time_embed

C3D = dict(num_frames=8, image_size=32, channels=(4, 8), hidden=16)


def _c3d(num_classes=3, seed=0):
    torch.manual_seed(seed)
    return create_model("c3d", num_classes=num_classes, **C3D)


def test_reads_wrapped_torch_files_and_huggingface_directories(tmp_path):
    state = _c3d().state_dict()
    torch.save({"model_state": state, "epoch": 3}, tmp_path / "wrapped.pth")
    got, info = read_state_dict(tmp_path / "wrapped.pth")
    assert got.keys() == state.keys() and info == {}
    hf = tmp_path / "hf"
    hf.mkdir()
    torch.save(state, hf / "pytorch_model.bin")
    (hf / "config.json").write_text(json.dumps({"model_type": "x"}))
    got, info = read_state_dict(hf)
    assert got.keys() == state.keys() and info["config"] == {"model_type": "x"}


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p / "absent.pth", "no such weights file"),
        (lambda p: (p / "empty_dir").mkdir() or p / "empty_dir", "no weights file in directory"),
        (lambda p: (p / "junk.pth").write_bytes(b"not a checkpoint") and p / "junk.pth", "cannot read weights"),
        (lambda p: torch.save([1, 2], p / "list.pth") or p / "list.pth", "does not hold a state dict"),
    ],
)
def test_unreadable_sources_are_one_line_errors_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(FervidError, match=message) as e:
        read_state_dict(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_pickled_objects_are_refused_by_weights_only_loading(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "obj": FervidError("x")}, path)
    with pytest.raises(FervidError, match="cannot read weights"):
        read_state_dict(path)


def test_head_of_another_class_count_is_replaced_and_reported():
    source, target = _c3d(num_classes=5), _c3d(num_classes=3, seed=1)
    report = load_converted(target, Converted(source.state_dict()), head=("head.",), source="src")
    assert report.replaced_head == ["head.weight (5, 16) -> (3, 16)", "head.bias (5,) -> (3,)"]
    assert torch.equal(target.fc1.weight, source.fc1.weight)
    assert report.loaded == len(source.state_dict()) - 2


def test_missing_and_misshapen_keys_are_errors_but_fresh_prefixes_are_reported():
    state = _c3d().state_dict()
    del state["fc2.weight"]
    with pytest.raises(PretrainedMismatchError, match="keys missing from the weights: fc2.weight"):
        load_converted(_c3d(), Converted(dict(state)), head=("head.",), source="src")
    report = load_converted(_c3d(), Converted(dict(state), fresh=("fc2.",)), head=("head.",), source="src")
    assert report.fresh == ["fc2."]
    state = _c3d().state_dict()
    state["fc1.bias"] = torch.zeros(7)
    with pytest.raises(PretrainedMismatchError, match=r"fc1.bias \(7,\) vs \(16,\)"):
        load_converted(_c3d(), Converted(state), head=("head.",), source="src")


def test_a_fervid_checkpoint_of_another_model_is_rejected(tmp_path):
    model = _c3d()
    meta = CheckpointMeta(
        model="c3d",
        num_classes=3,
        num_frames=8,
        image_size=32,
        classes=list("abc"),
        mean=[0.5] * 3,
        std=[0.5] * 3,
        model_kwargs={"channels": [4, 8], "hidden": 16},
    )
    save_checkpoint(tmp_path / "c3d.safetensors", model, meta)
    with pytest.raises(PretrainedMismatchError, match="checkpoint of model 'c3d', not 'tsm'"):
        create_model("tsm", num_frames=2, image_size=32, depth=18, pretrained=str(tmp_path / "c3d.safetensors"))
    # the same file loads into the model it was written for, even with another head size
    again = create_model("c3d", num_classes=3, pretrained=str(tmp_path / "c3d.safetensors"), **C3D)
    assert again.load_report.loaded == len(model.state_dict())


def test_position_embeddings_are_interpolated_keeping_the_prefix():
    pos = torch.randn(1, 1 + 16, 8)  # CLS + a 4x4 grid
    out = interpolate_pos_embed(pos, 36, num_prefix=1)
    assert out.shape == (1, 37, 8) and torch.equal(out[:, :1], pos[:, :1])
    assert interpolate_pos_embed(pos, 16, num_prefix=1) is pos
    time = torch.arange(8.0).view(1, 8, 1)  # a 1-D ramp stays a ramp under linear resizing
    out = resize_time_embed(time, 3)
    assert out.shape == (1, 3, 1) and torch.all(out[0, 1:, 0] > out[0, :-1, 0])


def test_model_info_holds_what_the_loader_needs():
    for name in ("c3d", "r2plus1d", "tsm", "cnn_lstm"):
        info = get_model_info(name)
        assert info.head and all(p.endswith(".") for p in info.head)
        assert len(info.mean) == len(info.std) == 3


def test_a_source_without_a_head_gets_a_new_head_not_a_class_count_story():
    state = {k: v for k, v in _c3d().state_dict().items() if not k.startswith("head.")}
    report = load_converted(_c3d(), Converted(state, fresh=("head.", "fc2.")), head=("head.",), source="src")
    assert report.new_head == ["head.weight", "head.bias"] and not report.replaced_head
    assert report.fresh == []  # head keys are the head's, never also "freshly initialised"
    assert "no head in the source: new head: head.weight, head.bias" in str(report)
    assert "class count differs" not in str(report)


def test_sharded_pytorch_checkpoints_load_from_their_index(tmp_path):
    source = _c3d()
    state = source.state_dict()
    keys = sorted(state)
    weight_map = {k: f"pytorch_model-0000{1 + i % 2}-of-00002.bin" for i, k in enumerate(keys)}
    for shard in set(weight_map.values()):
        torch.save({k: state[k] for k in keys if weight_map[k] == shard}, tmp_path / shard)
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    model = create_model("c3d", num_classes=3, pretrained=str(tmp_path), **C3D)  # the directory finds the index
    assert model.load_report.loaded == len(state) and torch.equal(model.fc1.weight, source.fc1.weight)
    (tmp_path / "pytorch_model-00002-of-00002.bin").unlink()
    with pytest.raises(FervidError, match="shard pytorch_model-00002-of-00002.bin is missing"):
        read_state_dict(tmp_path / "pytorch_model.bin.index.json")


def test_the_normalisation_of_local_weights_comes_with_them(tmp_path):
    model = _c3d()
    meta = CheckpointMeta(
        model="c3d",
        num_classes=3,
        num_frames=8,
        image_size=32,
        classes=list("abc"),
        mean=[0.1, 0.2, 0.3],
        std=[0.3, 0.2, 0.1],
        model_kwargs={},
    )
    save_checkpoint(tmp_path / "c3d.safetensors", model, meta)
    again = create_model("c3d", num_classes=3, pretrained=str(tmp_path / "c3d.safetensors"), **C3D)
    assert (again.load_report.mean, again.load_report.std) == ((0.1, 0.2, 0.3), (0.3, 0.2, 0.1))
    torch.save(model.state_dict(), tmp_path / "plain.pth")  # no preprocessing known: the model's default
    assert create_model("c3d", num_classes=3, pretrained=str(tmp_path / "plain.pth"), **C3D).load_report.mean is None
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5] * 3, "image_std": [0.25] * 3}))
    report = create_model("c3d", num_classes=3, pretrained=str(tmp_path / "plain.pth"), **C3D).load_report
    assert (report.mean, report.std) == ((0.5,) * 3, (0.25,) * 3)
