"""error_analysis on hand-written predictions (report_fixtures): confused pairs, hardest clips."""

import json

import numpy as np
import pytest
from report_fixtures import CLASSES, assert_png, make_run

from fervid.errors import FervidError
from fervid.results.errors_analysis import error_analysis, write_error_strips
from fervid.results.predictions import read_predictions, write_predictions
from fervid.results.report import write_report


def row(clip, label, predicted, p_true, fold=0, seed=0):
    probs = [(1 - p_true) / 2] * 3
    probs[CLASSES.index(label)] = p_true
    return {
        "clip_id": clip,
        "subject": clip[:2],
        "label": label,
        "predicted": predicted,
        "probs": probs,
        "fold": fold,
        "seed": seed,
    }


def test_confusions_and_hardest_clips_over_seeds():
    seed0 = [
        row("s1_a", "anger", "happiness", 0.2),
        row("s1_b", "anger", "surprise", 0.3),
        row("s2_a", "anger", "anger", 0.9),
        row("s2_b", "happiness", "anger", 0.1),
    ]
    seed1 = [
        row("s1_a", "anger", "happiness", 0.3, seed=1),
        row("s1_b", "anger", "anger", 0.6, seed=1),
        row("s2_a", "anger", "anger", 0.8, seed=1),
        row("s2_b", "happiness", "happiness", 0.7, seed=1),
    ]
    e = error_analysis([(CLASSES, seed0), (CLASSES, seed1)], top_pairs=1)
    assert e["n_scored"] == 8 and e["n_clips"] == 4 and e["classes"] == CLASSES
    anger, happiness = e["confusions"]  # surprise has no clip
    assert (anger["true"], anger["n"], anger["wrong"]) == ("anger", 6, 3)
    assert anger["predicted_as"] == [{"class": "happiness", "count": 2, "fraction": 2 / 6}]
    assert happiness["predicted_as"] == [{"class": "anger", "count": 1, "fraction": 0.5}]
    # s1_a wrong twice; then s2_b and s1_b once each, s2_b the more confidently wrong (p_true 0.4 < 0.45)
    assert [h["clip_id"] for h in e["hardest"]] == ["s1_a", "s2_b", "s1_b"]
    assert e["hardest"][0] == {
        "clip_id": "s1_a",
        "subject": "s1",
        "label": "anger",
        "wrong": 2,
        "scored": 2,
        "predicted_as": {"happiness": 2},
        "p_true": pytest.approx(0.25),
        "folds": [0],
        "seeds": [0, 1],
    }
    json.dumps(e)  # plain data
    with pytest.raises(FervidError, match="classes"):
        error_analysis([(CLASSES, seed0), (CLASSES[::-1], seed1)])


def test_report_lists_errors_from_predictions_files(tmp_path):
    run = make_run(tmp_path / "run", predictions=True)
    r = write_report(run)
    files = sorted(run.glob("fold_*/predictions.csv"))
    want = {**error_analysis(files), "strips": {}, "missing": [], "empty": []}
    assert r["errors"] == want  # the report's analysis is the function's, with the folds it could not read
    md = (run / "report.md").read_text()
    assert "## Errors" in md and "| anger | 4 | 1 (25.0 %) | happiness 25.0 % (1) |" in md
    assert "| f0_anger_1 | S0 | anger | 1/1 | happiness ×1 | 0.10 | – |" in md
    assert "No frame strips" in md  # the fixture has no prepared clips


def test_error_strips_are_pngs_of_the_prepared_clip(tmp_path):
    from fervid.data.manifest import ClipRecord, write_manifest

    (tmp_path / "clips").mkdir()
    np.save(tmp_path / "clips" / "c 1.npy", np.random.default_rng(0).integers(0, 255, (9, 40, 40, 3), dtype=np.uint8))
    write_manifest(tmp_path, [ClipRecord("c 1", "s", "anger", 9, "x", 1.0, file="clips/c 1.npy")])
    write_predictions(tmp_path / "p.csv", [row("c 1", "anger", "surprise", 0.1)], CLASSES)
    hardest = error_analysis([tmp_path / "p.csv"])["hardest"]
    assert read_predictions(tmp_path / "p.csv")[1][0]["clip_id"] == "c 1"
    written = write_error_strips(tmp_path, [*hardest, {**hardest[0], "clip_id": "gone"}], tmp_path / "errors")
    assert written == {"c 1": "c_1.png"}  # a clip without its file is left out
    assert_png(tmp_path / "errors" / "c_1.png")
