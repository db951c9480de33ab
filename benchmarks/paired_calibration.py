"""Calibration of `fervid compare`'s paired tests when a subject's clips are alike.

Each simulated study is a pair of run directories in fervid's own layout (config.yaml,
folds.json, seed_S/fold_XX/{result.json, predictions.csv}), written here, reported with `fervid
report RUN` (as `fervid train` does at its end) and compared by `fervid compare A B` itself
(``fervid.cli.main``, in-process: the CLI's code path without an interpreter start per study).
The rates are read back from the comparison's CSV.

Design (one study): 80 subjects × 6 clips (one per class, 6 classes), 10 subject folds (rule
``id``: fold i = subjects[i::10]), 2 seeds. Per clip and model, P(correct) = sigmoid(0.85 + a_s
+ c_i ± g_s / 2 + h_mi + effect · [run B]): a_s ~ N(0, 1) how hard subject s is for both
models, c_i ~ N(0, 0.5) how hard clip i is, g_s ~ N(0, sd²) how much subject s favours model B
over A (or A over B) on all of their clips and seeds, h_mi ~ N(0, 0.5) model m's own luck on
clip i (the same in both seeds); each seed then draws each clip's correctness independently.
Under the null (effect 0) neither model is better on average over subjects. The subject-effect
sizes are illustrations of "one person's clips succeed or fail together", not values measured
on real data.

Rejection at the 5 % level, read from the CSV: an interval "rejects" when its 95 % bounds
exclude 0; a p-value when it is below 0.05. With fervid before this change (clip bootstrap,
McNemar per seed with the largest p shown) the columns are ``accuracy_diff_*`` and
``mcnemar_p``; after it (subject cluster bootstrap, sign-flip test over subjects, McNemar on the
pooled discordant clips as a descriptive figure) ``accuracy_diff_*``, ``accuracy_p_value``,
``uar_diff_*``, ``p_value``, ``mcnemar_clip_p``. The script reads whichever are there, so the
same studies (seeded by scenario and study number) run on both versions:

    python benchmarks/paired_calibration.py --label after --out calib_after.json
    PYTHONPATH=/path/to/old/src python benchmarks/paired_calibration.py --label before --out calib_before.json
    python benchmarks/paired_calibration.py --table calib_before.json calib_after.json

Uncertainty: each rate with its exact (Clopper-Pearson) 95 % interval over the studies.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml

CLASSES = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
SUBJECTS, FOLDS, SEEDS = 80, 10, (0, 1)
SCENARIOS = {  # name: (subject sd, effect in logits)
    "null sd 0.5": (0.5, 0.0),
    "null sd 1.0": (1.0, 0.0),
    "null sd 1.5": (1.5, 0.0),
    "power sd 1.0, +0.2 logit": (1.0, 0.2),
    "power sd 1.0, +0.3 logit": (1.0, 0.3),
}


def simulate(sd: float, effect: float, rng: np.random.Generator) -> np.ndarray:
    """Correctness ``(2 models, SUBJECTS, 6 clips, 2 seeds)``."""
    base = 0.85 + rng.normal(0, 1, (SUBJECTS, 1)) + rng.normal(0, 0.5, (SUBJECTS, 6))
    prefer = rng.normal(0, sd, (SUBJECTS, 1)) / 2
    own = rng.normal(0, 0.5, (2, SUBJECTS, 6))
    logits = np.stack([base - prefer + own[0], base + prefer + own[1] + effect])
    p = 1 / (1 + np.exp(-logits))
    return rng.random((2, SUBJECTS, 6, len(SEEDS))) < p[..., None]


def write_run(root: Path, right: np.ndarray, rng: np.random.Generator, fingerprint: str) -> None:
    """One run directory, as `fervid train` writes it (the integrity records where this fervid has them)."""
    from fervid.results.predictions import metrics_of, write_predictions

    try:
        from fervid.rundir.integrity import sha256_file
    except ImportError:  # fervid before the integrity checks
        sha256_file = None
    root.mkdir(parents=True)
    subjects = [f"S{s:03d}" for s in range(SUBJECTS)]
    config = {
        "dataset": "calib",
        "seed": 0,
        "model": {"name": "c3d", "kwargs": {}},
        "data": {"path": str(root.parent / "absent"), "num_frames": 8, "image_size": 32},
        "protocol": {"folds": FOLDS, "rule": "id", "val_subjects": 0, "seeds": list(SEEDS)},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    tests = [subjects[i::FOLDS] for i in range(FOLDS)]
    prepared = {
        "dataset": "calib",
        "size": 32,
        "preprocess": {},
        "options": {},
        "classes": CLASSES,
        "n_clips": SUBJECTS * 6,
        "subject_ids": True,
        "fingerprint": fingerprint,
    }
    folds = [
        {"seed": s, "fold": i, "train_subjects": [], "val_subjects": [], "test_subjects": tests[i]}
        for s in SEEDS
        for i in range(FOLDS)
    ]
    doc = {"rule": "id", "rule_requested": "id", "k": FOLDS, "seed": 0, "seeds": list(SEEDS), "val_subjects": 0}
    (root / "folds.json").write_text(
        json.dumps({**doc, "test_views": 1, "test_crops": 1, "prepared": prepared, "folds": folds})
    )
    from fervid.rundir.folds import subjects_sha1

    for k, seed in enumerate(SEEDS):
        for i in range(FOLDS):
            rows = []
            for s in range(i, SUBJECTS, FOLDS):
                for c, label in enumerate(CLASSES):
                    ok = right[s, c, k]
                    wrong = [x for x in CLASSES if x != label][rng.integers(0, 5)]
                    predicted = label if ok else wrong
                    probs = [0.6 if x == predicted else 0.08 for x in CLASSES]
                    rows.append(
                        {
                            "clip_id": f"S{s:03d}_{label}",
                            "subject": subjects[s],
                            "label": label,
                            "predicted": predicted,
                            "probs": probs,
                            "fold": i,
                            "seed": seed,
                        }
                    )
            fdir = root / f"seed_{seed}" / f"fold_{i:02d}"
            fdir.mkdir(parents=True)
            write_predictions(fdir / "predictions.csv", rows, CLASSES)
            result = {
                "fold": i,
                "seed": seed,
                **metrics_of(rows, CLASSES),
                "selection": "last epoch (1; no validation split)",
                "selected_epoch": 1,
                "epochs_run": 1,
                "train_time_s": 1.0,
                "rule": "id",
                "test_subjects_sha1": subjects_sha1(tests[i]),
                "test_views": 1,
                "test_crops": 1,
                "predictions": "predictions.csv",
            }
            if sha256_file is not None:
                result.update(predictions_sha256=sha256_file(fdir / "predictions.csv"), data_fingerprint=fingerprint)
            (fdir / "result.json").write_text(json.dumps(result))


def _float(row: dict, key: str) -> float | None:
    return float(row[key]) if row.get(key) not in (None, "") else None


def one_study(args: tuple[str, int]) -> dict:
    """Write study ``index`` of ``scenario``, run `fervid compare A B`, return what it reported."""
    from fervid.cli import main

    scenario, index = args
    sd, effect = SCENARIOS[scenario]
    rng = np.random.default_rng([list(SCENARIOS).index(scenario), index])
    right = simulate(sd, effect, rng)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for m, name in enumerate("ab"):
            write_run(tmp / name, right[m], rng, fingerprint="f" * 64)
        with contextlib.redirect_stdout(io.StringIO()):  # `fervid train` ends with the report; then compare
            for command in (["report", str(tmp / "a")], ["report", str(tmp / "b")]):
                if main(command):
                    raise RuntimeError(f"fervid {' '.join(command)} failed")
            if main(["compare", str(tmp / "a"), str(tmp / "b"), "--out", str(tmp / "t.md")]):
                raise RuntimeError("fervid compare failed")
        with open(tmp / "t.csv", newline="") as f:
            row = next(r for r in csv.DictReader(f) if r["paired_note"] != "baseline")  # the run tested
    out = {"true_diff": float(right[1].mean() - right[0].mean())}
    for key in (
        "accuracy_diff",
        "accuracy_diff_low",
        "accuracy_diff_high",
        "uar_diff",
        "uar_diff_low",
        "uar_diff_high",
    ):
        out[key] = _float(row, f"{key}_pct")
    for key in ("mcnemar_p", "p_value", "accuracy_p_value", "mcnemar_clip_p"):
        out[key] = _float(row, key)
    return out


def run(label: str, studies: dict[str, int], workers: int) -> dict:
    import fervid
    from fervid.machine import describe, describe_line

    jobs = [(s, i) for s, n in studies.items() for i in range(n)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(one_study, jobs, chunksize=4))
    results: dict[str, list] = {s: [] for s in studies}
    for (s, _), r in zip(jobs, found):
        results[s].append(r)
    return {
        "label": label,
        "fervid": f"{fervid.__version__} ({Path(fervid.__file__).parent})",
        "machine": describe_line(describe()),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(time.perf_counter() - start, 1),
        "studies": results,
    }


def _rate(hits: int, n: int) -> str:
    from scipy.stats import binomtest

    ci = binomtest(hits, n).proportion_ci(method="exact")
    return f"{100 * hits / n:.1f} % [{100 * ci.low:.1f}, {100 * ci.high:.1f}]"


def _rejects(r: dict, key: str) -> bool | None:
    if key.endswith("_ci"):
        low, high = r[f"{key[:-3]}_low"], r[f"{key[:-3]}_high"]
        return None if low is None else (low > 0 or high < 0)
    return None if r.get(key) is None else r[key] < 0.05


COLUMNS = {  # (run label, key): header
    ("before", "accuracy_diff_ci"): "before: clip bootstrap, Δ acc.",
    ("before", "uar_diff_ci"): "before: clip bootstrap, Δ UAR",
    ("before", "mcnemar_p"): "before: McNemar (largest p of the 2 seeds)",
    ("after", "accuracy_diff_ci"): "after: subject bootstrap (BCa), Δ acc.",
    ("after", "uar_diff_ci"): "after: subject bootstrap (BCa), Δ UAR",
    ("after", "accuracy_p_value"): "after: sign-flip over subjects, Δ acc.",
    ("after", "p_value"): "after: sign-flip over subjects, Δ UAR (`p_value`)",
    ("after", "mcnemar_clip_p"): "after: McNemar on pooled clips (descriptive)",
}


def table(docs: list[dict]) -> str:
    by = {d["label"]: d for d in docs}
    heads = [h for (label, _), h in COLUMNS.items() if label in by]
    lines = [
        "| scenario | studies | mean Δ acc. (pts) | " + " | ".join(heads) + " | mean 95 % CI width, Δ acc. (pts) |",
        "|---|---:|---:|" + "---:|" * len(heads) + "---|",
    ]
    first = next(iter(by.values()))
    for scenario in first["studies"]:
        n = len(first["studies"][scenario])
        true = np.mean([r["true_diff"] for r in first["studies"][scenario]]) * 100
        cells = []
        for (label, key), _ in COLUMNS.items():
            if label not in by:
                continue
            got = [_rejects(r, key) for r in by[label]["studies"][scenario]]
            cells.append("–" if None in got else _rate(sum(got), len(got)))
        widths = [
            f"{label} {np.mean([r['accuracy_diff_high'] - r['accuracy_diff_low'] for r in d['studies'][scenario]]):.1f}"
            for label, d in by.items()
        ]
        lines.append(f"| {scenario} | {n} | {true:+.1f} | " + " | ".join(cells) + f" | {', '.join(widths)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", default="after", help="before or after (the fervid version on the path)")
    ap.add_argument("--null", type=int, default=300, help="studies per null scenario")
    ap.add_argument("--power", type=int, default=150, help="studies per power scenario")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, help="JSON of every study's figures")
    ap.add_argument("--table", nargs="+", type=Path, metavar="JSON", help="print the table of earlier runs")
    args = ap.parse_args()
    if args.table:
        print(table([json.loads(p.read_text()) for p in args.table]))
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one study per worker process
    studies = {s: args.power if s.startswith("power") else args.null for s in SCENARIOS}
    doc = run(args.label, studies, args.workers)
    if args.out:
        args.out.write_text(json.dumps(doc))
    print(f"# {doc['label']}: fervid {doc['fervid']}; {doc['machine']}; {doc['date']}; {doc['seconds']} s")
    print(table([doc]))


if __name__ == "__main__":
    main()
