"""Integrity checks through the CLI (fervid.rundir.integrity): edited predictions, other data under
the same names, stale summaries in the several-seed layout, empty or missing predictions, runs
made before the checks existed, and honest protocol labels (FIXTURES: see report_fixtures.py)."""

import json
import os
import shutil

import pytest
from report_fixtures import PERFECT, make_run

from fervid.cli import main
from fervid.results.compare import compare_runs
from fervid.results.report import write_report


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _edit_one_prediction(path) -> None:
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[3] = "surprise" if cells[3] != "surprise" else "anger"  # the predicted class
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")


def test_edited_predictions_are_refused_unless_forced(tmp_path, capsys):
    a = make_run(tmp_path / "a", predictions=True)
    b = make_run(tmp_path / "b", model="tsm", fold_data=PERFECT, predictions=True)
    edited = a / "fold_01" / "predictions.csv"
    _edit_one_prediction(edited)
    out = tmp_path / "t.md"
    assert main(["report", str(a)]) == 2
    err = _one_line_error(capsys)
    assert f"{edited}: changed after its metrics were written" in err and "--force" in err
    assert main(["compare", str(b), str(a), "--out", str(out)]) == 2
    assert f"{edited}: changed after" in _one_line_error(capsys) and not out.exists()

    assert main(["report", str(a), "--force", "--html"]) == 0
    md = (a / "report.md").read_text()
    assert "**Warning** (this run, checks overridden with --force)" in md and str(edited) in md
    assert json.loads((a / "results.json").read_text())["integrity"]["forced"][0].startswith(str(edited))
    assert "checks overridden with --force" in (a / "report.html").read_text()
    assert main(["compare", str(b), str(a), "--out", str(out), "--force"]) == 0
    assert "**Warning** (c3d, checks overridden with --force)" in out.read_text()
    capsys.readouterr()
    assert main(["compare", str(b), str(a), "--out", str(out)]) == 2  # a forced report does not vouch for it
    assert "changed after" in _one_line_error(capsys)


def test_other_data_under_the_same_names_is_refused(tmp_path, capsys):
    a = make_run(tmp_path / "a", predictions=True, data="A")
    other = make_run(tmp_path / "other", model="tsm", fold_data=PERFECT, predictions=True, data="B")
    out = tmp_path / "t.md"
    assert main(["compare", str(a), str(other), "--out", str(out)]) == 2
    assert "runs differ in data" in _one_line_error(capsys) and not out.exists()
    assert main(["compare", str(a), str(other), "--out", str(out), "--force"]) == 0
    md = out.read_text()
    assert "tsm (not tested: different data (other fingerprint))" in md and "differ in dataset, folds or data" in md

    shutil.rmtree(a / "fold_02")  # a fold folder of the other run merged into this one
    shutil.copytree(other / "fold_02", a / "fold_02")
    capsys.readouterr()
    assert main(["report", str(a)]) == 2
    err = _one_line_error(capsys)
    assert f"{a / 'fold_02' / 'result.json'}: trained on other data" in err and "--force" in err


def test_stale_summaries_are_rebuilt_in_the_several_seed_layout(tmp_path):
    run = make_run(tmp_path / "run", seeds=(0, 1), predictions=True)
    last = run / "seed_1" / "fold_02" / "result.json"
    kept = last.read_text()
    last.unlink()
    assert write_report(run)["n_folds"] == 5  # "5/6, incomplete"
    last.write_text(kept)  # the last fold finishes after the report
    os.utime(run / "results.json", (1, 1))
    [row] = compare_runs([run])
    assert row["folds"] == "6/6" and row["complete"] and row["folds_cell"] == "3 folds × 2 seeds"
    (run / "results.json").unlink()  # no results.json: built from the folds, not "no fold results"
    assert compare_runs([run])[0]["folds"] == "6/6"
    assert json.loads((run / "results.json").read_text())["n_test_clips"] == 9  # clips, not 18 scorings


def test_empty_or_missing_predictions_are_named_not_counted_as_errors(tmp_path, capsys):
    recorded = make_run(tmp_path / "new", predictions=True)
    header_only = recorded / "fold_01" / "predictions.csv"
    header_only.write_text(header_only.read_text().splitlines()[0] + "\n")
    assert main(["report", str(recorded)]) == 2  # its hash no longer matches
    assert f"{header_only}: changed after" in _one_line_error(capsys)

    old = make_run(tmp_path / "old", predictions=True, legacy=True)
    empty = old / "fold_01" / "predictions.csv"
    empty.write_text(empty.read_text().splitlines()[0] + "\n")
    (old / "fold_02" / "predictions.csv").unlink()
    r = write_report(old)
    assert r["errors"]["n_scored"] == 4 and r["errors"]["empty"] == [str(empty)]
    assert r["errors"]["missing"] == [str(old / "fold_02" / "predictions.csv")]
    md = (old / "report.md").read_text()
    assert (
        "4 scorings of 4 clips" in md and f"Not included, an empty predictions.csv (a header, no row): `{empty}`" in md
    )
    other = make_run(tmp_path / "other", model="tsm", predictions=True, legacy=True)
    compare_runs([other, old], tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert f"c3d: predictions empty (a header, no row): {empty}." in md
    assert "c3d (not tested: scored clips differ" in md


def test_runs_made_before_the_checks_still_compare_with_a_note(tmp_path):
    a = make_run(tmp_path / "a", predictions=True, legacy=True, with_results=True)
    b = make_run(tmp_path / "b", model="tsm", fold_data=PERFECT, predictions=True, legacy=True, with_results=True)
    for run in (a, b):  # results.json as fervid wrote it before this change
        doc = json.loads((run / "results.json").read_text())
        for key in ("integrity", "n_test_clips"):
            doc.pop(key)
        doc["split"].pop("subject_ids")
        (run / "results.json").write_text(json.dumps(doc))
    rows = compare_runs([a, b], tmp_path / "t.md")
    assert rows[1]["p_value"] == 0.5 and rows[1]["unit"] == "subject"
    md = (tmp_path / "t.md").read_text()
    assert "c3d: not checked (3 predictions.csv without a hash in result.json" in md
    assert "made before fervid recorded them" in md


def test_no_identities_is_said_in_the_protocol_and_the_paired_unit(tmp_path):
    a = make_run(tmp_path / "a", dataset="dfew", predictions=True, identities=False)
    b = make_run(tmp_path / "b", model="tsm", dataset="dfew", fold_data=PERFECT, predictions=True, identities=False)
    rows = compare_runs([a, b], tmp_path / "t.md")
    assert rows[0]["protocol"] == "3-fold over clips, rule id" and rows[1]["unit"] == "clip"
    md = (tmp_path / "t.md").read_text()
    assert "| 9 clips (no identities) |" in md
    assert "tsm: clips treated as independent; identities not published" in md
    report = (a / "report.md").read_text()
    assert "subject-independent" not in report and "publish no subject identities" in report
    old = make_run(tmp_path / "old", dataset="dfew", legacy=True)  # no record, no predictions: the reader's rule
    assert write_report(old)["protocol"] == "3-fold over clips"


@pytest.mark.parametrize(
    "rule, k, words", [("fixed", 5, "5-fold official splits"), ("holdout", 1, "official train/test split")]
)
def test_official_splits_without_identities_are_named_so(rule, k, words):
    from fervid.rundir.folds import protocol_name

    assert protocol_name(rule, k, subject_ids=False) == words
    assert "subject-independent" in protocol_name(rule, k)
