"""`fervid train` under `torchrun --nproc_per_node 2` (DDP, gloo on the CPU) agrees with one process
at the same global batch.

The model is a tiny TimeSformer: LayerNorm only, so its computation does not depend on how the
global batch is split. (BatchNorm statistics are per process on the CPU, where SyncBatchNorm does
not run; on GPUs fervid turns SyncBatchNorm on.) Dropout is off: masks drawn for one batch of 6
cannot equal masks drawn for two of 3. What remains is float summation order, hence tolerances.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from safetensors.torch import load_file
from tiny_prepared import make_prepared

pytestmark = pytest.mark.slow  # a torchrun training

SETTINGS = [
    "model.kwargs={patch_size: 8, embed_dim: 32, depth: 1, num_heads: 2, drop_path_rate: 0.0}",
    "data.num_frames=4",
    "data.image_size=32",
    "batch_size=6",
    "data.num_workers=0",
    "trainer.progress_bar=false",
    "optim.lr=1e-3",
]


def train(tmp_path, run_dir, launcher):
    cmd = [
        *launcher,
        "-m",
        "fervid",
        "train",
        str(tmp_path / "cfg.yaml"),
        "--data",
        str(tmp_path / "data"),
        "--folds",
        "2",
        "--fold",
        "0",
        "--epochs",
        "2",
        "--run-dir",
        str(run_dir),
    ]
    for s in SETTINGS:
        cmd += ["--set", s]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Own process group, so a hung run's workers die with their launcher.
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"training did not finish in 180 s: {err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    return out + err


def test_two_processes_agree_with_one(tmp_path):
    make_prepared(tmp_path / "data")
    (tmp_path / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: timesformer}\n")
    train(tmp_path, tmp_path / "one", [sys.executable])
    log = train(
        tmp_path,
        tmp_path / "two",
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    )
    assert "MEMBER: 2/2" in log and "distributed_backend=gloo" in log

    one, two = (json.loads((tmp_path / d / "fold_00" / "result.json").read_text()) for d in ("one", "two"))
    for a, b in zip(one["history"], two["history"]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)
        assert b["lr"] == a["lr"]
    assert two["confusion_matrix"] == one["confusion_matrix"]
    w1, w2 = (load_file(tmp_path / d / "fold_00" / "model.safetensors") for d in ("one", "two"))
    assert w1.keys() == w2.keys()
    for k in w1:
        assert (w1[k] - w2[k]).abs().max() < 1e-4, k
