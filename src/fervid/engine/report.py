"""Merge a run's fold results into ``results.json``, ``report.md`` and PNG plots.

Folds are read from ``RUN/fold_XX/result.json`` whatever machine wrote them, so folds trained
elsewhere with ``--fold I`` into copies of the same run directory merge by copying their
``fold_XX`` folders together and running ``fervid report RUN``. A run with folds missing is
reported as such ("6/10 folds", ``"complete": false``); its mean is over the folds present.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fervid.checkpoint import CheckpointMeta, atomic_write_bytes
from fervid.engine.metrics import SUMMARY_KEYS, summarize
from fervid.errors import FervidError

FOLD_KEYS = ("fold", "accuracy", "uar", "macro_f1", "confusion_matrix", "n_test")
FOLD_EXTRAS = ("selection", "selected_epoch", "epochs_run", "train_time_s")  # copied when present
RULES = {  # fervid.data.splits.subject_kfold's rules, in words
    "id": "subjects sorted by ID, fold i = subjects[i::k]",
    "stratified": "whole subjects placed to balance class counts, seeded",
    "fixed": "the dataset's official folds",
}
PLOTS = {"confusion": "confusion_matrix.png", "folds": "folds.png", "curves": "curves.png"}


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
    """Every ``fold_*/result.json`` of a run, checked against the fold-result schema, by fold."""
    results: dict[int, dict] = {}
    for path in sorted(run_dir.glob("fold_*/result.json")):
        r = _read_json(path)
        missing = [k for k in FOLD_KEYS if not isinstance(r, dict) or k not in r]
        if missing:
            raise FervidError(f"{path}: fold result lacks {', '.join(missing)}")
        cm = r["confusion_matrix"]
        if not (isinstance(cm, list) and cm and all(isinstance(row, list) and len(row) == len(cm) for row in cm)
                and all(isinstance(v, int) and v >= 0 for row in cm for v in row)):
            raise FervidError(f"{path}: confusion_matrix is not a square matrix of counts")
        if sum(map(sum, cm)) != r["n_test"]:
            raise FervidError(f"{path}: confusion matrix counts {sum(map(sum, cm))} clips, n_test says {r['n_test']}")
        if int(r["fold"]) in results:
            raise FervidError(f"{path}: fold {r['fold']} appears twice in {run_dir}")
        results[int(r["fold"])] = r
    return [results[k] for k in sorted(results)]


def read_checkpoint_meta(path: Path) -> CheckpointMeta | None:
    """Metadata of a fervid checkpoint without loading its tensors (a header read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return CheckpointMeta(**json.loads((f.metadata() or {})["fervid"]))
    except Exception:  # absent or foreign checkpoints only cost the report its model details
        return None


def _fold_checkpoints_meta(run_dir: Path) -> CheckpointMeta | None:
    """The fold checkpoints' shared metadata; folds of different models or classes are an error
    (fold folders of two runs copied together would otherwise average unlike things)."""
    first: tuple[Path, CheckpointMeta] | None = None
    for path in sorted(run_dir.glob("fold_*/model.safetensors")):
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
        return dict(name=meta.model, num_classes=meta.num_classes, num_frames=meta.num_frames,
                    image_size=meta.image_size, **meta.model_kwargs)
    model, data = _section(config, "model"), _section(config, "data")
    if not model.get("name"):
        return None
    return dict(name=model["name"], num_classes=num_classes, num_frames=data.get("num_frames"),
                image_size=data.get("image_size"), **(model.get("kwargs") or {}))


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
    k = int(folds_json.get("k") or len(folds_json.get("folds", [])))
    tests = [sorted(map(str, f.get("test_subjects", []))) for f in folds_json.get("folds", [])]
    split = {
        "k": k,
        "rule": folds_json.get("rule"),
        "seed": folds_json.get("seed"),
        # Identifies the exact test-subject lists, so runs on different splits are never compared.
        "test_subjects_sha1": hashlib.sha1(json.dumps(tests).encode()).hexdigest()[:12],
    }
    return f"{k}-fold subject-independent", split


def _fmt_selection(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def build_results(run_dir: str | os.PathLike, folds: list[dict] | None = None) -> dict:
    """The ``results.json`` document of a run (nothing written); ``folds`` as read by
    :func:`read_fold_results` (read here when ``None``)."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    folds_json = _read_json(run_dir / "folds.json")
    folds = read_fold_results(run_dir) if folds is None else folds
    if not folds:
        raise FervidError(f"{run_dir}: no fold_*/result.json yet; nothing to report")
    meta = _fold_checkpoints_meta(run_dir)
    dataset, classes = _dataset(config, meta)
    n_classes = len(folds[0]["confusion_matrix"])
    if classes is None:
        classes = [f"class_{i}" for i in range(n_classes)]
    if any(len(f["confusion_matrix"]) != len(classes) for f in folds):
        raise FervidError(f"{run_dir}: fold confusion matrices do not match the {len(classes)} classes {classes}")

    expected = sorted(int(f["fold"]) for f in folds_json.get("folds", []))
    present = [int(f["fold"]) for f in folds]
    stray = sorted(set(present) - set(expected))
    if stray:
        raise FervidError(f"{run_dir / 'folds.json'}: lists no fold {stray[0]}, yet fold_*/result.json has it")
    protocol, split = _protocol(folds_json)
    split["val_subjects"] = _section(config, "protocol").get("val_subjects")
    mean, std = summarize(folds)
    n = len(classes)
    summed = [[sum(f["confusion_matrix"][i][j] for f in folds) for j in range(n)] for i in range(n)]  # (true, pred)
    times = [f["train_time_s"] for f in folds if f.get("train_time_s") is not None]
    return {
        "model": _model_name(config, meta),
        "dataset": dataset,
        "protocol": protocol,
        "classes": classes,
        "folds": [
            {**{k: f[k] for k in FOLD_KEYS}, **{k: f.get(k) for k in FOLD_EXTRAS}}
            for f in folds
        ],
        "mean": mean,
        "std": std,
        "std_convention": "sample std over folds (ddof=1); null for a single fold",
        "split": split,
        "selection": sorted({_fmt_selection(f.get("selection")) for f in folds}),
        "n_folds": len(folds),
        "n_folds_expected": len(expected),
        "complete": len(folds) == len(expected),
        "folds_missing": sorted(set(expected) - set(present)),
        "n_test_total": sum(f["n_test"] for f in folds),
        "confusion_matrix_sum": summed,
        "train_time_s": sum(times) if times else None,
        "train_time_per_fold_s": sum(times) / len(times) if times else None,
        "seed": config.get("seed"),
        **_model_cost(_model_spec(config, meta, len(classes))),
    }


def _val_words(fraction: float | None) -> str:
    if fraction is None:
        return "as recorded in the fold results"
    if not fraction:
        return "none (no validation split)"
    return f"{fraction * 100:g} % of each fold's training subjects, held out"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}"


def _pm(mean: float, std: float | None) -> str:
    """``mean ± std`` in %, or the mean alone where there is no std (one fold)."""
    return _pct(mean) if std is None else f"{_pct(mean)} ± {_pct(std)}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def render_markdown(results: dict) -> str:
    """``report.md``: protocol, per-fold table, mean ± std, summed confusion matrix, plots."""
    r, split = results, results["split"]
    done = f"{r['n_folds']}/{r['n_folds_expected']} folds"
    lines = [f"# {r['model']} on {r['dataset']}: {done}" + ("" if r["complete"] else " (incomplete)"), ""]
    if not r["complete"]:
        missing = r["folds_missing"]
        lines += [f"**Incomplete run**: fold{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} "
                  f"{'have' if len(missing) > 1 else 'has'} no result yet; "
                  f"the mean and std below are over {done} only and are not the {split['k']}-fold result.", ""]
    selection = (r["selection"][0] if len(r["selection"]) == 1
                 else "per fold, listed under the results table")
    lines += [
        "## Protocol",
        "",
        f"- {r['protocol']} cross-validation: {split['k']} folds of subjects "
        f"(rule {split['rule']!r}: {RULES.get(split['rule'], 'as recorded in folds.json')}; seed {split['seed']}; "
        f"test-subject lists sha1 {split['test_subjects_sha1']}); "
        "no subject is on both sides of a fold.",
        f"- Validation: {_val_words(split.get('val_subjects'))}. Model selection: {selection}. "
        "Selection uses only training subjects; "
        "the test fold is scored once, at the end, and chooses nothing.",
        "- Metrics: accuracy = WAR (fraction of test clips correct); UAR = mean recall over the classes "
        "present in the fold's test set; macro-F1 (torchmetrics). Mean over folds, each fold weighted "
        "equally; ± is the sample standard deviation over folds (ddof=1; none for a single fold).",
        f"- Classes ({len(r['classes'])}): {', '.join(r['classes'])}.",
    ]
    if r.get("cost_error"):
        lines.append(f"- Model: parameters and GMACs could not be counted ({r['cost_error']}).")
    elif r.get("params") is not None:
        lines.append(f"- Model: {r['params'] / 1e6:.2f} M parameters, {r['gmacs']:.3g} GMACs per clip "
                     f"({r['input']}, one view, multiply-accumulates).")
    lines += ["", "## Results (%)", "",
              "| fold | n_test | accuracy | UAR | macro-F1 | selected epoch / run | train time |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for f in r["folds"]:
        epochs = f"{f.get('selected_epoch') or '–'} / {f.get('epochs_run') or '–'}"
        lines.append(f"| {f['fold']} | {f['n_test']} | {_pct(f['accuracy'])} | {_pct(f['uar'])} | "
                     f"{_pct(f['macro_f1'])} | {epochs} | {_duration(f.get('train_time_s'))} |")
    m, s = r["mean"], r["std"]
    lines.append(f"| **mean ± std** | {r['n_test_total']} | " + " | ".join(
        f"**{_pm(m[k], s[k])}**" for k in SUMMARY_KEYS) + f" | | {_duration(r['train_time_s'])} total |")
    if len(r["selection"]) > 1:
        lines += ["", "Model selection per fold:", ""]
        lines += [f"- fold {f['fold']}: {_fmt_selection(f['selection'])}" for f in r["folds"]]
    lines += ["", f"## Confusion matrix, summed over {done} (rows = true class, counts)", "",
              "| true \\ predicted | " + " | ".join(r["classes"]) + " | recall |",
              "|---|" + "---:|" * (len(r["classes"]) + 1)]
    for name, row in zip(r["classes"], r["confusion_matrix_sum"]):
        total = sum(row)
        recall = _pct(row[r["classes"].index(name)] / total) if total else "–"
        lines.append(f"| {name} | " + " | ".join(map(str, row)) + f" | {recall} |")
    lines += ["", "## Plots", ""]
    lines += [f"![{key}]({name})" for key, name in PLOTS.items() if key in r.get("plots", {})]
    return "\n".join(lines) + "\n"


def write_report(run_dir: str | os.PathLike) -> dict:
    """Write ``RUN/results.json``, ``RUN/report.md`` and the PNG plots; return the results dict.

    Holds the run directory's lock meanwhile (:mod:`fervid.engine.runlock`): one writer at a time.
    """
    from fervid.engine.runlock import run_files_lock

    with run_files_lock(run_dir):
        return _write_report(run_dir)


def _write_report(run_dir: str | os.PathLike) -> dict:
    from fervid.engine import plots

    run_dir = Path(run_dir)
    folds = read_fold_results(run_dir)
    results = build_results(run_dir, folds)
    title = f"{results['model']} on {results['dataset']} ({results['n_folds']}/{results['n_folds_expected']} folds)"
    plots.plot_confusion(results["confusion_matrix_sum"], results["classes"], run_dir / PLOTS["confusion"],
                         title=f"{title}\nsummed confusion, % of true class")
    plots.plot_fold_bars(results["folds"], results["mean"], run_dir / PLOTS["folds"], title=title)
    made = {"confusion": PLOTS["confusion"], "folds": PLOTS["folds"]}
    histories = {f["fold"]: f.get("history") or [] for f in folds}
    if plots.plot_curves(histories, run_dir / PLOTS["curves"], title=f"{title}: training curves"):
        made["curves"] = PLOTS["curves"]
    results["plots"] = made
    atomic_write_bytes(run_dir / "results.json", (json.dumps(results, indent=2) + "\n").encode(),
                       what="the run's results")
    atomic_write_bytes(run_dir / "report.md", render_markdown(results).encode())
    return results
