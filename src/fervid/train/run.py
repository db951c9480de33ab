"""Running a protocol: plan every (seed, fold), record the plan in the run directory, train each fold.

:func:`train_run` resolves the config against the prepared data (model sizes, class names,
pretrained geometry), plans the folds (:mod:`fervid.train.protocol`), writes or checks
``config.yaml`` and ``folds.json``, then trains the folds one by one (:mod:`fervid.train.fold`),
each under its lock, skipping finished ones on ``--resume``, and finally writes the report
(:mod:`fervid.results.report`). ``protocol.seeds`` repeats the whole study per seed. The run
directory layout is in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from fervid.errors import FervidError
from fervid.rundir.folds import RULE_WORDS, fold_entries, protocol_name
from fervid.rundir.layout import fold_dir
from fervid.train.model_setup import resolve_class_names, resolve_model_sizes, resolve_pretrained_geometry
from fervid.train.protocol import folds_document, multi_seed, plan_folds
from fervid.writes import atomic_write_bytes

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

    from fervid.train.config import dump_config, with_defaults

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
        from fervid.rundir.integrity import check_same_data

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
    folds side by side leave the report to one call at the end, fervid.train.fold_jobs).
    """
    from fervid.data import read_manifest, read_meta
    from fervid.data.verify import check_clips
    from fervid.rundir.integrity import data_fingerprint
    from fervid.rundir.lock import fold_lock, run_files_lock
    from fervid.train.fold import train_fold
    from fervid.train.preemption import fold_errors, stop_if_signalled

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
    from fervid.results.report import write_report

    return write_report(run_dir)
