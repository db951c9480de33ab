"""Merge a run's fold results into ``results.json``, ``report.md`` and PNG plots.

Folds are read from ``RUN/fold_XX/result.json`` (``RUN/seed_S/fold_XX/`` with several seeds)
whatever machine wrote them, so folds trained elsewhere with ``--fold I`` into copies of the
same run directory merge by copying their fold folders together and running ``fervid report
RUN``. Each fold is checked against ``folds.json`` first (seed, rule, test subjects, in its
result.json and its checkpoint): a fold of another run is refused, naming it. A run with folds
missing is reported as such ("6/10 folds", ``"complete": false``); its mean is over the folds
present. The Markdown is fervid.engine.report_md's; the error analysis fervid.engine.errors_analysis's.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fervid.checkpoint import CheckpointMeta, atomic_write_bytes
from fervid.engine import layout
from fervid.engine.metrics import summarize_seeds
from fervid.engine.protocol import fold_entries, protocol_name, subjects_sha1
from fervid.engine.report_md import _fmt_selection, render_markdown
from fervid.errors import FervidError

FOLD_KEYS = ("fold", "accuracy", "uar", "macro_f1", "confusion_matrix", "n_test")
FOLD_EXTRAS = ("seed", "selection", "selected_epoch", "epochs_run", "train_time_s")  # copied when present
PLOTS = {"confusion": "confusion_matrix.png", "folds": "folds.png", "curves": "curves.png"}
ERRORS_DIR = "errors"  # RUN/errors/<clip_id>.png: frame strips of the clips most often wrong


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FervidError(f"{path}: missing") from None
    except (OSError, ValueError) as e:
        raise FervidError(f"{path}: unreadable JSON ({e})") from None


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


def read_fold_results(run_dir: Path) -> list[dict]:
    """Every fold's ``result.json``, checked against the fold-result schema and against
    ``folds.json`` (:func:`check_fold`), in (seed, fold) order; each carries its ``seed``."""
    doc = _read_json(run_dir / "folds.json") if (run_dir / "folds.json").is_file() else None
    results: dict[tuple, dict] = {}
    for seed, fold, fdir in layout.fold_dirs(run_dir):
        path = fdir / "result.json"
        if not path.is_file():
            continue
        r = _read_json(path)
        missing = [k for k in FOLD_KEYS if not isinstance(r, dict) or k not in r]
        if missing:
            raise FervidError(f"{path}: fold result lacks {', '.join(missing)}")
        cm = r["confusion_matrix"]
        if not (
            isinstance(cm, list)
            and cm
            and all(isinstance(row, list) and len(row) == len(cm) for row in cm)
            and all(isinstance(v, int) and v >= 0 for row in cm for v in row)
        ):
            raise FervidError(f"{path}: confusion_matrix is not a square matrix of counts")
        if sum(map(sum, cm)) != r["n_test"]:
            raise FervidError(f"{path}: confusion matrix counts {sum(map(sum, cm))} clips, n_test says {r['n_test']}")
        if int(r["fold"]) != fold:
            raise FervidError(f"{path}: says fold {r['fold']}, but lies in {fdir.name}")
        if doc is not None:
            check_fold(path, r, seed, doc)
        r = {**r, "seed": seed if seed is not None else r.get("seed", doc.get("seed") if doc else None)}
        results[(r["seed"] or 0, fold)] = r
    return [results[k] for k in sorted(results)]


def _mismatch(path: Path, what: str, got, want) -> FervidError:
    return FervidError(
        f"{path}: {what} {got} does not match folds.json's {want}; this fold comes from "
        "another run (remove it, or report it in its own run directory)"
    )


def check_fold(path: Path, result: dict, seed: int | None, doc: dict) -> None:
    """Refuse a fold whose result.json or checkpoint disagrees with folds.json on the seed, the
    rule or the test subjects (a fold folder copied in from another run); keys a file does not
    record (runs older than the key) are not checked."""
    seeds = doc.get("seeds") or [doc.get("seed")]
    if seed is None and len(seeds) > 1:
        raise FervidError(
            f"{path}: a fold_XX/ folder, but folds.json lists seeds {seeds}: several seeds live in seed_S/fold_XX/"
        )
    want_seed = seed if seed is not None else seeds[0]
    if want_seed not in seeds:
        raise _mismatch(path, "seed", want_seed, f"seeds {seeds}")
    entry = next((e for e in fold_entries(doc) if e["fold"] == int(result["fold"]) and e["seed"] == want_seed), None)
    if entry is None:
        raise FervidError(
            f"{path}: fold {result['fold']} of seed {want_seed}, which folds.json does not list; "
            "this fold comes from another run"
        )
    want = {"seed": want_seed, "rule": doc.get("rule"), "test subjects": subjects_sha1(entry["test_subjects"])}
    got = {"seed": result.get("seed"), "rule": result.get("rule"), "test subjects": result.get("test_subjects_sha1")}
    meta = read_checkpoint_meta(path.parent / "model.safetensors")
    sources = [(path, got)]
    if meta is not None:
        subjects = meta.extra.get("test_subjects")
        sources.append(
            (
                path.parent / "model.safetensors",
                {
                    "seed": meta.extra.get("seed"),
                    "rule": meta.extra.get("rule"),
                    "test subjects": subjects_sha1(subjects) if isinstance(subjects, list) else None,
                },
            )
        )
    for where, values in sources:
        for key, value in values.items():
            if value is not None and value != want[key]:
                shown = (repr(value), repr(want[key])) if key == "rule" else (value, want[key])
                raise _mismatch(where, key, *shown)


def read_checkpoint_meta(path: Path) -> CheckpointMeta | None:
    """Metadata of a fervid checkpoint without loading its tensors (a header read)."""
    from safetensors import safe_open

    if not Path(path).is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            return CheckpointMeta(**json.loads((f.metadata() or {})["fervid"]))
    except Exception:  # absent or foreign checkpoints only cost the report its model details
        return None


def _fold_checkpoints_meta(run_dir: Path) -> CheckpointMeta | None:
    """The fold checkpoints' shared metadata; folds of different models or classes are an error
    (fold folders of two runs copied together would otherwise average unlike things)."""
    first: tuple[Path, CheckpointMeta] | None = None
    for path in layout.files(run_dir, "model.safetensors"):
        meta = read_checkpoint_meta(path)
        if meta is None:
            continue
        if first is None:
            first = (path, meta)
            continue
        for key in ("model", "classes", "num_frames", "image_size", "model_kwargs"):
            if getattr(meta, key) != getattr(first[1], key):
                raise FervidError(
                    f"{path}: {key} {getattr(meta, key)!r} differs from {first[0]}'s {getattr(first[1], key)!r}; "
                    "folds of different runs are mixed in one run directory"
                )
    return first[1] if first else None


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


def _protocol(folds_json: dict) -> tuple[str, dict]:
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
    }
    return protocol_name(rule, k), split


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


def _errors(run_dir: Path) -> dict | None:
    from fervid.engine.errors_analysis import error_analysis

    files = layout.files(run_dir, "predictions.csv")
    return error_analysis(files) if files else None


def build_results(run_dir: str | os.PathLike, folds: list[dict] | None = None) -> dict:
    """The ``results.json`` document of a run (nothing written); ``folds`` as read by
    :func:`read_fold_results` (read here when ``None``). Schema: docs/reports.md."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    folds_json = _read_json(run_dir / "folds.json")
    folds = read_fold_results(run_dir) if folds is None else folds
    if not folds:
        raise FervidError(f"{run_dir}: no fold result (fold_XX/result.json) yet; nothing to report")
    meta = _fold_checkpoints_meta(run_dir)
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
    protocol, split = _protocol(folds_json)
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
        "n_test_total": sum(f["n_test"] for f in folds),
        "confusion_matrix_sum": summed,
        "train_time_s": sum(times) if times else None,
        "train_time_per_fold_s": sum(times) / len(times) if times else None,
        "seed": config.get("seed"),
        "prepared": _prepared(config, folds_json),
        "errors": _errors(run_dir),
        **cost,
        "test_views": views,
        "gmacs_test": cost["gmacs"] * views if cost.get("gmacs") is not None else None,
    }


def _label(f: dict, multi: bool) -> str:
    return f"{f['seed']}/{f['fold']}" if multi else str(f["fold"])


def write_report(run_dir: str | os.PathLike) -> dict:
    """Write ``RUN/results.json``, ``RUN/report.md``, the PNG plots and ``RUN/errors/`` strips;
    return the results dict.

    Holds the run directory's lock meanwhile (:mod:`fervid.engine.runlock`): one writer at a time.
    """
    from fervid.engine.runlock import run_files_lock

    with run_files_lock(run_dir):
        return _write_report(run_dir)


def _write_report(run_dir: str | os.PathLike) -> dict:
    from fervid.engine import plots
    from fervid.engine.errors_analysis import write_error_strips

    run_dir = Path(run_dir)
    folds = read_fold_results(run_dir)
    results = build_results(run_dir, folds)
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
