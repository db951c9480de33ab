"""Controls for the synthetic demo: the task must be learnable but not trivial.

Trains one tiny model (``synth/<model>`` config, subject-independent k-fold) three ways on a
prepared synthetic dataset and prints accuracy / UAR (mean ± std over folds):

- ``real``: as the demo does;
- ``first frame``: every clip cut to its first (neutral) frame, which sampling then repeats, so
  no expression is visible: should fall near chance (1/6);
- ``shuffled labels``: trained on labels permuted across clips, scored on the true labels of
  the same test subjects: should fall near chance.

Usage: python benchmarks/demo_controls.py PREPARED [--model c3d] [--out controls] [--set k=v ...]
(PREPARED: e.g. fervid-demo/prepared from `fervid demo`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fervid.data.manifest import read_manifest, read_meta, write_manifest, write_meta
from fervid.results.evaluate import evaluate_checkpoint
from fervid.train.config import load_config
from fervid.train.run import train_run


def variant(src: Path, dst: Path, kind: str, seed: int = 0) -> Path:
    """A copy of prepared dir ``src`` with first-frame clips or shuffled labels."""
    if (dst / "manifest.csv").is_file():
        return dst
    records = read_manifest(src)
    (dst / "clips").mkdir(parents=True, exist_ok=True)
    if kind == "first":
        for r in records:
            np.save(dst / r.file, np.load(src / r.file)[:1])  # (1, H, W, 3): the neutral frame
        records = [replace(r, n_frames=1) for r in records]
    else:
        for r in records:
            shutil.copyfile(src / r.file, dst / r.file)
        labels = np.random.default_rng(seed).permutation([r.label for r in records])
        records = [replace(r, label=str(l)) for r, l in zip(records, labels)]
    write_manifest(dst, records)
    meta = read_meta(src)
    meta.pop("format", None)
    write_meta(dst, meta)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("prepared", type=Path)
    ap.add_argument("--model", default="c3d")
    ap.add_argument("--out", type=Path, default=Path("controls"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    rows = []
    for name, data in (
        ("real", args.prepared),
        ("first frame", variant(args.prepared, args.out / "first_frame", "first")),
        ("shuffled labels", variant(args.prepared, args.out / "shuffled", "shuffle")),
    ):
        t = time.perf_counter()
        run_dir = args.out / "runs" / name.replace(" ", "_")
        config = load_config(
            f"synth/{args.model}", [f"data.path={data.resolve()}", "trainer.progress_bar=false", *args.overrides]
        )
        results = train_run(config, run_dir, resume=True)
        folds = results["folds"]
        if name == "shuffled labels":  # score against the true labels of the same test subjects
            folds = [
                evaluate_checkpoint(
                    run_dir / f"fold_{f['fold']:02d}" / "model.safetensors",
                    args.prepared,
                    fold=f["fold"],
                    run_dir=run_dir,
                )
                for f in folds
            ]
        acc, uar = [f["accuracy"] for f in folds], [f["uar"] for f in folds]
        rows.append((name, acc, uar, time.perf_counter() - t))

    print(f"model {args.model}, {len(rows[0][1])} subject-independent folds, chance = 16.7 %")
    print("| input | accuracy % | UAR % | time |")
    print("|---|---:|---:|---:|")
    for name, acc, uar, secs in rows:
        ms = lambda v: f"{100 * statistics.mean(v):.1f} ± {100 * statistics.stdev(v):.1f}"
        print(f"| {name} | {ms(acc)} | {ms(uar)} | {secs:.0f} s |")


if __name__ == "__main__":
    main()
