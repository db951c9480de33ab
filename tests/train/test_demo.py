"""`fervid demo`'s pipeline, shrunk: synthesise → prepare (Haar) → k-fold train → comparison table."""

from __future__ import annotations

import json

import pytest

from fervid.train.demo import run_demo


@pytest.mark.slow  # the demo's whole pipeline
def test_demo_pipeline_writes_the_comparison(tmp_path):
    lines = []
    rows = run_demo(
        tmp_path / "demo", models=("c3d",), folds=2, subjects=6, epochs=1, workers=1, log=lambda s: lines.append(str(s))
    )
    out = tmp_path / "demo"
    assert (out / "synth" / "synth.json").is_file() and (out / "prepared" / "manifest.csv").is_file()
    assert len(rows) == 1 and rows[0]["model"] == "c3d" and rows[0]["folds"] == "2/2"
    for name in ("results.md", "results.csv", "results.png"):
        assert (out / name).is_file()
    results = json.loads((out / "runs" / "c3d-2fold" / "results.json").read_text())
    assert results["complete"] and results["dataset"] == "synth"
    assert sum(f["n_test"] for f in results["folds"]) == 6 * 6  # every synthetic clip tested once
    assert any("c3d: accuracy" in s for s in lines)
    # A second call reuses data and finished folds.
    lines.clear()
    run_demo(
        tmp_path / "demo", models=("c3d",), folds=2, subjects=6, epochs=1, workers=1, log=lambda s: lines.append(str(s))
    )
    assert sum("finished earlier, skipped" in s for s in lines) == 2
