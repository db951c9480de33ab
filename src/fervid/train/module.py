"""The LightningModule: cross-entropy training of a video model, validation UAR, a NaN guard."""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from fervid.errors import FervidError
from fervid.train.config import MEMORY_FORMATS


def selection_score(val_uar: float, epoch: int) -> float:
    """The number checkpoint selection maximises: validation UAR, ties broken towards the later
    ``epoch`` (0-based).

    UAR (rounded to 1e-9, below any real difference on a validation set) and the epoch are
    packed into one integer-valued float64, ``round(uar * 1e9) * 1e4 + epoch``, exact below
    2**53, so the comparison is lexicographic, not a float nudge. Lightning's ModelCheckpoint
    replaces its best only on a strict improvement; with this key an equal UAR at a later epoch is
    one, so a tie keeps the later, longer-trained weights rather than an early, under-trained epoch.
    """
    if not 0 <= epoch < 10_000:
        raise ValueError(f"epoch {epoch} outside 0..9999")
    return round(val_uar * 1e9) * 1e4 + epoch


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """LR multiplier at optimiser step ``step``: linear warm-up to 1, then cosine down to ``min_ratio``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def to_memory_format(model: nn.Module, memory_format: str) -> nn.Module:
    """``model`` with its 4-D / 5-D weights (2-D / 3-D convolutions) in ``channels_last`` /
    ``channels_last_3d`` order, or left as they are (``"contiguous"``); in place, returned.

    A convolution whose weight is channels-last computes in that order and hands it on to the
    next layer, so converting the weights converts the network. Which order is faster depends on
    the model and the CPU (docs/BENCHMARKS.md); the results differ only by rounding.
    """
    if memory_format not in MEMORY_FORMATS:
        raise FervidError(f"memory format {memory_format!r}: choose one of {', '.join(MEMORY_FORMATS)}")
    if memory_format == "channels_last":
        for p in model.parameters():
            if p.dim() in (4, 5):
                fmt = torch.channels_last if p.dim() == 4 else torch.channels_last_3d
                p.data = p.data.contiguous(memory_format=fmt)
    return model


class ClipClassifier(L.LightningModule):
    """Trains ``model`` (``(B, 3, T, H, W)`` → ``(B, num_classes)`` logits) on one fold.

    Args:
        model: the network.
        num_classes: size of the logits.
        optimizer: ``"adamw"``, or ``"sgd"`` (momentum 0.9, Nesterov).
        lr, weight_decay: its settings; biases and norm weights (1-D tensors) get no decay.
        warmup_epochs, min_lr_ratio: the schedule, stepped per optimiser step.
        steps_per_epoch, epochs: to lay the schedule out over the run.
        fold: named in the NaN message.
        memory_format: ``"contiguous"`` or ``"channels_last"`` (:func:`to_memory_format`).

    After each validation epoch :attr:`last_val` holds ``{"val_loss", "val_uar"}``; the logged
    ``val_select`` (:func:`selection_score`) is what checkpoint selection maximises.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        num_classes: int,
        lr: float,
        weight_decay: float,
        warmup_epochs: float,
        min_lr_ratio: float,
        steps_per_epoch: int,
        epochs: int,
        fold: int,
        optimizer: str = "adamw",
        memory_format: str = "contiguous",
    ) -> None:
        super().__init__()
        self.model = to_memory_format(model, memory_format)
        self.num_classes = num_classes
        self.optimizer, self.lr, self.weight_decay = optimizer, lr, weight_decay
        self.warmup_steps = round(warmup_epochs * steps_per_epoch)
        self.total_steps = steps_per_epoch * epochs
        self.min_lr_ratio = min_lr_ratio
        self.fold = fold
        self.last_val: dict[str, float] = {}
        self._val_logits: list[torch.Tensor] = []
        self._val_targets: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch, batch_idx: int) -> dict:
        x, y = batch  # (B, 3, T, H, W), (B,)
        loss = F.cross_entropy(self.model(x), y)
        # One reduction gives the loss averaged over processes (the global batch's mean, the
        # same number in 1 or N processes) and carries any process's NaN to every process, so
        # all stop together instead of the rest hanging in the next all-reduce.
        global_loss = self.trainer.strategy.reduce(loss.detach().float(), reduce_op="mean")
        value = float(global_loss)
        if not math.isfinite(value):
            epochs = self.trainer.max_epochs
            raise FervidError(
                f"fold {self.fold}: training loss became {value} at epoch {self.current_epoch + 1}/{epochs}, "
                f"step {batch_idx + 1} of the epoch (optimiser step {self.global_step + 1}); "
                f"lower optim.lr (now {self.lr:g}) or check the data"
            )
        self.log("train_loss", global_loss, prog_bar=True, on_step=True, on_epoch=False)
        return {"loss": loss, "global_loss": value}

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        self._val_logits.append(self.model(x).float().cpu())  # (B, num_classes)
        self._val_targets.append(y.cpu())

    def on_validation_epoch_end(self) -> None:
        from fervid.results.metrics import compute_metrics

        if not self._val_logits:
            return
        logits, targets = torch.cat(self._val_logits), torch.cat(self._val_targets)
        self._val_logits, self._val_targets = [], []
        val_loss = float(F.cross_entropy(logits, targets))
        val_uar = compute_metrics(logits, targets, self.num_classes)["uar"]
        self.last_val = {"val_loss": val_loss, "val_uar": val_uar}
        # Every process scores the whole validation set, so the values already agree;
        # sync_dist only keeps Lightning's distributed bookkeeping consistent.
        self.log("val_loss", val_loss, sync_dist=True)
        self.log("val_uar", val_uar, prog_bar=True, sync_dist=True)
        # float64: the packed key needs 14 digits; logger=False keeps it out of metrics.csv.
        key = torch.tensor(selection_score(val_uar, self.current_epoch), dtype=torch.float64)
        self.log("val_select", key, sync_dist=True, logger=False)

    def configure_optimizers(self):
        decay, no_decay = [], []
        for p in self.model.parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
        groups = [{"params": decay, "weight_decay": self.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        # torch's CPU default updates tensor by tensor in Python; the fused kernel does all in one
        # pass (a tiny R(2+1)D's training step: 10-20 % faster on 2 cores). Same update, rounded
        # differently.
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in decay + no_decay)
        if self.optimizer == "sgd":
            optimizer = torch.optim.SGD(groups, lr=self.lr, momentum=0.9, nesterov=True, fused=fused)
        else:
            optimizer = torch.optim.AdamW(groups, lr=self.lr, fused=fused)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: warmup_cosine(
                step, warmup_steps=self.warmup_steps, total_steps=self.total_steps, min_ratio=self.min_lr_ratio
            ),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
