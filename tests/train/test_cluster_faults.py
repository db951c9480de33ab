"""What shared GPU machines do to a long run, and that each ends as if it had not happened:
preemption (SIGTERM, SIGUSR1), a second writer, a run directory moved after a SIGKILL, a full
disk, CUDA out of memory. Faults are injected from inside training at a fixed step
(fault_driver.py), so they land at the same point on every machine.

Every run trains fold 1 of 2 only (2 epochs of 6 steps, checkpoints every 2 steps), and is compared
with one uninterrupted run: the fold's result must be identical, history included.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_prepared import RESUMABLE_C3D, make_prepared

from fervid.cli import main

pytestmark = pytest.mark.slow  # subprocess trainings with injected faults

DRIVER = str(Path(__file__).with_name("fault_driver.py"))
KEYS = ("accuracy", "uar", "macro_f1", "confusion_matrix", "selection", "selected_epoch", "history")


def train_args(base: Path, run_dir: Path, *extra) -> list[str]:
    args = [
        "train",
        str(base / "cfg.yaml"),
        "--data",
        str(base / "data"),
        "--folds",
        "2",
        "--fold",
        "1",
        "--epochs",
        "2",
        "--run-dir",
        str(run_dir),
        *extra,
    ]
    for s in RESUMABLE_C3D:
        args += ["--set", s]
    return args


def fervid(args, fault: str | None = None, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    launcher = [DRIVER] if fault else ["-m", "fervid"]
    env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {}), **({"FERVID_FAULT": fault} if fault else {})}
    return subprocess.run(
        [sys.executable, *launcher, *args], env=env, capture_output=True, text=True, check=False, **kw
    )


def outcome(run_dir: Path) -> dict:
    r = json.loads((run_dir / "fold_01" / "result.json").read_text())
    return {k: r[k] for k in KEYS}


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("fervid train:")]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster")
    make_prepared(base / "data")
    (base / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: c3d}\n")
    full = fervid(train_args(base, base / "full"))
    assert full.returncode == 0, full.stderr[-3000:]
    return base


@pytest.mark.parametrize("sig", ["term", "usr1"])
def test_preemption_saves_prints_the_resume_command_and_resumes_exactly(base, tmp_path, sig):
    run = tmp_path / "run"
    proc = fervid(train_args(base, run), fault=f"{sig}:1:3")  # the signal comes in step 3's end
    code = {"term": 128 + signal.SIGTERM, "usr1": 128 + signal.SIGUSR1}[sig]
    assert proc.returncode == code, proc.stderr[-3000:]  # 143 / 138: ended by that signal, not success
    no_traceback(proc)
    stop, resume = error_lines(proc)
    assert f"stopped by SIG{sig.upper()} after epoch 1, step 4 (optimiser step 4)" in stop
    assert resume.endswith(" --resume") and f"--run-dir {run}" in resume
    assert not (run / "fold_01" / ".lock").exists()  # released on the way out
    if sig == "usr1":
        return  # the same path as SIGTERM from here
    # The printed command, run as printed, continues from step 4 and ends as the uninterrupted run.
    cmd = shlex.split(resume.split("to continue: ", 1)[1])
    assert cmd[:2] == ["fervid", "train"]
    resumed = fervid(cmd[1:])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "(resuming)" in resumed.stdout
    assert outcome(run) == outcome(base / "full")


def test_a_second_writer_is_refused_naming_the_first(base, tmp_path, capsys):
    run, marker = tmp_path / "run", tmp_path / "holding"
    first = subprocess.Popen(
        [sys.executable, DRIVER, *train_args(base, run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FERVID_FAULT": "hold:1:1", "FERVID_MARKER": str(marker)},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # the first is inside fold 1's training, holding its lock
            assert first.poll() is None and time.monotonic() < deadline, "the first writer did not start"
            time.sleep(0.2)
        code = main(train_args(base, run, "--resume"))  # the second, in this process
    finally:
        first.kill()
        first.wait()
    assert code == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("fervid train:")]
    assert f"{run / 'fold_01'} is in use by pid {first.pid} on host " in line and " train " in line
    assert not (run / "fold_01" / "result.json").exists()


def test_run_moved_after_sigkill_resumes_to_the_same_selection(base, tmp_path):
    killed = tmp_path / "killed"
    proc = fervid(train_args(base, killed), fault="kill:1:9")  # epoch 2, after epoch 1's selection
    assert proc.returncode == -signal.SIGKILL
    assert (killed / "fold_01" / "best.ckpt").exists() and (killed / "fold_01" / ".lock").exists()
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(killed, moved)
    resumed = fervid(train_args(base, moved, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    no_traceback(resumed)
    assert "dirpath has changed" not in resumed.stderr
    # The killed holder's lock came along: it is gone on this host, so it is taken over with a note.
    assert f"note: {moved / 'fold_01' / '.lock'}: took over the lock of pid " in resumed.stderr
    assert outcome(moved) == outcome(base / "full")


def test_full_disk_is_one_line_and_resume_after_freeing_space_is_exact(base, full_disk):
    run = full_disk.dir / "run"
    proc = fervid(train_args(base, run), fault="full:1:3", env=full_disk.env())  # the disk fills in step 3
    assert proc.returncode == 2
    no_traceback(proc)
    (line,) = error_lines(proc)
    assert f"cannot write {run / 'fold_01' / 'last.ckpt'} (the fold's resumable checkpoint): " in line
    assert ("no space left" if full_disk.tmpfs else "file too large") in line and " free of " in line
    assert line.endswith("with --resume")
    ckpt = torch.load(run / "fold_01" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2  # the step before: whole, never truncated
    full_disk.free()
    resumed = fervid(train_args(base, run, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert outcome(run) == outcome(base / "full")


def test_out_of_memory_is_one_line_and_the_step_before_it_resumes_exactly(base, tmp_path):
    run = tmp_path / "run"
    proc = fervid(train_args(base, run), fault="oom:1:3")  # step 4's forward raises OutOfMemoryError
    assert proc.returncode == 2
    no_traceback(proc)
    (line,) = error_lines(proc)
    assert "fold 1: CUDA out of memory in the training step of epoch 1 (after optimiser step 3)" in line
    for knob in ("batch_size (now 3)", "data.num_frames (now 8)", "data.image_size (now 32)", "torchrun"):
        assert knob in line
    assert f"{run / 'fold_01' / 'last.ckpt'} holds the state before that step" in line
    ckpt = torch.load(run / "fold_01" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 3
    resumed = fervid(train_args(base, run, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert outcome(run) == outcome(base / "full")


def test_a_truncated_last_ckpt_is_one_line_naming_it(base, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(base / "full", run)
    (run / "fold_01" / "result.json").unlink()  # unfinished: --resume reads last.ckpt
    ckpt = run / "fold_01" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:5000])  # as an older fervid could leave it on a full disk
    assert main(train_args(base, run, "--resume")) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("fervid train:")]
    assert f"{ckpt}: unreadable checkpoint" in line and "Delete it and rerun with --resume" in line
