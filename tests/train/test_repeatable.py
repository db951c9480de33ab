"""Runs repeat to the digit on one machine: two processes training the same config give the same
per-clip predictions and metrics, and so do the demo's fold jobs however many run side by side.

(Across CPUs and thread counts they need not: docs/BENCHMARKS.md, "Repeatability".)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import torch
from tiny_prepared import TINY_C3D, make_prepared, train_cmd

pytestmark = pytest.mark.slow  # subprocess trainings compared byte for byte

SETTINGS = [
    *TINY_C3D,
    "batch_size=6",
    "data.num_workers=0",
    "trainer.progress_bar=false",
    "optim.lr=3e-3",
    "model.kwargs.dropout=0.3",
]  # dropout: the per-step reseeding is part of what must repeat


def outcome(run_dir):
    folds = []
    for fdir in sorted(run_dir.glob("fold_*")):
        r = json.loads((fdir / "result.json").read_text())
        r.pop("train_time_s")
        folds.append((r, (fdir / "predictions.csv").read_bytes()))
    return folds


def test_two_processes_give_identical_results(tmp_path):
    make_prepared(tmp_path / "data")
    (tmp_path / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: c3d}\n")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for run in ("a", "b"):
        cmd = train_cmd(tmp_path, tmp_path / run, settings=SETTINGS)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = outcome(tmp_path / "a"), outcome(tmp_path / "b")
    assert len(a) == 2 and a == b  # metrics, history (every epoch's loss) and predictions.csv, byte for byte


def test_memory_format_changes_only_rounding():
    from fervid.models import create_model
    from fervid.train.module import ClipClassifier

    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 32, 32)
    nets = []
    for fmt in ("contiguous", "channels_last"):
        torch.manual_seed(0)
        model = create_model("r2plus1d", num_classes=6, num_frames=8, image_size=32, layers=(1, 1, 1, 1))
        nets.append(
            ClipClassifier(
                model,
                num_classes=6,
                lr=1e-3,
                weight_decay=0.0,
                warmup_epochs=0,
                min_lr_ratio=0.1,
                steps_per_epoch=1,
                epochs=1,
                fold=0,
                memory_format=fmt,
            ).eval()
        )
    conv = nets[1].model.stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last_3d) and not conv.is_contiguous()
    # Same numbers up to rounding, forward and backward. In eval mode: batch statistics of a
    # batch of 2 at 2x2 pixels (training-mode BatchNorm) amplify rounding ~1000x, and so does
    # Adam's step on near-zero gradients, which would hide what this test is about.
    out = [net(x) for net in nets]
    torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-6)
    for o in out:
        o.logsumexp(1).mean().backward()
    for (name, a), b in zip(nets[0].named_parameters(), nets[1].parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_demo_fold_jobs_do_not_change_results(tmp_path):
    from fervid.train.demo import run_demo

    one = tmp_path / "one"
    run_demo(one, models=("c3d",), folds=2, subjects=6, epochs=2, workers=1, jobs=1)
    two = tmp_path / "two"
    for part in ("synth", "prepared"):  # the same data, so only the training can differ
        shutil.copytree(one / part, two / part)
    run_demo(two, models=("c3d",), folds=2, subjects=6, epochs=2, workers=1, jobs=2)
    a, b = outcome(one / "runs" / "c3d-2fold"), outcome(two / "runs" / "c3d-2fold")
    assert len(a) == 2 and a == b
    demo = json.loads((two / "demo.json").read_text())
    assert (demo["data_seed"], demo["train_seed"], demo["jobs"], demo["threads_per_job"]) == (2, [0], 2, 1)
    assert demo["machine"]["gemm_gflops"] > 0


@pytest.mark.parametrize("bad", ["trainer.memory_format=nhwc"])
def test_memory_format_is_checked(bad):
    from fervid.errors import FervidError
    from fervid.train.config import load_config

    with pytest.raises(FervidError, match="memory_format"):
        load_config("synth/c3d", [bad])
