"""A fold's Lightning checkpoints as a run directory needs them: whole, readable, and movable.

- :class:`AtomicCheckpointIO` writes every Lightning checkpoint (``last.ckpt``, ``best.ckpt``)
  through :func:`fervid.writes.atomic_write_bytes`. Lightning's own writer goes through fsspec,
  which stages the file in the system temp folder and then *copies* it over the target when
  that is another filesystem: a full disk there left a truncated ``last.ckpt`` that no resume
  could read. A checkpoint that cannot be read (from an older version, or damaged outside
  fervid) is one line naming it and what to do, not a traceback.
- :class:`BestCheckpoint` is ``ModelCheckpoint`` with its selection state (best score, best
  path) stored relative to the fold folder. Lightning drops that state when the folder's
  absolute path changed, so a moved or copied run would have let the next validation epoch
  overwrite ``best.ckpt`` (and kept reading the old folder's best).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from fervid.errors import FervidError
from fervid.writes import atomic_write_bytes

WHAT = {"last.ckpt": "the fold's resumable checkpoint", "best.ckpt": "the best validation epoch's weights"}


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` into memory (as Lightning does), then an atomic write beside the target."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, buf.getvalue(), what=WHAT.get(Path(path).name, "Lightning checkpoint"))

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict[str, Any]:
        try:
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        except Exception as e:  # truncated zip, foreign pickle, unreadable file: one line
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise FervidError(
                f"{path}: unreadable checkpoint ({type(e).__name__}: {first}); it cannot be resumed from. "
                f"Delete it and rerun with --resume to restart this fold from its first epoch"
            ) from None


def trainer_plugins() -> list:
    """Plugins every fold's Trainer gets: atomic checkpoints and, under SLURM, no auto-requeue
    (fervid handles SIGUSR1/SIGTERM itself: :mod:`fervid.train.preemption`)."""
    plugins: list = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return plugins


class BestCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose saved state holds paths relative to its folder (``dirpath``).

    Restoring rebases them onto the current folder, whatever the folder was called when the
    state was saved; checkpoints written by plain ``ModelCheckpoint`` (absolute paths) are
    rebased the same way.
    """

    @property
    def state_key(self) -> str:
        # ModelCheckpoint's key, so last.ckpt files written before this class still restore.
        return ModelCheckpoint.__qualname__ + super().state_key.removeprefix(type(self).__qualname__)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        base = str(self.dirpath)
        rel = lambda p: os.path.relpath(p, base) if p else p
        state.update(
            dirpath=".",
            best_model_path=rel(state["best_model_path"]),
            kth_best_model_path=rel(state["kth_best_model_path"]),
            last_model_path=rel(state["last_model_path"]),
            best_k_models={rel(k): v for k, v in state["best_k_models"].items()},
        )
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_dir = state_dict.get("dirpath") or "."
        here = str(self.dirpath)

        def rebase(p):
            if not p:
                return p
            return os.path.join(here, os.path.relpath(p, saved_dir) if os.path.isabs(p) else p)

        state = dict(state_dict)
        state.update(
            dirpath=here,
            best_model_path=rebase(state.get("best_model_path")),
            kth_best_model_path=rebase(state.get("kth_best_model_path")),
            last_model_path=rebase(state.get("last_model_path")),
            best_k_models={rebase(k): v for k, v in (state.get("best_k_models") or {}).items()},
        )
        super().load_state_dict(state)
