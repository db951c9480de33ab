"""The demo's pipeline: the whole study on built-in synthetic data, on a CPU.

Synthesise expression videos (Oulu-CASIA layout) → prepare them (Haar face detection, crops) →
train the six models in their tiny ``synth/*`` configs with subject-independent k-fold →
the comparison table, CSV and bar chart. ``QUICK`` is ``--quick``'s setting: one model, fewer
folds. The ``fervid demo`` command is in ``demo_cli``.
"""

from __future__ import annotations

import time

MODELS = ("c3d", "r2plus1d", "tsm", "cnn_lstm", "timesformer", "vivit")
QUICK = {"models": ("c3d",), "folds": 2}


def run_demo(out, *, models=MODELS, folds: int | None = None, subjects: int = 60, seed: int = 0,
             workers: int = 2, epochs: int | None = None, log=lambda s: None) -> list[dict]:
    """Run the demo into ``out``; returns the comparison rows (see ``fervid.engine.compare``).

    Progress lines (data summaries, one per fold and model) go to ``log``.

    Steps already done (a synthetic set with ``synth.json``, a prepared set with its manifest,
    finished folds) are reused, so an interrupted demo continues where it stopped.
    """
    from pathlib import Path

    from fervid.data.synthetic import generate
    from fervid.engine.compare import compare_runs
    from fervid.engine.config import load_config
    from fervid.engine.fit import train_run

    out = Path(out)
    synth, prepared = out / "synth", out / "prepared"
    t0 = time.perf_counter()
    if not (synth / "synth.json").is_file():
        # Apex intensities from 0.5: at 48 px the weakest expressions are barely visible, and tiny
        # models trained from scratch in minutes need a task they can learn (docs/BENCHMARKS.md).
        log(generate(synth, subjects=subjects, frames=(12, 20), size=(160, 120), seed=seed,
                     intensity=(0.5, 1.0), workers=workers))
    if not (prepared / "manifest.csv").is_file():
        from fervid.data.prepare import prepare

        # margin 0: the crop is the detected face box, so the 48-px clips spend their pixels on the face
        p = prepare(synth, prepared, "oulu", size=48, detector="haar", margin=0.0, workers=workers, progress=False)
        log(f"prepared {p.written} face-cropped clips ({p.skipped} skipped, see {prepared / 'skipped.csv'}) "
            f"in {p.seconds:.0f} s")
    log(f"data ready in {time.perf_counter() - t0:.0f} s")
    runs = []
    for name in models:
        t = time.perf_counter()
        overrides = [f"data.path={prepared.resolve()}", "trainer.progress_bar=false", f"seed={seed}"]
        if folds:
            overrides.append(f"protocol.folds={folds}")
        if epochs:
            overrides.append(f"epochs={epochs}")
        run_dir = out / "runs" / (name if folds is None else f"{name}-{folds}fold")
        r = train_run(load_config(f"synth/{name}", overrides), run_dir, resume=True,
                      log=lambda s, name=name: log(f"  {name} {s}"))
        log(f"{name}: accuracy {r['mean']['accuracy']:.1%}, UAR {r['mean']['uar']:.1%} over {r['n_folds']} folds "
            f"({time.perf_counter() - t:.0f} s)")
        runs.append(run_dir)
    return compare_runs(runs, out / "results.md")
