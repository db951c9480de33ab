"""The demo's pipeline: the whole study on built-in synthetic data, on a CPU.

Synthesise expression videos (Oulu-CASIA layout) → prepare them (Haar face detection, crops) →
train the six models in their tiny ``synth/*`` configs with subject-independent k-fold, the
folds side by side in one 1-thread process per CPU (:mod:`fervid.train.fold_jobs`) → the
comparison table, CSV and bar chart, and ``demo.json`` (seeds, machine, times). ``QUICK`` is
``--quick``'s setting: one model, fewer folds. The ``fervid demo`` command is in ``demo_cli``.

Seeds: the synthetic generator's seed picks the subjects and their sequences (``data_seed``);
the training seed (``seed``, the configs' own by default) picks initial weights, batch order and
dropout. The ``synth/*`` settings were tuned on generator seed :data:`TUNING_SEED`'s data; the
demo reports on :data:`DATA_SEED`'s, which no tuning saw (docs/BENCHMARKS.md, "Seeds").
"""

from __future__ import annotations

import json
import time

MODELS = ("c3d", "r2plus1d", "tsm", "cnn_lstm", "timesformer", "vivit")
QUICK = {"models": ("c3d",), "folds": 2}
TUNING_SEED = 0  # generator seed of the data the synth/* configs were tuned on (all tuning to date)
DATA_SEED = 2  # generator seed of the data the demo reports on: never used for tuning
# Longest folds first keeps every process busy to the end (fold times in docs/BENCHMARKS.md).
LONGEST_FIRST = ("r2plus1d", "tsm", "cnn_lstm", "vivit", "timesformer", "c3d")


def run_demo(
    out,
    *,
    models=MODELS,
    folds: int | None = None,
    subjects: int = 60,
    data_seed: int = DATA_SEED,
    seed: int | None = None,
    workers: int = 2,
    jobs: int | None = None,
    epochs: int | None = None,
    log=lambda s: None,
) -> list[dict]:
    """Run the demo into ``out``; returns the comparison rows (see ``fervid.results.compare``).

    ``workers``: processes for synthesis and preparation; ``jobs``: processes training folds
    (one torch thread each; default one per usable CPU). Results do not depend on either.
    Progress lines (the machine, data summaries, one per fold and model) go to ``log``.

    Steps already done (a synthetic set with ``synth.json``, a prepared set with its manifest,
    finished folds) are reused, so an interrupted demo continues where it stopped.
    """
    from pathlib import Path

    from fervid.data.synthetic import generate
    from fervid.errors import FervidError
    from fervid.machine import describe, describe_line
    from fervid.results.compare import compare_runs
    from fervid.train.config import load_config
    from fervid.train.fold_jobs import run_fold_jobs, usable_cpus
    from fervid.train.run import train_run
    from fervid.writes import atomic_write_bytes

    t0 = time.perf_counter()
    machine = describe()  # the GEMM rate beside the times: it scales them to other machines
    log(f"machine: {describe_line(machine)}")
    out = Path(out)
    synth, prepared = out / "synth", out / "prepared"
    jobs = jobs or usable_cpus()
    record = {
        "data_seed": data_seed,
        "subjects": subjects,
        "jobs": jobs,
        "threads_per_job": 1,
        "machine": machine,
        "seconds": {},
    }
    if (synth / "synth.json").is_file():
        made = json.loads((synth / "synth.json").read_text()).get("seed")
        if made != data_seed:
            raise FervidError(f"{synth}: made with generator seed {made}, not {data_seed}; use another --out")
    else:
        # Apex intensities from 0.5: at 48 px the weakest expressions are barely visible, and tiny
        # models trained from scratch in minutes need a task they can learn (docs/BENCHMARKS.md).
        log(
            generate(
                synth,
                subjects=subjects,
                frames=(12, 20),
                size=(160, 120),
                seed=data_seed,
                intensity=(0.5, 1.0),
                workers=workers,
            )
        )
    if not (prepared / "manifest.csv").is_file():
        from fervid.data.prepare import prepare

        # margin 0: the crop is the detected face box, so the 48-px clips spend their pixels on the face
        p = prepare(synth, prepared, "oulu", size=48, detector="haar", margin=0.0, workers=workers, progress=False)
        log(
            f"prepared {p.written} face-cropped clips ({p.skipped} skipped, see {prepared / 'skipped.csv'}) "
            f"in {p.seconds:.0f} s"
        )
    record["seconds"]["data"] = round(time.perf_counter() - t0, 1)
    log(f"data ready in {record['seconds']['data']:.0f} s (generator seed {data_seed})")

    configs, run_dirs = {}, {}
    for name in models:
        overrides = [f"data.path={prepared.resolve()}", "trainer.progress_bar=false"]
        overrides += [f"seed={seed}"] if seed is not None else []
        overrides += [f"protocol.folds={folds}"] if folds else []
        overrides += [f"epochs={epochs}"] if epochs else []
        configs[name] = load_config(f"synth/{name}", overrides)
        run_dirs[name] = out / "runs" / (name if folds is None else f"{name}-{folds}fold")
    record["train_seed"] = sorted({c["seed"] for c in configs.values()})
    order = sorted(models, key=lambda m: LONGEST_FIRST.index(m) if m in LONGEST_FIRST else -1)
    todo = [
        (name, configs[name], run_dirs[name], i) for name in order for i in range(configs[name]["protocol"]["folds"])
    ]
    left = {name: configs[name]["protocol"]["folds"] for name in models}
    spent = dict.fromkeys(models, 0.0)

    def fold_done(name: str, fold: int, lines: list[str], seconds: float) -> None:
        for line in lines:
            log(f"  {name} {line}")
        spent[name] += seconds
        left[name] -= 1
        if left[name] == 0:  # all folds in: merge them into the run's report
            r = train_run(configs[name], run_dirs[name], resume=True)
            log(
                f"{name}: accuracy {r['mean']['accuracy']:.1%}, UAR {r['mean']['uar']:.1%} over "
                f"{r['n_folds']} folds ({spent[name]:.0f} s of fold jobs)"
            )
            record["seconds"][name] = round(spent[name], 1)

    t = time.perf_counter()
    run_fold_jobs(todo, processes=jobs, on_done=fold_done)
    record["seconds"]["training"] = round(time.perf_counter() - t, 1)
    log(
        f"trained {len(todo)} folds of {len(models)} models in {record['seconds']['training']:.0f} s "
        f"({jobs} process{'es' if jobs != 1 else ''} of 1 thread)"
    )
    rows = compare_runs([run_dirs[name] for name in models], out / "results.md")
    record["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    atomic_write_bytes(out / "demo.json", (json.dumps(record, indent=2) + "\n").encode())
    return rows
