"""compare_runs and `fervid compare` on hand-written runs (FIXTURES: see report_fixtures.py)."""

import csv

import pytest
from report_fixtures import assert_png, make_run

from fervid.cli import main
from fervid.engine.compare import compare_runs
from fervid.errors import FervidError


def test_compare_two_runs_writes_markdown_csv_png(tmp_path, capsys):
    a = make_run(tmp_path / "a", model="c3d", with_results=True)
    b = make_run(tmp_path / "b", model="tsm", folds=(0, 1), with_results=True)  # incomplete: 2/3 folds
    out = tmp_path / "table" / "results.md"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    md = out.read_text()
    assert md in printed
    lines = md.splitlines()
    assert lines[0].startswith("| model | dataset | protocol | folds | accuracy (%) | UAR (%)")
    assert lines[2].startswith("| c3d | synth | 3-fold subject-independent | 3/3 | 75.0 ± 25.0 | 77.8 ± 25.5 |")
    assert lines[3].startswith("| tsm | synth | 3-fold subject-independent | 2/3 | 87.5 ± 17.7 | 91.7 ± 11.8 |")
    assert "Incomplete runs (mean over the folds present only): tsm." in md
    with open(out.with_suffix(".csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == ["c3d", "tsm"]
    assert float(rows[0]["accuracy_mean_pct"]) == pytest.approx(75.0)
    assert float(rows[1]["params_m"]) > 0 and float(rows[1]["gmacs"]) > 0
    assert float(rows[0]["train_time_per_fold_s"]) == pytest.approx(20.0)
    assert_png(out.with_suffix(".png"))


def test_compare_regenerates_missing_results(tmp_path):
    run = make_run(tmp_path / "a")
    rows = compare_runs([run])
    assert (run / "results.json").is_file() and rows[0]["folds"] == "3/3"
    assert rows[0]["label"] == "c3d" and rows[0]["uar_mean"] == pytest.approx((5 / 6 + 1 + 0.5) / 3)


def test_mismatched_protocols_refused_unless_forced(tmp_path, capsys):
    a = make_run(tmp_path / "a", with_results=True)
    b = make_run(tmp_path / "b", test_subjects=[["S0", "S1"], ["S2"], ["S3"]], with_results=True)  # other folds
    c = make_run(tmp_path / "c", k=2, folds=(0, 1), with_results=True)
    with pytest.raises(FervidError, match="runs differ in protocol"):
        compare_runs([a, b])
    assert main(["compare", str(a), str(c), "--out", str(tmp_path / "x.md")]) == 2
    err = capsys.readouterr().err
    assert "runs differ in protocol" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.md").exists()
    rows = compare_runs([a, c], tmp_path / "forced.md", force=True)
    assert len(rows) == 2 and "**Warning**" in (tmp_path / "forced.md").read_text()


def test_mismatched_datasets_refused(tmp_path):
    a = make_run(tmp_path / "a", dataset="oulu", with_results=True)
    b = make_run(tmp_path / "b", dataset="ckplus", with_results=True)
    with pytest.raises(FervidError, match="runs differ in dataset"):
        compare_runs([a, b])


def test_compare_warns_when_preprocessing_differs(tmp_path):
    """Oulu VL vs NI, or 48 vs 112 px crops: the same task in name only. Recorded at training time
    (folds.json), so the check needs no prepared data."""
    a = make_run(tmp_path / "a", model="c3d", with_results=True)
    b = make_run(tmp_path / "b", model="tsm", preprocess={"detector": "none", "size": 16}, with_results=True)
    compare_runs([a, b], tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert "**Warning**: the runs' data were prepared differently" in md and "detector" in md
    compare_runs([a, make_run(tmp_path / "c", model="tsm", with_results=True)], tmp_path / "same.md")
    assert "prepared differently" not in (tmp_path / "same.md").read_text()
