"""Does the saliency point at the Action Units? The pointing game and energy ratio on held-out synthetic clips.

    python benchmarks/saliency_pointing.py DEMO_DIR [--models c3d,tsm,...] [--max-clips N] [--out OUT.md]

DEMO_DIR is a ``fervid demo --out DEMO_DIR`` folder (``synth/``, ``prepared/``,
``runs/<model>/fold_XX/model.safetensors``; ``runs/<model>-<k>fold`` from ``--quick`` also
counts). If a model has no run there, the demo's pipeline (``fervid.train.demo.run_demo``, the
``synth/<model>`` configs) runs for the requested models, keeping what is finished; the AU masks
(``synth/AUMasks``, docs/synthetic.md) are written if missing.

For every fold of each model, each clip of that fold's **test subjects** only is explained for
its true class (``fervid.inference.explain.explain_clip``: the model's frames, sampled as in
evaluation), its AU masks are cut with the clip's crop boxes, and every frame with a non-empty
mask is scored (``fervid.inference.pointing``): pointing game (peak within the tolerance of the
mask) and energy ratio (mass share in the mask / the mask's share of the face). The same frames
are scored for a centre prior and a seeded random map. Prints a Markdown table (also written to
``--out``, default DEMO_DIR/saliency_pointing.md) and writes the raw numbers beside it as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from fervid.data.manifest import read_manifest
from fervid.data.synthetic_masks import MASK_DIR, crop_masks, write_au_masks
from fervid.inference.api import load_model
from fervid.inference.explain import explain_clip
from fervid.inference.pointing import centre_prior, default_tolerance, random_map, score_frames
from fervid.inference.saliency import method_name
from fervid.train.demo import MODELS, run_demo


def find_run(demo: Path, model: str) -> Path | None:
    """``runs/<model>`` or, from ``run_demo(..., folds=k)``, ``runs/<model>-<k>fold``, with checkpoints."""
    for run in [demo / "runs" / model, *sorted((demo / "runs").glob(f"{model}-*fold"))]:
        if (run / "folds.json").is_file() and any(run.glob("fold_*/model.safetensors")):
            return run
    return None


def score_run(
    run: Path, prepared: Path, synth: Path, *, max_clips: int | None, tolerance: int | None, seed: int
) -> dict:
    """Pointing and energy of one run's fold checkpoints on their own test subjects, with the baselines."""
    folds = json.loads((run / "folds.json").read_text())["folds"]
    records = read_manifest(prepared)
    rng = np.random.default_rng(seed)
    scores = {k: {"hits": [], "energy": []} for k in ("model", "model_correct", "centre", "random")}
    n_correct, clip_ids = 0, []
    for fold in folds:
        ckpt = run / f"fold_{fold['fold']:02d}" / "model.safetensors"
        if not ckpt.is_file():
            continue
        predictor = load_model(ckpt)
        test = [r for r in records if r.subject in set(map(str, fold["test_subjects"]))]
        for r in test[:max_clips]:
            clip = np.load(prepared / r.file)
            ex = explain_clip(clip, predictor, target=r.label, name=r.clip_id, label=r.label)
            changed, face = (m[ex.frame_index] for m in crop_masks(prepared, r.clip_id, synth))
            tol = default_tolerance(clip.shape[1]) if tolerance is None else tolerance
            side = clip.shape[1]
            baselines = {
                "centre": np.repeat(centre_prior(side)[None], len(face), 0),
                "random": np.stack([random_map(side, rng) for _ in face]),
            }
            correct = ex.predicted == r.label
            for key, maps in (("model", ex.saliency), *baselines.items()):
                for k, v in score_frames(maps, changed, face, tolerance=tol).items():
                    scores[key][k] += v
                    if key == "model" and correct:
                        scores["model_correct"][k] += v
            clip_ids.append(r.clip_id)
            n_correct += correct
    return {
        "clips": len(clip_ids),
        "correct": n_correct,
        "frames": len(scores["model"]["hits"]),
        **{k: summarise(v) for k, v in scores.items()},
        "clip_ids": clip_ids,
    }


def summarise(s: dict) -> dict:
    energy = [e for e in s["energy"] if not math.isnan(e)]
    return {
        "pointing": float(np.mean(s["hits"])) if s["hits"] else None,
        "energy": float(np.mean(energy)) if energy else None,
        "frames": len(s["hits"]),
    }


def _f(x, pct: bool = False) -> str:
    return "–" if x is None else f"{100 * x:.1f}" if pct else f"{x:.2f}"


def render_table(rows: dict[str, dict], tolerance: str) -> str:
    lines = [
        "| model | method | test clips (correct) | frames | pointing: model | centre | random "
        "| model, correct clips | energy ratio: model | centre | random |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {method_name(name)} | {r['clips']} ({r['correct']}) | {r['frames']} | "
            f"{_f(r['model']['pointing'], True)} | {_f(r['centre']['pointing'], True)} | "
            f"{_f(r['random']['pointing'], True)} | {_f(r['model_correct']['pointing'], True)} | "
            f"{_f(r['model']['energy'])} | {_f(r['centre']['energy'])} | {_f(r['random']['energy'])} |"
        )
    lines += [
        "",
        f"Pointing game: % of frames whose saliency peak lies within {tolerance} of the AU mask. "
        "Energy ratio: share of saliency mass inside the mask / the mask's share of the face (1 = spread "
        "evenly over the face). Frames: the model's sampled frames of each held-out clip with a non-empty mask; "
        "maps explain the true class. Baselines on the same frames: centre prior (Gaussian, sigma = side/4), "
        "random map (uniform, seeded).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("demo", type=Path, metavar="DEMO_DIR")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: the demo's six)")
    ap.add_argument("--max-clips", type=int, help="at most N test clips per fold (default: all)")
    ap.add_argument("--tolerance", type=int, help="pointing tolerance in crop pixels (default: 15/224 of the side)")
    ap.add_argument("--seed", type=int, default=0, help="random-map baseline seed")
    ap.add_argument("--out", type=Path, help="Markdown output (default DEMO_DIR/saliency_pointing.md)")
    args = ap.parse_args(argv)

    models = [m for m in args.models.split(",") if m]
    missing = [m for m in models if find_run(args.demo, m) is None]
    if missing:  # the demo's pipeline resumes: finished runs are kept, DEMO_DIR/results.md lists them all
        print(f"# training {', '.join(missing)} with the demo's pipeline in {args.demo}", flush=True)
        run_demo(args.demo, models=tuple(models), log=lambda s: print(f"#   {s}", flush=True))
    synth, prepared = args.demo / "synth", args.demo / "prepared"
    if not (synth / MASK_DIR).is_dir():
        print(f"# writing AU masks: {write_au_masks(synth, workers=os.cpu_count() or 1)} sequences", flush=True)

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    rows, start = {}, time.perf_counter()
    for name in models:
        run = find_run(args.demo, name)
        rows[name] = score_run(run, prepared, synth, max_clips=args.max_clips, tolerance=args.tolerance, seed=args.seed)
        rows[name]["run"] = str(run)
        print(
            f"# {name}: {rows[name]['clips']} clips, {rows[name]['frames']} frames "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    tolerance = f"{args.tolerance} px" if args.tolerance is not None else "15/224 of the crop side (Zhang et al. 2016)"
    table = render_table(rows, tolerance)
    print(table, end="")
    out = args.out or args.demo / "saliency_pointing.md"
    out.write_text(table)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"# wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
