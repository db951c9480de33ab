"""A fold's selection state survives a move of its folder, and checkpoints are written whole."""

from __future__ import annotations

import errno
import os
import warnings

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from fervid.errors import FervidError
from fervid.train.fold_checkpoints import AtomicCheckpointIO, BestCheckpoint
from fervid.writes import WriteFailed

KW = {"filename": "best", "monitor": "val_uar", "mode": "max", "save_top_k": 1, "save_weights_only": True}


def selected(cb, folder, score=0.75):
    path = str(folder.resolve() / "best.ckpt")
    cb.best_model_score, cb.best_model_path = torch.tensor(score), path
    cb.best_k_models, cb.kth_best_model_path, cb.kth_value = {path: torch.tensor(score)}, path, torch.tensor(score)
    return cb


@pytest.mark.parametrize("written_by", [BestCheckpoint, ModelCheckpoint])  # ModelCheckpoint: an older last.ckpt
def test_selection_state_follows_a_moved_run(tmp_path, written_by):
    old, new = tmp_path / "old" / "fold_01", tmp_path / "new" / "fold_01"
    state = selected(written_by(dirpath=old, **KW), old).state_dict()
    moved = BestCheckpoint(dirpath=new, **KW)
    assert moved.state_key == ModelCheckpoint(dirpath=new, **KW).state_key  # finds either's state in last.ckpt
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "dirpath has changed ... won't be reloaded"
        moved.load_state_dict(state)
    here = str(new.resolve() / "best.ckpt")
    assert float(moved.best_model_score) == 0.75  # so a worse later epoch cannot overwrite best.ckpt
    assert moved.best_model_path == moved.kth_best_model_path == here
    assert list(moved.best_k_models) == [here]


def test_saved_selection_names_no_absolute_path(tmp_path):
    state = selected(BestCheckpoint(dirpath=tmp_path, **KW), tmp_path).state_dict()
    assert state["dirpath"] == "." and state["best_model_path"] == "best.ckpt"
    assert list(state["best_k_models"]) == ["best.ckpt"]


def test_a_failed_checkpoint_write_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteFailed, match=rf"cannot write {path} \(the fold's resumable checkpoint\): no space left"):
        io.save_checkpoint({"step": 2, "w": torch.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    assert io.load_checkpoint(path, weights_only=True)["step"] == 1

    path.write_bytes(before[: len(before) // 2])
    with pytest.raises(FervidError, match=rf"{path}: unreadable checkpoint .*Delete it and rerun with --resume"):
        io.load_checkpoint(path, weights_only=True)


def test_under_slurm_lightning_leaves_the_signals_to_fervid(monkeypatch):
    import lightning as L
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from fervid.train.fold_checkpoints import trainer_plugins

    assert [type(p) for p in trainer_plugins()] == [AtomicCheckpointIO]  # no SLURM here
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    trainer = L.Trainer(
        plugins=trainer_plugins(),
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    env = trainer._accelerator_connector.cluster_environment
    assert isinstance(env, SLURMEnvironment) and env.auto_requeue is False  # no mid-step hpc_ckpt, no requeue
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
