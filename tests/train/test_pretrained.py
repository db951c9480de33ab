"""`fervid train` from named weights: pre-staged in torch.hub's cache, offline; without them, one line.

A tiny model and a temporary registered entry stand in for the study's (the same code path as
`fervid train oulu/r2plus1d`, which is the same command on a full-size model)."""

from __future__ import annotations

import torch
from tiny_prepared import make_prepared

from fervid import hub
from fervid.cli import main
from fervid.hub import Url, Weights
from fervid.models import create_model

MEAN, STD = (0.3, 0.3, 0.3), (0.2, 0.2, 0.2)
CONFIG = """dataset: tiny
epochs: 1
batch_size: 6
data: {num_frames: 8, image_size: 32, num_workers: 0}
model: {name: c3d, kwargs: {channels: [8, 16], hidden: 32}, pretrained: tiny}
protocol: {folds: 2, rule: id, val_subjects: 0}
trainer: {progress_bar: false}
"""


def _setup(tmp_path, monkeypatch, *, staged: bool):
    for var in ("HF_HUB_CACHE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = Weights(
        model="c3d",
        name="tiny",
        description="test",
        licence="test",
        mean=MEAN,
        std=STD,
        image_size=32,
        source=Url("https://weights.invalid/c3d_tiny.pth"),
    )  # never contacted: offline
    monkeypatch.setitem(hub.entries._WEIGHTS, w.key, w)
    if staged:  # as `fervid weights download c3d/tiny` leaves it
        torch.manual_seed(0)
        source = create_model("c3d", num_classes=6, num_frames=8, image_size=32, channels=(8, 16), hidden=32)
        (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
        torch.save(source.state_dict(), tmp_path / "torch" / "hub" / "checkpoints" / "c3d_tiny.pth")
    make_prepared(tmp_path / "data", subjects=4)
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    return [
        "train",
        str(tmp_path / "cfg.yaml"),
        "--data",
        str(tmp_path / "data"),
        "--fold",
        "0",
        "--run-dir",
        str(tmp_path / "run"),
    ]


def test_train_starts_offline_from_cached_named_weights_and_keeps_their_normalisation(tmp_path, monkeypatch, capsys):
    from fervid.checkpoint import read_checkpoint

    argv = _setup(tmp_path, monkeypatch, staged=True)
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "from scratch" not in out.err and out.out.startswith("c3d: starting from c3d/tiny (https://weights.invalid/")
    _, meta = read_checkpoint(tmp_path / "run" / "fold_00" / "model.safetensors")
    assert (tuple(meta.mean), tuple(meta.std)) == (MEAN, STD)  # what predict and evaluate will apply


def test_train_without_the_cache_offline_stops_with_one_line(tmp_path, monkeypatch, capsys):
    argv = _setup(tmp_path, monkeypatch, staged=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fervid train: error: c3d/tiny: cannot get the weights")
    assert "`fervid weights download c3d/tiny`" in err and "HF_HUB_OFFLINE is set" in err
    assert not (tmp_path / "run" / "fold_00" / "model.safetensors").exists()


def test_full_size_from_scratch_prints_one_warning_and_synth_stays_silent(tmp_path, capsys):
    make_prepared(tmp_path / "data", subjects=4)
    # the run stops before any training (4 subjects cannot make 10 folds), after the warning
    assert (
        main(
            [
                "train",
                "oulu/vivit",
                "--data",
                str(tmp_path / "data"),
                "--set",
                "model.pretrained=null",
                "--fold",
                "99",
                "--run-dir",
                str(tmp_path / "a"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "warning: training vivit from scratch, but the study started it from vivit/in21k; "
        "to start there: --set model.pretrained=in21k"
    )
    assert len(err) == 2 and err[1].startswith("fervid train: error:")
    assert (
        main(
            ["train", "synth/vivit", "--data", str(tmp_path / "data"), "--fold", "99", "--run-dir", str(tmp_path / "b")]
        )
        == 2
    )
    assert len(capsys.readouterr().err.splitlines()) == 1
