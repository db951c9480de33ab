"""Merge a run's fold results into ``results.json``, ``report.md`` and PNG plots.

Folds are read from ``RUN/fold_XX/result.json`` (``RUN/seed_S/fold_XX/`` with several seeds)
whatever machine wrote them, so folds trained elsewhere with ``--fold I`` into copies of the
same run directory merge by copying their fold folders together and running ``fervid report
RUN``. Each fold is checked against ``folds.json`` first (seed, rule, test subjects, in its
result.json and its checkpoint): a fold of another run is refused, naming it. A run with folds
missing is reported as such ("6/10 folds", ``"complete": false``); its mean is over the folds
present. The Markdown is fervid.results.report_md's; the error analysis fervid.results.errors_analysis's.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from fervid.checkpoint import CheckpointMeta
from fervid.errors import FervidError
from fervid.results.fold_checks import FOLD_KEYS, fold_checkpoints_meta, read_fold_results
from fervid.results.fold_checks import read_json as _read_json
from fervid.results.metrics import summarize_seeds
from fervid.results.report_md import _fmt_selection, render_markdown
from fervid.rundir import layout
from fervid.rundir.folds import fold_entries, protocol_name
from fervid.writes import atomic_write_bytes

FOLD_EXTRAS = ("seed", "selection", "selected_epoch", "epochs_run", "train_time_s")  # copied when present
PLOTS = {"confusion": "confusion_matrix.png", "folds": "folds.png", "curves": "curves.png"}
ERRORS_DIR = "errors"  # RUN/errors/<clip_id>.png: frame strips of the clips most often wrong
NO_IDENTITIES = {"dfew", "ferv39k", "mafw"}  # their readers make each clip its own subject


def read_config(run_dir: Path) -> dict:
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        raise FervidError(f"{path}: missing; is {run_dir} a `fervid train` run directory?")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise FervidError(f"{path}: unreadable YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise FervidError(f"{path}: expected a mapping at the top level")
    return config


def _section(config: dict, key: str) -> dict:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _model_name(config: dict, meta: CheckpointMeta | None) -> str:
    return _section(config, "model").get("name") or (meta.model if meta else "unknown")


def _dataset(config: dict, meta: CheckpointMeta | None) -> tuple[str, list[str] | None]:
    """Dataset name and class list.

    Name: the resolved config's ``dataset`` (``fervid train`` fills it from the prepared data),
    else the prepared dir's meta.json, else a fold checkpoint's. Classes: a fold checkpoint's
    (they index the model's outputs, hence the confusion matrices), else meta.json's.
    """
    from fervid.data.manifest import read_meta

    path = _section(config, "data").get("path")
    prepared: dict = {}
    if isinstance(path, str) and (Path(path) / "meta.json").is_file():  # absent on another machine
        try:
            prepared = read_meta(path)
        except FervidError:
            prepared = {}
    name = config.get("dataset") or prepared.get("dataset") or (meta.extra.get("dataset") if meta else None)
    classes = (meta.classes if meta else None) or prepared.get("classes")
    return str(name or "unknown"), (list(classes) if classes else None)


def _model_spec(config: dict, meta: CheckpointMeta | None, num_classes: int) -> dict | None:
    """``create_model`` arguments of the run's model: a fold checkpoint's, else the config's."""
    if meta is not None:
        return dict(
            name=meta.model,
            num_classes=meta.num_classes,
            num_frames=meta.num_frames,
            image_size=meta.image_size,
            **meta.model_kwargs,
        )
    model, data = _section(config, "model"), _section(config, "data")
    if not model.get("name"):
        return None
    return dict(
        name=model["name"],
        num_classes=num_classes,
        num_frames=data.get("num_frames"),
        image_size=data.get("image_size"),
        **(model.get("kwargs") or {}),
    )


def _model_cost(spec: dict | None) -> dict:
    """Parameters and GMACs per clip, counted on the meta device (no weights, no compute)."""
    if spec is None:
        return {}
    try:
        return _count_cost(spec)
    except Exception as e:  # the figures are extras: a model that cannot be counted keeps its report
        return {"params": None, "gmacs": None, "cost_error": f"{type(e).__name__}: {e}".splitlines()[0]}


def _count_cost(spec: dict) -> dict:
    import torch

    from fervid.models import create_model, get_model_info
    from fervid.models.profile import count_macs, count_params

    info = get_model_info(spec["name"])
    frames, size = spec["num_frames"] or info.num_frames, spec["image_size"] or info.image_size
    with torch.device("meta"):
        model = create_model(**{**spec, "num_frames": frames, "image_size": size})
    return {
        "params": int(count_params(model)),
        "gmacs": float(count_macs(model, (1, 3, frames, size, size))) / 1e9,  # one clip (B, C, T, H, W)
        "input": f"{frames}x{size}x{size}",
    }


def _protocol(folds_json: dict, subject_ids: bool) -> tuple[str, dict]:
    entries = fold_entries(folds_json)
    first_seed = entries[0]["seed"] if entries else None
    tests = [sorted(map(str, f.get("test_subjects", []))) for f in entries if f["seed"] == first_seed]
    k = int(folds_json.get("k") or len(tests))
    rule = folds_json.get("rule")
    split = {
        "k": k,
        "rule": rule,  # the rule used (auto resolved)
        "rule_requested": folds_json.get("rule_requested", rule),
        "seed": folds_json.get("seed"),
        "seeds": folds_json.get("seeds") or [folds_json.get("seed")],
        # Identifies the exact test-subject lists, so runs on different splits are never compared.
        "test_subjects_sha1": hashlib.sha1(json.dumps(tests).encode()).hexdigest()[:12],
        "test_views": int(folds_json.get("test_views") or 1),
        "test_crops": int(folds_json.get("test_crops") or 1),
        "subject_ids": subject_ids,
    }
    return protocol_name(rule, k, subject_ids), split


def _prepared(config: dict, folds_json: dict) -> dict | None:
    """How the data were prepared: folds.json's record (written at training time), else the
    prepared directory's meta.json where it is still there, else None (not recorded)."""
    from fervid.data.manifest import read_meta

    if isinstance(folds_json.get("prepared"), dict):
        return folds_json["prepared"]
    path = _section(config, "data").get("path")
    if isinstance(path, str) and (Path(path) / "meta.json").is_file():
        try:
            meta = read_meta(path)
        except FervidError:
            return None
        return {k: meta.get(k) for k in ("dataset", "size", "preprocess", "options", "classes")}
    return None


def _subject_ids(folds_json: dict, dataset: str, run_dir: Path) -> bool:
    """Whether the run's subjects are people: folds.json's record, else (runs made before it) the
    predictions' clip and subject columns, else the dataset's name (the readers of DFEW, FERV39k
    and MAFW make each clip its own subject: those datasets publish no identities)."""
    from fervid.results.predictions import read_predictions
    from fervid.rundir.integrity import subject_ids_known

    recorded = (folds_json.get("prepared") or {}).get("subject_ids")
    if isinstance(recorded, bool):
        return recorded
    files = [f for f in layout.files(run_dir, "predictions.csv") if f.stat().st_size]  # empty ones are named elsewhere
    pairs = [(r["clip_id"], r["subject"]) for f in files for r in read_predictions(f)[1]]
    return subject_ids_known(pairs) if pairs else dataset.lower() not in NO_IDENTITIES


def _errors(run_dir: Path, checks: dict) -> dict | None:
    """The error analysis of the folds' predictions; folds whose predictions.csv is missing or
    empty are named (``missing``, ``empty``), never counted as errors."""
    from fervid.results.errors_analysis import error_analysis

    skip = set(checks["empty"])
    files = [f for f in layout.files(run_dir, "predictions.csv") if str(f) not in skip]
    if not files:
        return None
    return {**error_analysis(files), "missing": checks["missing"], "empty": checks["empty"]}


def build_results(run_dir: str | os.PathLike, folds: list[dict] | None = None, *, force: bool = False) -> dict:
    """The ``results.json`` document of a run (nothing written); ``folds`` as read by
    :func:`read_fold_results` (read here when ``None``). The folds' files are checked first
    (fervid.rundir.integrity.check_run); ``force`` reports them anyway, recording the override.
    Schema: docs/reports.md."""
    from fervid.rundir.integrity import check_run

    run_dir = Path(run_dir)
    checks = check_run(run_dir, force=force).as_dict()
    config = read_config(run_dir)
    folds_json = _read_json(run_dir / "folds.json")
    folds = read_fold_results(run_dir) if folds is None else folds
    if not folds:
        raise FervidError(f"{run_dir}: no fold result (fold_XX/result.json) yet; nothing to report")
    meta = fold_checkpoints_meta(run_dir)
    dataset, classes = _dataset(config, meta)
    n_classes = len(folds[0]["confusion_matrix"])
    if classes is None:
        classes = [f"class_{i}" for i in range(n_classes)]
    if any(len(f["confusion_matrix"]) != len(classes) for f in folds):
        raise FervidError(f"{run_dir}: fold confusion matrices do not match the {len(classes)} classes {classes}")

    expected = sorted((e["seed"], int(e["fold"])) for e in fold_entries(folds_json))
    present = [(f["seed"], int(f["fold"])) for f in folds]
    stray = sorted(set(present) - set(expected), key=lambda t: (t[0] or 0, t[1]))
    if stray:
        raise FervidError(
            f"{run_dir / 'folds.json'}: lists no fold {stray[0][1]} of seed {stray[0][0]}, "
            "yet a fold folder has its result"
        )
    protocol, split = _protocol(folds_json, _subject_ids(folds_json, dataset, run_dir))
    split["val_subjects"] = _section(config, "protocol").get("val_subjects")
    summary = summarize_seeds(folds)
    missing = sorted(set(expected) - set(present), key=lambda t: (t[0] or 0, t[1]))
    for entry in summary["per_seed"]:
        entry["folds_missing"] = [f for s, f in missing if s == entry["seed"]]
        entry["complete"] = not entry["folds_missing"]
    n = len(classes)
    summed = [[sum(f["confusion_matrix"][i][j] for f in folds) for j in range(n)] for i in range(n)]  # (true, pred)
    times = [f["train_time_s"] for f in folds if f.get("train_time_s") is not None]
    cost = _model_cost(_model_spec(config, meta, len(classes)))
    views = split["test_views"] * split["test_crops"]
    return {
        "model": _model_name(config, meta),
        "dataset": dataset,
        "protocol": protocol,
        "classes": classes,
        "folds": [{**{k: f[k] for k in FOLD_KEYS}, **{k: f.get(k) for k in FOLD_EXTRAS}} for f in folds],
        "mean": summary["mean"],
        "std": summary["std"],
        "std_seeds": summary["std_seeds"],
        "per_seed": summary["per_seed"],
        "std_convention": "std: sample std over folds (ddof=1; null for a single fold), averaged over seeds; "
        "std_seeds: sample std across seeds of the k-fold means (null for one seed)",
        "split": split,
        "seeds": split["seeds"],
        "selection": sorted({_fmt_selection(f.get("selection")) for f in folds}),
        "n_folds": len(folds),
        "n_folds_expected": len(expected),
        "complete": len(folds) == len(expected),
        "folds_missing": sorted({f for _, f in missing}),
        "n_test_total": sum(f["n_test"] for f in folds),  # scorings: each clip once per seed
        "n_test_clips": max(sum(f["n_test"] for f in folds if f["seed"] == p["seed"]) for p in summary["per_seed"]),
        "confusion_matrix_sum": summed,
        "train_time_s": sum(times) if times else None,
        "train_time_per_fold_s": sum(times) / len(times) if times else None,
        "seed": config.get("seed"),
        "prepared": _prepared(config, folds_json),
        "errors": _errors(run_dir, checks),
        "integrity": checks,
        **cost,
        "test_views": views,
        "gmacs_test": cost["gmacs"] * views if cost.get("gmacs") is not None else None,
    }


def _label(f: dict, multi: bool) -> str:
    return f"{f['seed']}/{f['fold']}" if multi else str(f["fold"])


def write_report(run_dir: str | os.PathLike, *, force: bool = False) -> dict:
    """Write ``RUN/results.json``, ``RUN/report.md``, the PNG plots and ``RUN/errors/`` strips;
    return the results dict. ``force``: report folds that fail the integrity checks, saying so.

    Holds the run directory's lock meanwhile (:mod:`fervid.rundir.lock`): one writer at a time.
    """
    from fervid.rundir.lock import run_files_lock

    with run_files_lock(run_dir):
        return _write_report(run_dir, force)


def _write_report(run_dir: str | os.PathLike, force: bool) -> dict:
    from fervid.results import plots
    from fervid.results.errors_analysis import write_error_strips

    run_dir = Path(run_dir)
    folds = read_fold_results(run_dir)
    results = build_results(run_dir, folds, force=force)
    multi = len(results["seeds"]) > 1
    done = f"{results['n_folds']}/{results['n_folds_expected']} folds" + (
        f", {len(results['seeds'])} seeds" if multi else ""
    )
    title = f"{results['model']} on {results['dataset']} ({done})"
    plots.plot_confusion(
        results["confusion_matrix_sum"],
        results["classes"],
        run_dir / PLOTS["confusion"],
        title=f"{title}\nsummed confusion, % of true class",
    )
    plots.plot_fold_bars(
        [{**f, "fold": _label(f, multi)} for f in results["folds"]],
        results["mean"],
        run_dir / PLOTS["folds"],
        title=title,
        xlabel="seed/fold" if multi else "fold",
    )
    made = {"confusion": PLOTS["confusion"], "folds": PLOTS["folds"]}
    histories = {_label(f, multi): f.get("history") or [] for f in folds}
    if plots.plot_curves(histories, run_dir / PLOTS["curves"], title=f"{title}: training curves"):
        made["curves"] = PLOTS["curves"]
    results["plots"] = made
    if results["errors"] is not None:
        prepared = _section(read_config(run_dir), "data").get("path")
        strips = {}
        if isinstance(prepared, str) and (Path(prepared) / "manifest.csv").is_file():
            strips = write_error_strips(prepared, results["errors"]["hardest"], run_dir / ERRORS_DIR)
        results["errors"]["strips"] = {c: f"{ERRORS_DIR}/{name}" for c, name in strips.items()}
    atomic_write_bytes(
        run_dir / "results.json", (json.dumps(results, indent=2) + "\n").encode(), what="the run's results"
    )
    atomic_write_bytes(run_dir / "report.md", render_markdown(results).encode())
    return results
