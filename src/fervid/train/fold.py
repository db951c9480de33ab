"""One fold of one seed: a Lightning run on its training subjects, selected on its validation
subjects, then scored once on its test subjects (:mod:`fervid.train.fold_result`).

Per fold: the training subjects lose a validation share (``protocol.val_subjects``, whole
subjects) that alone selects the epoch (best validation UAR; early stopping on it when asked);
with no validation split the last epoch is kept. Every random draw is seeded by its position
(seed, fold, epoch, clip: :mod:`fervid.train.resumable`), so a resumed or reordered fold repeats.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from fervid.errors import FervidError
from fervid.train.model_setup import build_model, weights_normalisation
from fervid.train.protocol import multi_seed


def _precision(config: dict, on_gpu: bool) -> str:
    p = config["trainer"]["precision"]
    if p != "auto":
        return p
    if on_gpu:
        import torch

        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def make_trainer(config: dict, fdir: Path, callbacks: list):
    """A Lightning Trainer for one fold: one device, or the world torchrun started."""
    import lightning as L
    import torch

    from fervid.train.fold_checkpoints import trainer_plugins
    from fervid.train.loggers import build_loggers

    t = config["trainer"]
    on_gpu = torch.cuda.is_available() and t["accelerator"] in ("auto", "gpu", "cuda")
    kw: dict = {"accelerator": t["accelerator"], "devices": t["devices"], "num_nodes": t["num_nodes"]}
    if "LOCAL_WORLD_SIZE" in os.environ:  # launched by torchrun: one process per device
        local, world = int(os.environ["LOCAL_WORLD_SIZE"]), int(os.environ["WORLD_SIZE"])
        kw.update(devices=local, num_nodes=world // local)
    elif t["devices"] == "auto":
        kw["devices"] = 1  # several devices: launch with torchrun (see docs/training.md)
    distributed = kw["devices"] * kw["num_nodes"] > 1 if isinstance(kw["devices"], int) else True
    if distributed:
        from lightning.pytorch.strategies import DDPStrategy

        kw["strategy"] = DDPStrategy(process_group_backend="nccl" if on_gpu else "gloo")
        # Batch statistics over the global batch, as in one process (SyncBatchNorm needs a GPU).
        kw["sync_batchnorm"] = on_gpu
    return L.Trainer(
        **kw,
        max_epochs=config["epochs"],
        precision=_precision(config, on_gpu),
        gradient_clip_val=t["gradient_clip"],
        deterministic="warn",  # some 3-D GPU kernels have no deterministic version
        callbacks=callbacks,
        logger=build_loggers(t["logger"], fdir) or False,
        enable_checkpointing=True,
        enable_progress_bar=t["progress_bar"],
        enable_model_summary=False,
        log_every_n_steps=t["log_every_n_steps"],
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # EpochBatchSampler shards the global batches itself
        plugins=trainer_plugins(),  # atomic checkpoints; under SLURM, fervid's own signal handling
        default_root_dir=fdir,
    )


def _augment(value) -> dict | None:
    from fervid.data.transforms import NO_AUGMENT

    if value is True:
        return None  # ClipDataset's defaults
    if value is False:
        return dict(NO_AUGMENT)
    return dict(value)


def train_fold(
    config: dict,
    plan: dict,
    fdir: Path,
    *,
    meta: dict,
    records,
    doc: dict,
    resume: bool,
) -> dict | None:
    """Train one fold of one seed (``plan["seed"]``), select its weights on validation, score
    its test subjects once (:mod:`fervid.train.fold_result`). ``doc``: the run's folds.json document
    (its rule, k and record of the prepared data).

    Writes ``fdir/{last.ckpt, best.ckpt, model.safetensors, predictions.csv, result.json,
    metrics.csv}``; returns the fold result on the main process, ``None`` on the others.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping
    from torch.utils.data import DataLoader

    from fervid.data import ClipDataset
    from fervid.models import get_model_info
    from fervid.train.fold_checkpoints import BestCheckpoint
    from fervid.train.module import ClipClassifier
    from fervid.train.preemption import StopCleanly
    from fervid.train.resumable import EpochBatchSampler, FoldProgress, SeededClips, derive_seed

    fold, seed, d = plan["fold"], plan["seed"], config["data"]
    has_val = len(plan["val"]) > 0
    classes = list(meta["classes"])
    info = get_model_info(config["model"]["name"])
    fdir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(derive_seed(seed, "init", fold) % 2**32, workers=True, verbose=False)
    model = build_model(config, len(classes), pretrained=config["model"]["pretrained"])
    info = weights_normalisation(info, model)

    # The sampler needs the world size, the trainer needs the sampler's callback: build in two steps.
    progress = FoldProgress(
        None,
        fdir / "last.ckpt",
        every_n_steps=config["trainer"]["checkpoint_every_n_steps"],
        seed=derive_seed(seed, "steps", fold),
    )
    name = f"seed {seed} fold {fold}" if multi_seed(config) else f"fold {fold}"
    callbacks: list = [progress, StopCleanly(progress, name)]
    best = None
    if has_val:
        best = BestCheckpoint(
            dirpath=fdir,
            filename="best",
            monitor="val_select",
            mode="max",
            save_top_k=1,
            save_weights_only=True,
            enable_version_counter=False,
            auto_insert_metric_name=False,
        )
        callbacks.append(best)
        if config["trainer"]["early_stopping"]:
            callbacks.append(EarlyStopping(monitor="val_uar", mode="max", patience=config["trainer"]["early_stopping"]))
    trainer = make_trainer(config, fdir, callbacks)

    world, rank = trainer.world_size, trainer.global_rank
    if config["batch_size"] % world:
        raise FervidError(f"batch_size {config['batch_size']} is not divisible by the {world} processes")
    per_process = config["batch_size"] // world
    common = dict(image_size=d["image_size"], mean=info.mean, std=info.std)
    train_set = ClipDataset(
        prepared_dir := d["path"],
        plan["train"],
        d["num_frames"],
        train=True,
        sampling=d["train_sampling"],
        augment=_augment(d["augment"]),
        **common,
    )
    sampler = EpochBatchSampler(
        len(train_set), per_process, seed=derive_seed(seed, "order", fold), rank=rank, world_size=world
    )
    if len(sampler) == 0:
        raise FervidError(
            f"fold {fold}: {len(train_set)} training clips do not fill one batch of {config['batch_size']}; "
            "lower batch_size"
        )
    progress.sampler = sampler
    loader_kw = dict(num_workers=d["num_workers"], pin_memory=torch.cuda.is_available(), persistent_workers=False)
    train_loader = DataLoader(
        SeededClips(train_set, derive_seed(seed, "augment", fold)), batch_sampler=sampler, **loader_kw
    )
    val_loader = None
    if has_val:  # every process scores the whole (small) validation set: identical selection everywhere
        val_set = ClipDataset(prepared_dir, plan["val"], d["num_frames"], sampling=d["sampling"], **common)
        val_loader = DataLoader(val_set, batch_size=per_process, shuffle=False, **loader_kw)

    module = ClipClassifier(
        model,
        num_classes=len(classes),
        optimizer=config["optim"]["name"],
        lr=config["optim"]["lr"],
        weight_decay=config["optim"]["weight_decay"],
        memory_format=config["trainer"]["memory_format"],
        warmup_epochs=config["schedule"]["warmup_epochs"],
        min_lr_ratio=config["schedule"]["min_lr_ratio"],
        steps_per_epoch=len(sampler),
        epochs=config["epochs"],
        fold=fold,
    )
    ckpt = fdir / "last.ckpt" if resume else None
    # FoldProgress restores the loader position itself (EpochBatchSampler.resume), and the CSV
    # logger appends to metrics.csv: Lightning's generic resume warnings do not apply.
    warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")
    warnings.filterwarnings("ignore", message=".*Previous log files in this directory will be deleted.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    # Lightning 2.6 still builds torch's deprecated LeafSpec; nothing for a user to act on.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
    finally:  # Lightning's deterministic mode is process-wide: leave the process as it was
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    train_time = progress.train_time_s

    result = None
    if trainer.is_global_zero:
        from fervid.rundir.folds import protocol_name
        from fervid.train.fold_result import finish_fold

        result = finish_fold(
            config,
            plan,
            fdir,
            module,
            best,
            progress,
            meta=meta,
            records=records,
            rule=doc["rule"],
            protocol=protocol_name(doc["rule"], doc["k"], doc["prepared"]["subject_ids"]),
            prepared=doc["prepared"],
            classes=classes,
            info=info,
            train_time=train_time,
        )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # all processes leave the fold together
    return result
