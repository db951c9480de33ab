"""Subject-independent k-fold training: one Lightning run per fold, resumable, DDP-ready.

Per fold: the training subjects lose a validation share (``protocol.val_subjects``, whole
subjects) that alone selects the epoch (best validation UAR; early stopping on it when asked);
with no validation split the last epoch is kept. The test subjects are scored once, at the end,
with the selected weights and the test-time views, writing one row per clip to
``predictions.csv``. ``protocol.seeds`` repeats the whole study per seed. The rule, k and seeds
are fervid.engine.protocol's; the run directory layout is in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from fervid.checkpoint import atomic_write_bytes
from fervid.engine.config import resolve_pretrained_geometry
from fervid.engine.layout import fold_dir
from fervid.engine.protocol import RULE_WORDS, folds_document, multi_seed, plan_folds, protocol_name
from fervid.errors import FervidError

# Keys that change how a run executes, not what it computes: they may differ on --resume.
RUNTIME_KEYS = {
    ("data", "num_workers"),
    ("trainer", "progress_bar"),
    ("trainer", "accelerator"),
    ("trainer", "devices"),
    ("trainer", "num_nodes"),
    ("trainer", "log_every_n_steps"),
    ("trainer", "checkpoint_every_n_steps"),
    ("trainer", "logger"),
}


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def resolve_model_sizes(config: dict) -> None:
    """Fill ``data.num_frames``/``image_size`` left ``None`` from the model's registered defaults."""
    from fervid.models import get_model_info

    info = get_model_info(config["model"]["name"])
    config["data"]["num_frames"] = config["data"]["num_frames"] or info.num_frames
    config["data"]["image_size"] = config["data"]["image_size"] or info.image_size


def resolve_class_names(config: dict, classes: list[str]) -> None:
    """A model that names its classes (a ``class_names`` builder argument: clip's text head) gets the
    prepared data's, whose order is the label order; different names in the config are an error."""
    import inspect

    from fervid.models import get_model_info

    if "class_names" not in inspect.signature(get_model_info(config["model"]["name"]).builder).parameters:
        return
    kwargs = config["model"]["kwargs"]
    given = kwargs.get("class_names")
    if given is None:
        kwargs["class_names"] = list(classes)
    elif list(given) != list(classes):
        raise FervidError(
            f"model.kwargs.class_names {list(given)} differ from the prepared data's classes "
            f"{list(classes)} (their order is the label order); leave class_names out"
        )


def weights_normalisation(info, model):
    """``info`` with the mean/std of the weights ``model`` started from (its load report), else as is.

    Training, evaluation and the saved checkpoint (so ``predict``) all read ``info.mean/std``.
    """
    import dataclasses

    report = getattr(model, "load_report", None)
    if report is None or report.mean is None:
        return info
    return dataclasses.replace(info, mean=tuple(report.mean), std=tuple(report.std))


def _differences(a, b, path=()) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict) and path not in {("model", "kwargs"), ("data", "augment")}:
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if (*path, key) not in RUNTIME_KEYS:
                out += _differences(a.get(key), b.get(key), (*path, key))
        return out
    return [] if a == b else [f"{'.'.join(map(str, path))}: {a!r} -> {b!r}"]


def prepare_run_dir(run_dir: Path, config: dict, folds_doc: dict) -> None:
    """Write config.yaml and folds.json, or check that an existing run has the same ones."""
    import yaml

    from fervid.engine.config import dump_config, with_defaults

    cfg_path, folds_path = run_dir / "config.yaml", run_dir / "folds.json"
    if cfg_path.is_file():
        old = with_defaults(yaml.safe_load(cfg_path.read_text()) or {})
        diff = _differences(old, config)
        if diff:
            raise FervidError(
                f"{cfg_path}: this run was made with other settings ({'; '.join(diff[:3])}); "
                "use the same config or another --run-dir"
            )
    if folds_path.is_file():
        from fervid.engine.integrity import check_same_data
        from fervid.engine.protocol import fold_entries

        old_doc = json.loads(folds_path.read_text())
        if fold_entries(old_doc) != folds_doc["folds"]:
            raise FervidError(
                f"{folds_path}: the fold lists differ from this dataset's (was the prepared data changed?); "
                "use another --run-dir"
            )
        check_same_data(folds_path, old_doc, folds_doc)
    if _is_main():
        atomic_write_bytes(cfg_path, dump_config(config).encode())
        _write_json(folds_path, folds_doc)


def train_run(
    config: dict,
    run_dir: str | os.PathLike,
    *,
    folds: list[int] | None = None,
    resume: bool = False,
    log: Callable[[str], None] = lambda s: None,
    report: bool = True,
) -> dict | None:
    """Train and score the folds of ``config`` into ``run_dir``; return the merged results.

    ``folds``: fold numbers to run (default all). ``resume``: skip folds that have a
    ``result.json`` and continue an unfinished fold from its ``last.ckpt``. Without it, a fold
    that already has either is an error, so nothing is overwritten. Returns ``results.json``'s
    content on the main process (``None`` elsewhere, and without ``report``: processes training
    folds side by side leave the report to one call at the end, fervid.engine.fold_jobs).
    """
    from fervid.data import read_manifest, read_meta
    from fervid.data.verify import check_clips
    from fervid.engine.integrity import data_fingerprint
    from fervid.engine.preemption import fold_errors, stop_if_signalled
    from fervid.engine.runlock import fold_lock, run_files_lock

    run_dir = Path(run_dir)
    prepared = config["data"]["path"]
    if not prepared:
        raise FervidError("no prepared dataset: set data.path in the config or pass --data PREPARED")
    meta, records = read_meta(prepared), read_manifest(prepared)
    check_clips(prepared, records, meta.get("size"))  # every clip whole, before any training
    config["dataset"] = config["dataset"] or meta.get("dataset")
    resolve_pretrained_geometry(config)
    resolve_model_sizes(config)
    resolve_class_names(config, meta["classes"])
    rule, plans = plan_folds(config, records)
    k = len({p["fold"] for p in plans})
    bad = [i for i in (folds or []) if not 0 <= i < k]
    if bad:
        raise FervidError(f"--fold {bad[0]}: the protocol has folds 0..{k - 1}")
    run_dir.mkdir(parents=True, exist_ok=True)
    doc = folds_document(config, records, rule, plans, meta, data_fingerprint(prepared, records))
    with run_files_lock(run_dir):
        prepare_run_dir(run_dir, config, doc)
    if config["protocol"]["rule"] == "auto":
        log(f"rule auto -> {rule} ({RULE_WORDS[rule]}): {protocol_name(rule, k, doc['prepared']['subject_ids'])}")

    multi = multi_seed(config)
    for plan in (p for p in plans if folds is None or p["fold"] in folds):
        i = plan["fold"]
        name = f"seed {plan['seed']} fold {i}" if multi else f"fold {i}"
        stop_if_signalled(f"before {name}")
        fdir = fold_dir(run_dir, i, plan["seed"] if multi else None)
        done, started = (fdir / "result.json").is_file(), (fdir / "last.ckpt").is_file()
        if done and resume:
            log(f"{name}: finished earlier, skipped")
            continue
        if (done or started) and not resume:
            what = "finished" if done else "an unfinished run"
            raise FervidError(f"{fdir}: {name} has {what}; pass --resume to continue, or use another --run-dir")
        log(
            f"{name}: {len(plan['train'])} train / {len(plan['val'])} val / "
            f"{len(plan['test'])} test clips" + (" (resuming)" if started else "")
        )
        with fold_lock(fdir), fold_errors(config, name, fdir):
            result = train_fold(config, plan, fdir, meta=meta, records=records, doc=doc, resume=resume and started)
        if result is not None:
            log(f"{name}: accuracy {result['accuracy']:.1%}, UAR {result['uar']:.1%} ({result['selection']})")
    if not _is_main() or not report:
        return None
    from fervid.engine.report import write_report

    return write_report(run_dir)


def build_model(config: dict, num_classes: int, *, pretrained: str | None = None):
    """The config's model; a wrong ``model.kwargs`` is a one-line error, not a traceback."""
    from fervid.models import create_model

    m, d = config["model"], config["data"]
    try:
        return create_model(
            m["name"],
            num_classes=num_classes,
            num_frames=d["num_frames"],
            image_size=d["image_size"],
            pretrained=pretrained,
            **m["kwargs"],
        )
    except TypeError as e:
        raise FervidError(f"model.kwargs {m['kwargs']} do not fit model {m['name']!r}: {e}") from None


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

    from fervid.engine.fold_checkpoints import trainer_plugins
    from fervid.engine.loggers import build_loggers

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
    its test subjects once (fervid.engine.fold_result). ``doc``: the run's folds.json document
    (its rule, k and record of the prepared data).

    Writes ``fdir/{last.ckpt, best.ckpt, model.safetensors, predictions.csv, result.json,
    metrics.csv}``; returns the fold result on the main process, ``None`` on the others.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping
    from torch.utils.data import DataLoader

    from fervid.data import ClipDataset
    from fervid.engine.fold_checkpoints import BestCheckpoint
    from fervid.engine.module import ClipClassifier
    from fervid.engine.preemption import StopCleanly
    from fervid.engine.resumable import EpochBatchSampler, FoldProgress, SeededClips, derive_seed
    from fervid.models import get_model_info

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
        from fervid.engine.fold_result import finish_fold
        from fervid.engine.protocol import protocol_name

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
