"""Stopping a fold cleanly: on SIGTERM/SIGUSR1 (preemption) and on CUDA out of memory.

Schedulers send SIGTERM (SLURM also SIGUSR1, with ``--signal``) some time before they kill a
job. Lightning's own handling raises ``SIGTERMException``, a ``SystemExit`` with status 0, at a
point fervid's resume does not expect and without saving. Instead, while a fold trains, fervid
handles both signals itself (:func:`watch` for the whole command, :class:`StopCleanly` inside
``trainer.fit``, which replaces Lightning's handlers there):

- a signal is noted; at the next step boundary the fold saves ``last.ckpt`` exactly where its
  periodic checkpoint would (mid-epoch after a step, else after the epoch's validation), and
  :class:`Preempted` is raised; its ``exit_code`` is 128 + the signal (143 SIGTERM, 138 SIGUSR1);
- a signal outside a fold's training stops the run before its next fold;
- in a distributed run all processes agree each step on whether any was signalled, so they stop
  at the same step.

``--resume`` then continues bit for bit (:mod:`fervid.train.resumable`).

CUDA out of memory inside a training step (forward/backward) leaves the weights and optimiser as
the previous step left them: in one process, :class:`StopCleanly` saves that state as
``last.ckpt``; :func:`fold_errors` turns the error into one line saying what to lower.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import torch

from fervid.errors import FervidError

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
_received: int | None = None  # the first stop signal since the last Preempted was raised


class Preempted(FervidError):
    """Training stopped on a signal after saving what ``--resume`` needs."""

    def __init__(self, message: str, signum: int = signal.SIGTERM) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum  # the shell's convention for "ended by signal N"


def _note(signum, frame) -> None:
    global _received
    if _received is None:
        _received = signum


def _take() -> int:
    global _received
    signum, _received = _received, None
    return signum


@contextmanager
def watch():
    """Note SIGTERM/SIGUSR1 for the block instead of dying (or Lightning's exit status 0)."""
    global _received
    _received = None
    old = {s: signal.signal(s, _note) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def stop_if_signalled(where: str) -> None:
    """Between folds: raise :class:`Preempted` when a stop signal came."""
    if _received is not None:
        signum = _take()
        raise Preempted(f"stopped by {signal.Signals(signum).name} {where}", signum)


class StopCleanly(L.Callback):
    """Saves a resumable ``last.ckpt`` and stops at the first step boundary after a stop signal;
    saves the last finished step when a training step runs out of memory.

    ``progress`` is the fold's :class:`~fervid.train.resumable.FoldProgress` (its checkpoint
    path, batch position and sampler); list this callback after it.
    """

    def __init__(self, progress, name: str) -> None:
        self.progress, self.name = progress, name  # "fold 2", or "seed 1 fold 2"
        self.phase = "setup"

    def on_train_start(self, trainer, pl_module) -> None:
        # Lightning registered its handlers (Received SIGTERM -> SystemExit(0)) just before:
        # ours replace them for the loop; Lightning restores the earlier ones at teardown.
        if threading.current_thread() is threading.main_thread():  # else Lightning installed none
            for s in SIGNALS:
                signal.signal(s, _note)
        connector = getattr(trainer, "_signal_connector", None)
        if connector is not None and connector.received_sigterm:  # came before this hook: ours to handle
            _note(signal.SIGTERM, None)
            connector.received_sigterm = False

    def _signalled(self, trainer) -> bool:
        local = _received is not None
        if trainer.world_size == 1:
            return local
        flag = torch.tensor(float(local), device=trainer.strategy.root_device)
        return bool(trainer.strategy.reduce(flag, reduce_op="sum") > 0)

    def _stop(self, trainer, where: str) -> None:
        signum = _take() or signal.SIGTERM  # another process of the run was signalled
        trainer.save_checkpoint(self.progress.ckpt_path, weights_only=False)
        raise Preempted(
            f"{self.name}: stopped by {signal.Signals(signum).name} {where}; saved {self.progress.ckpt_path}",
            signum,
        )

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.phase = "training step"

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.phase = "optimiser step"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.phase = "between steps"
        if not self._signalled(trainer):
            return
        if self.progress.batches_done < len(self.progress.sampler):  # else: save after validation
            self._stop(
                trainer,
                f"after epoch {trainer.current_epoch + 1}, step {self.progress.batches_done} "
                f"(optimiser step {trainer.global_step})",
            )

    def on_validation_start(self, trainer, pl_module) -> None:
        self.phase = "validation"

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.phase = "between steps"
        finished = trainer.should_stop or trainer.current_epoch + 1 >= trainer.max_epochs
        if not finished and self._signalled(trainer):  # _stop saves the epoch's end (FoldProgress may not have)
            self._stop(trainer, f"after epoch {trainer.current_epoch + 1}")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if not isinstance(exception, torch.OutOfMemoryError):
            return
        exception.fervid_phase = self.phase
        exception.fervid_step = (trainer.current_epoch + 1, trainer.global_step)
        # A failed forward/backward changed no weight and no optimiser state: the state is the
        # previous step's. Not so inside optimizer.step, nor across processes (the others wait).
        if self.phase == "training step" and trainer.world_size == 1:
            trainer.save_checkpoint(self.progress.ckpt_path, weights_only=False)
            exception.fervid_saved = Path(self.progress.ckpt_path)


def _oom_line(e: BaseException, config: dict, name: str) -> str:
    d, t = config["data"], config["trainer"]
    phase = getattr(e, "fervid_phase", "evaluation")
    epoch, step = getattr(e, "fervid_step", (None, None))
    where = f"in the {phase}" + (f" of epoch {epoch} (after optimiser step {step})" if epoch else "")
    p = str(t["precision"])  # "auto" is already bf16/16-mixed on a GPU
    precision = f", trainer.precision=bf16-mixed (now {p})" if p.startswith(("32", "64")) else ""
    saved = getattr(e, "fervid_saved", None)
    then = (
        f"{saved} holds the state before that step: --resume continues from it when memory is freed or with more GPUs"
        if saved
        else "--resume continues from the last saved checkpoint when memory is freed or with more GPUs"
    )
    return (
        f"{name}: CUDA out of memory {where}. Lower batch_size (now {config['batch_size']}), "
        f"data.num_frames (now {d['num_frames']}) or data.image_size (now {d['image_size']}){precision} "
        f"in a new run (another --run-dir), or spread each batch over more GPUs with torchrun "
        f"(batch_size is global); {then}"
    )


@contextmanager
def fold_errors(config: dict, name: str, fdir: Path):
    """A fold's out-of-memory and full-disk errors as one line each (``name``: "fold 2", "seed 1 fold 2")."""
    from fervid.writes import writing

    try:
        with writing(f"{name}'s checkpoints and logs", fdir):
            yield
    except torch.OutOfMemoryError as e:
        raise FervidError(_oom_line(e, config, name)) from None
