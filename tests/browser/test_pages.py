"""The three HTML outputs in headless Chromium: no console errors, nothing fetched, every image decoded,
and tables that hold the numbers of the JSON they came from. Screenshots stay under each test's tmp dir."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from fervid.cli import main

pytestmark = pytest.mark.slow  # headless Chromium

TABLE_CELLS = """[...document.querySelectorAll('#%s tbody tr')].map(tr =>
    [...tr.querySelectorAll('td')].map(td => td.dataset.value === undefined ? td.textContent : Number(td.dataset.value)))"""
TABLE_TEXT = (
    "[...document.querySelectorAll('#%s tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))"
)
KEYS = ("accuracy", "uar", "macro_f1")
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
    errors = results["errors"]
    assert len(results["plots"]) == 3 and errors["strips"] and errors["hardest"]
    assert len(images) == 3 + len(errors["strips"]) + min(3, len(errors["hardest"]))  # plots, frames, saliency

    folds = browser.evaluate(session, TABLE_CELLS % "folds")
    assert len(folds) == len(results["folds"]) + 1
    for row, f in zip(folds, results["folds"]):
        assert row[:5] == [str(f["fold"]), f["n_test"], f["accuracy"], f["uar"], f["macro_f1"]]
    assert folds[-1][1:5] == [results["n_test_clips"], *(results["mean"][k] for k in ("accuracy", "uar", "macro_f1"))]
    matrix = browser.evaluate(session, TABLE_CELLS % "confusion-matrix")
    assert [row[0] for row in matrix] == results["classes"]
    assert [row[1:-1] for row in matrix] == results["confusion_matrix_sum"]
    assert "Incomplete run" in browser.evaluate(session, "document.body.innerText")  # 1 of 2 folds trained


def _tiny_prepared():
    spec = importlib.util.spec_from_file_location(
        "tiny_prepared", Path(__file__).parents[1] / "train" / "tiny_prepared.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory):
    """Two tiny c3d runs on 4 subjects, 2 folds, per-clip predictions: "wide" with seeds 0 and 1,
    "small" with seed 0 only (so the paired test pairs on seed 0 alone)."""
    from fervid.train.config import load_config
    from fervid.train.run import train_run

    root = tmp_path_factory.mktemp("seeded")
    _tiny_prepared().make_prepared(root / "data", subjects=4)
    (root / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: c3d}\n")
    common = [
        f"data.path={root / 'data'}",
        "data.num_frames=8",
        "data.image_size=32",
        "batch_size=6",
        "data.num_workers=0",
        "trainer.progress_bar=false",
        "protocol.folds=2",
        "epochs=1",
        "optim.lr=3e-3",
        "protocol.val_subjects=0",
    ]
    runs = {}
    for name, kwargs, seeds in (
        ("wide", "{channels: [8, 16], hidden: 32}", "[0, 1]"),
        ("small", "{channels: [4, 8], hidden: 16}", "[0]"),
    ):
        runs[name] = root / f"c3d-{name}"
        train_run(
            load_config(root / "cfg.yaml", [*common, f"model.kwargs={kwargs}", f"protocol.seeds={seeds}"]), runs[name]
        )
    return runs


def test_multi_seed_report_page_with_errors_and_saliency(browser, seeded_runs, tmp_path):
    from fervid.results.html_errors import SALIENCY_CLIPS, worst_scorings
    from fervid.results.html_report import render_report_html

    run = seeded_runs["wide"]
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--html", str(out)]) == 0
    r = json.loads((run / "results.json").read_text())
    e = r["errors"]
    assert r["seeds"] == [0, 1] and r["n_folds"] == 4 and len(e["hardest"]) > SALIENCY_CLIPS
    session, images = _open(browser, out, tmp_path / "report.png")
    assert len(images) == len(r["plots"]) + len(e["strips"]) + SALIENCY_CLIPS

    folds = browser.evaluate(session, TABLE_CELLS % "folds")
    assert len(folds) == len(r["folds"]) + len(r["per_seed"]) + 1
    for row, f in zip(folds, r["folds"]):
        assert row[:6] == [str(f["seed"]), str(f["fold"]), f["n_test"], f["accuracy"], f["uar"], f["macro_f1"]]
    for row, p in zip(folds[len(r["folds"]) :], r["per_seed"]):
        assert row[0] == str(p["seed"]) and row[3:6] == [p["mean"][k] for k in KEYS]
    last = folds[-1]
    assert last[0] == "all" and last[2:6] == [r["n_test_clips"], *(r["mean"][k] for k in KEYS)]
    texts = browser.evaluate(session, TABLE_TEXT % "folds")[-1]
    for k, text in zip(KEYS, texts[3:6]):  # mean ± std across seeds (seeds) ± fold std (folds)
        assert (
            text
            == f"{r['mean'][k] * 100:.1f} ± {r['std_seeds'][k] * 100:.1f} (seeds) ± {r['std'][k] * 100:.1f} (folds)"
        )

    confusions = browser.evaluate(session, TABLE_CELLS % "confusions")
    assert [row[:4] for row in confusions] == [
        [c["true"], c["n"], c["wrong"], c["wrong"] / c["n"]] for c in e["confusions"]
    ]
    for row, c in zip(confusions, e["confusions"]):
        assert all(f"{p['class']} " in row[4] and f"({p['count']})" in row[4] for p in c["predicted_as"])
    hardest = browser.evaluate(session, TABLE_CELLS % "hardest-clips")
    assert [row[:5] + row[6:9] for row in hardest] == [
        [
            h["clip_id"],
            h["subject"],
            h["label"],
            h["wrong"],
            h["scored"],
            h["p_true"],
            ", ".join(map(str, h["folds"])),
            ", ".join(map(str, h["seeds"])),
        ]
        for h in e["hardest"]
    ]
    strips = browser.evaluate(session, "[...document.querySelectorAll('#hardest-clips img')].map(i => i.alt)")
    assert strips == [f"frames of {h['clip_id']}" for h in e["hardest"]]

    captions = browser.evaluate(
        session, "[...document.querySelectorAll('#saliency figcaption')].map(f => f.textContent)"
    )
    worst = worst_scorings(run, {h["clip_id"] for h in e["hardest"]})
    assert len(captions) == SALIENCY_CLIPS
    for caption, h in zip(captions, e["hardest"]):
        row, fdir = worst[h["clip_id"]]
        assert fdir == run / f"seed_{row['seed']}" / f"fold_{row['fold']:02d}"  # the checkpoint that scored it
        assert (
            caption.startswith(
                f"{h['clip_id']} (subject {h['subject']}): true {h['label']}, predicted {row['predicted']}"
            )
            and f"seed {row['seed']}, fold {row['fold']}" in caption
        )

    # Elsewhere: without the fold checkpoints, and then without the prepared data, the page says so.
    moved = tmp_path / "elsewhere"
    shutil.copytree(run, moved, ignore=shutil.ignore_patterns("*.ckpt", "model.safetensors"))
    html = render_report_html(r, moved)
    assert html.count("not explained (") == SALIENCY_CLIPS and "no such checkpoint file" in html
    config = (moved / "config.yaml").read_text().replace(str(run.parent / "data"), str(tmp_path / "gone"))
    (moved / "config.yaml").write_text(config)
    html = render_report_html(r, moved)
    assert "No saliency strips: the prepared data" in html and f"{tmp_path / 'gone'}" in html
    assert html.count('alt="frames of ') == len(e["strips"])  # the strips written earlier travel with the run


def test_compare_page_has_the_paired_columns(browser, seeded_runs, tmp_path):
    from fervid.results.compare import compare_runs

    out = tmp_path / "compare.html"
    runs = [seeded_runs["wide"], seeded_runs["small"]]
    rows = compare_runs(runs, tmp_path / "results.md", baseline=runs[0], html=out)
    assert rows[1]["p_value"] is not None and rows[1]["paired_note"] == "paired on seeds 0 only"
    session, images = _open(browser, out, tmp_path / "compare.png")
    assert len(images) == 1
    cells = browser.evaluate(session, TABLE_CELLS % "compare")
    texts = browser.evaluate(session, TABLE_TEXT % "compare")
    for row, r in zip(cells, rows):
        assert row[0] == r["label"] and row[4:7] == [r[f"{k}_mean"] for k in KEYS]
    assert texts[0][3] == "2 folds × 2 seeds" and texts[1][3] == "2/2"
    assert texts[0][4].endswith("(folds)") and f"± {rows[0]['accuracy_std_seeds'] * 100:.1f} (seeds)" in texts[0][4]
    cells = browser.evaluate(session, TABLE_CELLS % "paired")
    texts = browser.evaluate(session, TABLE_TEXT % "paired")
    assert [row[0] for row in cells] == [r["label"] for r in rows]
    assert texts[0][1:] == ["baseline", "", "–", "baseline", "", "–", "–", "–", "–", "–", "baseline"]
    r = rows[1]
    assert cells[1][1] == r["accuracy_diff"] and cells[1][4] == r["uar_diff"]
    assert texts[1][2] == f"[{r['accuracy_diff_low'] * 100:+.1f}, {r['accuracy_diff_high'] * 100:+.1f}]"
    assert texts[1][5] == f"[{r['uar_diff_low'] * 100:+.1f}, {r['uar_diff_high'] * 100:+.1f}]"
    assert cells[1][3] == r["accuracy_p_value"] and cells[1][6] == r["p_value"] and texts[1][7] == "4 subjects"
    assert cells[1][8:] == [r["mcnemar_clip_p"], r["paired_clips"], "0", "paired on seeds 0 only"]
    assert "Paired against the baseline" in browser.evaluate(session, "document.body.innerText")


def test_predict_page_with_saliency(browser, tmp_path):
    from inference.conftest import SINGLE_FACE, make_checkpoint

    ckpt = make_checkpoint(tmp_path / "model.safetensors")
    out, js = tmp_path / "predict.html", tmp_path / "predict.json"
    assert (
        main(
            [
                "predict",
                str(SINGLE_FACE),
                "--checkpoint",
                str(ckpt),
                "--json",
                str(js),
                "--html",
                str(out),
                "--saliency",
                "--quiet",
                "--faces",
                "largest",  # the one-face page and JSON
            ]
        )
        == 0
    )
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
    """report_fixtures (tests/results) and inference.conftest (tests) as modules."""
    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "results"))
    monkeypatch.syspath_prepend(str(root))
