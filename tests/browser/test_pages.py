"""The three HTML outputs in headless Chromium: no console errors, nothing fetched, every image decoded,
and tables that hold the numbers of the JSON they came from. Screenshots stay under each test's tmp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fervid.cli import main

TABLE_CELLS = """[...document.querySelectorAll('#%s tbody tr')].map(tr =>
    [...tr.querySelectorAll('td')].map(td => td.dataset.value === undefined ? td.textContent : Number(td.dataset.value)))"""
IMAGES = "[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)])"


def _open(browser, path: Path, shot: Path):
    session, load = browser.load(path.resolve().as_uri())
    assert load.errors == []
    fetched = [u for u in load.requests if not u.startswith("data:")]
    assert fetched == [path.resolve().as_uri()]  # the page itself and nothing else: no CDN, no server
    images = browser.evaluate(session, IMAGES)
    assert images and all(done and w > 0 and h > 0 for done, w, h, _ in images), images
    assert all(src.startswith("data:image/png;base64") for *_, src in images)
    browser.screenshot(session, shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return session, images


def test_report_page(browser, tiny_study, tmp_path):
    run = tiny_study / "runs" / "c3d"
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--html", str(out)]) == 0
    results = json.loads((run / "results.json").read_text())
    session, images = _open(browser, out, tmp_path / "report.png")
    assert len(images) == len(results["plots"]) == 3

    folds = browser.evaluate(session, TABLE_CELLS % "folds")
    assert len(folds) == len(results["folds"]) + 1
    for row, f in zip(folds, results["folds"]):
        assert row[:5] == [str(f["fold"]), f["n_test"], f["accuracy"], f["uar"], f["macro_f1"]]
    assert folds[-1][1:5] == [results["n_test_total"], *(results["mean"][k] for k in ("accuracy", "uar", "macro_f1"))]
    matrix = browser.evaluate(session, TABLE_CELLS % "confusion-matrix")
    assert [row[0] for row in matrix] == results["classes"]
    assert [row[1:-1] for row in matrix] == results["confusion_matrix_sum"]
    assert "Incomplete run" in browser.evaluate(session, "document.body.innerText")  # 1 of 2 folds trained


def test_compare_page(browser, tmp_path):
    from report_fixtures import make_run

    runs = [make_run(tmp_path / name, model=name) for name in ("c3d", "tsm")]
    out = tmp_path / "compare.html"
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "results.md"), "--html", str(out)]) == 0
    session, images = _open(browser, out, tmp_path / "compare.png")
    assert len(images) == 1
    rows = browser.evaluate(session, TABLE_CELLS % "compare")
    for row, run in zip(rows, runs):
        r = json.loads((run / "results.json").read_text())
        assert row[0] == r["model"] and row[1] == r["dataset"]
        assert row[4:7] == [r["mean"][k] for k in ("accuracy", "uar", "macro_f1")]


def test_predict_page_with_saliency(browser, tmp_path):
    from inference.conftest import SINGLE_FACE, make_checkpoint

    ckpt = make_checkpoint(tmp_path / "model.safetensors")
    out, js = tmp_path / "predict.html", tmp_path / "predict.json"
    assert main(["predict", str(SINGLE_FACE), "--checkpoint", str(ckpt), "--json", str(js), "--html", str(out),
                 "--saliency", "--quiet"]) == 0
    pred = json.loads(js.read_text())
    session, images = _open(browser, out, tmp_path / "predict.png")
    assert len(images) == 1 + 6 + 6  # timeline, six face crops, their six saliency overlays
    windows = browser.evaluate(session, TABLE_CELLS % "windows-0")
    assert len(windows) == len(pred["windows"])
    for row, w in zip(windows, pred["windows"]):
        assert row[:4] == [w["start_s"], w["end_s"], w["face_rate"], w["label"] or "no face"]
        assert row[4:] == [w["probs"][c] for c in pred["probs"]]
    overall = browser.evaluate(session, TABLE_CELLS % "overall-0")
    assert overall == [[c, p] for c, p in pred["probs"].items()]


def test_saliency_needs_html(tmp_path, capsys):
    assert main(["predict", "x.mp4", "--checkpoint", "y", "--saliency"]) == 2
    assert "--saliency goes with --html" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _import_paths(monkeypatch):
    """report_fixtures (tests/engine) and inference.conftest (tests) as modules."""
    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "engine"))
    monkeypatch.syspath_prepend(str(root))
