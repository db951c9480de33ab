"""A run's fold results, read and checked before they are merged (fervid.results.report).

Every ``result.json`` (``RUN/fold_XX/`` or ``RUN/seed_S/fold_XX/``) is checked against the
fold-result schema and ``folds.json`` (seed, rule, test subjects, in the result and in the fold
checkpoint): a fold folder copied in from another run is refused, naming it. Fold checkpoints of
different models, classes or sizes in one run directory are refused too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fervid.checkpoint import CheckpointMeta
from fervid.errors import FervidError
from fervid.rundir import layout
from fervid.rundir.folds import fold_entries, subjects_sha1

FOLD_KEYS = ("fold", "accuracy", "uar", "macro_f1", "confusion_matrix", "n_test")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FervidError(f"{path}: missing") from None
    except (OSError, ValueError) as e:
        raise FervidError(f"{path}: unreadable JSON ({e})") from None


def read_fold_results(run_dir: Path) -> list[dict]:
    """Every fold's ``result.json``, checked against the fold-result schema and against
    ``folds.json`` (:func:`check_fold`), in (seed, fold) order; each carries its ``seed``."""
    doc = read_json(run_dir / "folds.json") if (run_dir / "folds.json").is_file() else None
    results: dict[tuple, dict] = {}
    for seed, fold, fdir in layout.fold_dirs(run_dir):
        path = fdir / "result.json"
        if not path.is_file():
            continue
        r = read_json(path)
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


def fold_checkpoints_meta(run_dir: Path) -> CheckpointMeta | None:
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
