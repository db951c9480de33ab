"""`fervid train --resume` after a SIGKILL mid-epoch of fold 2 equals an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from tiny_prepared import RESUMABLE_C3D, make_prepared, train_cmd

# Runs `fervid train` with one extra callback that SIGKILLs the process after fold 2's third step:
# one step past its mid-epoch checkpoint (step 2), so resuming must redo lost work. Killing from
# inside makes the kill point the same on every machine, however fast.
KILLER = """
import os, signal, sys
from pathlib import Path
import lightning as L
from fervid.cli import main
from fervid.train import fold

class KillAfterStep3OfFold2(L.Callback):
    def __init__(self, fdir):
        self.fdir = Path(fdir)
    def on_train_batch_end(self, trainer, *args):
        if self.fdir.name == "fold_01" and trainer.global_step == 3:
            os.kill(os.getpid(), signal.SIGKILL)

make_trainer = fold.make_trainer
fold.make_trainer = lambda config, fdir, callbacks: make_trainer(config, fdir, [*callbacks, KillAfterStep3OfFold2(fdir)])
sys.exit(main(sys.argv[1:]))
"""


def fold_outcomes(run_dir):
    folds = []
    for i in range(2):
        r = json.loads((run_dir / f"fold_{i:02d}" / "result.json").read_text())
        folds.append({k: r[k] for k in ("accuracy", "uar", "macro_f1", "confusion_matrix", "selection", "history")})
    return folds


@pytest.mark.slow  # subprocess trainings, one killed
def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    make_prepared(tmp_path / "data")
    (tmp_path / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: c3d}\n")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    full = subprocess.run(train_cmd(tmp_path, tmp_path / "full"), env=env, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr[-2000:]

    killed = tmp_path / "killed"
    (tmp_path / "killer.py").write_text(KILLER)
    proc = subprocess.run(
        train_cmd(tmp_path, killed, launcher=(str(tmp_path / "killer.py"),)), env=env, capture_output=True, text=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (killed / "fold_00" / "result.json").exists()
    assert (killed / "fold_01" / "last.ckpt").exists()  # the mid-epoch checkpoint it resumes from
    assert not (killed / "fold_01" / "result.json").exists()

    resumed = subprocess.run(train_cmd(tmp_path, killed, "--resume"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "fold 0: finished earlier, skipped" in resumed.stdout
    assert "fold 1:" in resumed.stdout and "(resuming)" in resumed.stdout
    assert fold_outcomes(killed) == fold_outcomes(tmp_path / "full")  # exactly, history included
    a, b = (json.loads((d / "results.json").read_text()) for d in (tmp_path / "full", killed))
    drop_time = lambda folds: [{k: v for k, v in f.items() if k != "train_time_s"} for f in folds]
    assert a["mean"] == b["mean"] and drop_time(a["folds"]) == drop_time(b["folds"])


def test_lightning_floor_has_what_resume_relies_on():
    """pyproject's floor must be a Lightning with what this resume logic uses: Trainer.fit's
    `weights_only` (new in 2.6.0; under 2.5.5 the test above fails with a TypeError) and no
    on_train_epoch_start on a mid-epoch restart (2.5.0's restarted_mid_epoch), which keeps
    FoldProgress's running sums."""
    import inspect
    from pathlib import Path

    import lightning as L
    import tomllib
    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    req = next(Requirement(d) for d in pyproject["project"]["dependencies"] if Requirement(d).name == "lightning")
    floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert floors and min(floors) >= Version("2.6.0"), req
    assert "weights_only" in inspect.signature(L.Trainer.fit).parameters


def test_multi_seed_study_layout_summary_and_resume_after_a_crash(tmp_path, monkeypatch):
    """protocol.seeds [0, 1]: seed_S/fold_XX folders, the same test folds for every seed, the mean
    over seeds with the std across seeds; a run that dies mid-epoch in seed 1 resumes (in
    process, from its mid-epoch last.ckpt) to exactly the uninterrupted run's results."""
    import lightning as L
    import pytest

    from fervid.train import fold as fold_module
    from fervid.train import run
    from fervid.train.config import load_config

    make_prepared(tmp_path / "data", subjects=6)
    (tmp_path / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: c3d}\n")
    config = lambda: load_config(
        tmp_path / "cfg.yaml",
        [  # noqa: E731
            *RESUMABLE_C3D,
            f"data.path={tmp_path / 'data'}",
            "protocol.folds=2",
            "epochs=1",
            "protocol.seeds=[0, 1]",
            "protocol.val_subjects=0.34",
        ],
    )
    full = run.train_run(config(), tmp_path / "full")
    doc = json.loads((tmp_path / "full" / "folds.json").read_text())
    assert doc["seeds"] == [0, 1] and [(f["seed"], f["fold"]) for f in doc["folds"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [f["test_subjects"] for f in doc["folds"][:2]] == [f["test_subjects"] for f in doc["folds"][2:]]
    assert sorted(p.relative_to(tmp_path / "full").as_posix() for p in (tmp_path / "full").glob("seed_*/fold_*")) == [
        "seed_0/fold_00",
        "seed_0/fold_01",
        "seed_1/fold_00",
        "seed_1/fold_01",
    ]
    assert not list((tmp_path / "full").glob("fold_*"))
    assert [p["seed"] for p in full["per_seed"]] == [0, 1] and full["n_folds"] == 4
    seed_means = [p["mean"]["accuracy"] for p in full["per_seed"]]
    assert full["mean"]["accuracy"] == pytest.approx(sum(seed_means) / 2)
    assert full["std_seeds"]["accuracy"] == pytest.approx(abs(seed_means[0] - seed_means[1]) / 2**0.5)
    assert "mean over 2 seeds" in (tmp_path / "full" / "report.md").read_text()

    class Crash(L.Callback):
        def __init__(self, fdir):
            self.fdir = fdir

        def on_train_batch_end(self, trainer, *args):
            if self.fdir.as_posix().endswith("seed_1/fold_00") and trainer.global_step == 3:
                raise RuntimeError("simulated crash")

    make_trainer = fold_module.make_trainer
    monkeypatch.setattr(fold_module, "make_trainer", lambda c, fdir, cbs: make_trainer(c, fdir, [*cbs, Crash(fdir)]))
    with pytest.raises(RuntimeError, match="simulated crash"):
        run.train_run(config(), tmp_path / "crashed")
    assert (tmp_path / "crashed" / "seed_1" / "fold_00" / "last.ckpt").is_file()
    monkeypatch.setattr(fold_module, "make_trainer", make_trainer)
    said = []
    resumed = run.train_run(config(), tmp_path / "crashed", resume=True, log=said.append)
    assert "seed 0 fold 1: finished earlier, skipped" in said and any("(resuming)" in s for s in said)
    for seed in (0, 1):
        for fold in (0, 1):
            a, b = (
                json.loads((tmp_path / run / f"seed_{seed}" / f"fold_{fold:02d}" / "result.json").read_text())
                for run in ("full", "crashed")
            )
            assert {k: v for k, v in a.items() if k != "train_time_s"} == {
                k: v for k, v in b.items() if k != "train_time_s"
            }
    assert (resumed["mean"], resumed["std"], resumed["std_seeds"]) == (full["mean"], full["std"], full["std_seeds"])
