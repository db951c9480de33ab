"""compare_runs and `fervid compare` on hand-written runs (FIXTURES: see report_fixtures.py)."""

import csv

import pytest
from report_fixtures import PERFECT, assert_png, make_run

from fervid.cli import main
from fervid.errors import FervidError
from fervid.results.compare import compare_runs


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
    assert lines[2].startswith(
        "| c3d | synth | 3-fold subject-independent, rule id | 3/3 | 75.0 ± 25.0 | 77.8 ± 25.5 |"
    )
    assert lines[3].startswith(
        "| tsm | synth | 3-fold subject-independent, rule id | 2/3 | 87.5 ± 17.7 | 91.7 ± 11.8 |"
    )
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


def test_paired_tests_against_the_first_run_in_table_and_csv(tmp_path, capsys):
    a = make_run(tmp_path / "a", model="c3d", predictions=True, with_results=True)
    best = make_run(tmp_path / "best", model="tsm", fold_data=PERFECT, predictions=True, with_results=True)
    other = make_run(
        tmp_path / "other", model="vivit", preprocess={"detector": "none"}, predictions=True, with_results=True
    )
    out = tmp_path / "t.md"
    assert main(["compare", str(a), str(best), str(other), "--out", str(out)]) == 0
    md = out.read_text()
    lines = md.splitlines()
    assert lines[0].endswith(
        "| Δ accuracy [95 % CI] | p (Δ acc.) | Δ UAR [95 % CI] | p (Δ UAR) | unit | McNemar p (clips, descriptive) |"
    )
    assert lines[2].startswith("| c3d |") and lines[2].endswith("| baseline | – | baseline | – | – | – |")
    # tsm is right on the 2 clips c3d misses (folds 0 and 2): Δ accuracy = mean over folds of
    # (1/4, 0, 1/2) = 25 points, Δ UAR = mean(1/6, 0, 1/2) = 22.2. Three subjects, one of them
    # (fold 1) contributing nothing: 4 of the 8 sign patterns reach |Δ|, p = 0.5.
    assert "| +25.0 [" in lines[3] and "| +22.2 [" in lines[3] and lines[3].endswith("| 0.5 | 3 subjects | 0.5 |")
    assert "Paired against the baseline c3d (the first run given)" in md and "sign-flip permutation" in md
    assert "vivit (not tested: preprocessing differs)" in md and "Holm" not in md  # one comparison tested
    with open(out.with_suffix(".csv"), newline="") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    t = rows["tsm"]
    assert t["baseline"] == "c3d" and float(t["p_value"]) == 0.5 and float(t["accuracy_p_value"]) == 0.5
    assert t["test"] == "sign-flip permutation test over 3 subjects (Δ UAR)" and (t["unit"], t["n_units"]) == (
        "subject",
        "3",
    )
    assert (int(t["mcnemar_b"]), int(t["mcnemar_c"]), int(t["paired_clips"])) == (0, 2, 9)
    assert float(t["mcnemar_clip_p"]) == pytest.approx(0.5)  # reproducible from b and c: 2 * P[X <= 0], X ~ Bin(2, 1/2)
    assert float(t["accuracy_diff_pct"]) == pytest.approx(25.0) and float(t["uar_diff_pct"]) == pytest.approx(
        200 / 9, abs=1e-3
    )
    low, high = float(t["accuracy_diff_low_pct"]), float(t["accuracy_diff_high_pct"])
    assert 0 <= low <= 25.0 <= high
    assert rows["vivit"]["p_value"] == "" and rows["vivit"]["paired_note"] == "not tested: preprocessing differs"
    again = compare_runs([a, best, other])  # seeded: the same interval every time
    assert again[1]["accuracy_diff_low"] * 100 == pytest.approx(low, abs=1e-3)
    rows = compare_runs([a, best], baseline=best)
    assert rows[1]["paired_note"] == "baseline" and rows[0]["p_value"] == 0.5 and rows[0]["accuracy_diff"] < 0
    with pytest.raises(FervidError, match="--baseline .* not one of the runs"):
        compare_runs([a, best], baseline=other)
    capsys.readouterr()


def test_several_runs_are_holm_adjusted(tmp_path):
    a = make_run(tmp_path / "a", model="c3d", predictions=True, with_results=True)
    b = make_run(tmp_path / "b", model="tsm", fold_data=PERFECT, predictions=True, with_results=True)
    c = make_run(tmp_path / "c", model="vivit", fold_data=PERFECT, predictions=True, with_results=True)
    rows = compare_runs([a, b, c], tmp_path / "t.md")
    assert [r.get("p_value") for r in rows] == [None, 1.0, 1.0]  # 0.5 each, × 2 comparisons
    assert rows[1]["test"].endswith("Holm-adjusted for 2 comparisons")
    assert "Holm-adjusted for the 2 comparisons with the baseline" in (tmp_path / "t.md").read_text()


def _table(seeds, clips, wrong=()):
    return ["x", "y"], {
        (s, c): {"label": "x", "predicted": "y" if (s, c) in wrong else "x", "subject": f"P{c[1:]}", "fold": 0}
        for s in seeds
        for c in clips
    }


def test_pairing_by_seed_and_clip_and_what_is_not_tested():
    from fervid.results.paired import paired_comparison

    res = {"classes": ["x", "y"], "split": {"rule": "id", "k": 2, "test_subjects_sha1": "abc"}, "prepared": None}
    clips = [f"c{i}" for i in range(12)]
    base = _table([0, 1, 2], clips)
    worse = _table([0, 1], clips, wrong={(0, "c1"), (0, "c2"), (1, "c1")})
    t = paired_comparison(res, res, base, worse, resamples=100)
    assert t["tested"] and t["seeds"] == [0, 1] and t["n_clips"] == 12  # seed 2 is the base run's alone
    assert (t["b"], t["c"], t["unit"], t["n_units"]) == (3, 0, "subject", 12)
    assert t["mcnemar_clip_p"] == pytest.approx(0.25)
    assert t["accuracy_diff"][0] == pytest.approx(-3 / 24)
    assert (
        paired_comparison(res, res, base, _table([5], clips))["reason"]
        == "no seed in common (seeds 0, 1, 2 vs seeds 5)"
    )
    assert "scored clips differ" in paired_comparison(res, res, base, _table([0], clips[:-1]))["reason"]
    other_folds = {**res, "split": {**res["split"], "test_subjects_sha1": "def"}}
    assert paired_comparison(res, other_folds, base, base)["reason"] == "test folds differ"
    other_data = [{**res, "prepared": {"fingerprint": f}} for f in ("aaa", "bbb")]
    assert paired_comparison(*other_data, base, base)["reason"] == "different data (other fingerprint)"
    assert "no per-clip predictions" in paired_comparison(res, res, base, (None, {}))["reason"]
    moved = {k: {**v, "subject": "P0"} for k, v in base[1].items()}
    assert "different labels, subjects or folds" in paired_comparison(res, res, base, (base[0], moved))["reason"]
    clip_ids = {k: {**v, "subject": k[1]} for k, v in base[1].items()}  # no identities: each clip its own subject
    assert paired_comparison(res, res, (base[0], clip_ids), (base[0], clip_ids))["unit"] == "clip"
