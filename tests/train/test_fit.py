"""k-fold training on a tiny prepared dataset: learns, selects on validation only, writes the run."""

from __future__ import annotations

import json
import shutil

import pytest
from tiny_prepared import TINY_C3D, make_prepared

from fervid.errors import FervidError
from fervid.train.config import load_config
from fervid.train.resumable import EpochBatchSampler
from fervid.train.run import train_run

FAST = [
    "data.num_workers=0",
    "trainer.progress_bar=false",
    "optim.lr=3e-3",
    "batch_size=6",
    "protocol.folds=2",
    "epochs=10",
]


def tiny_config(tmp_path, *extra):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("dataset: tiny\nmodel: {name: c3d}\n")
    return load_config(cfg, [*TINY_C3D, *FAST, f"data.path={tmp_path / 'data'}", *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    make_prepared(tmp / "data")
    config = tiny_config(tmp)
    results = train_run(config, tmp / "run")
    return tmp, config, results


def test_records_integrity_and_refuses_other_data_in_the_same_run_dir(run):
    """result.json hashes its predictions.csv and names the data's fingerprint (folds.json's);
    training into the run from other data under the same clip IDs is refused before any work."""
    import copy

    from fervid.rundir.integrity import sha256_file

    tmp, config, _ = run
    folds = json.loads((tmp / "run" / "folds.json").read_text())
    assert folds["prepared"]["subject_ids"] is True and len(folds["prepared"]["fingerprint"]) == 64
    for fdir in sorted((tmp / "run").glob("fold_*")):
        r = json.loads((fdir / "result.json").read_text())
        assert r["predictions_sha256"] == sha256_file(fdir / "predictions.csv")
        assert r["data_fingerprint"] == folds["prepared"]["fingerprint"]
    (tmp / "data").rename(tmp / "kept")
    try:  # the same clip IDs, subjects and labels at the same path; other pixels
        make_prepared(tmp / "data", seed=1)
        with pytest.raises(FervidError, match="run was trained on other data"):
            train_run(copy.deepcopy(config), tmp / "run", resume=True)
    finally:
        shutil.rmtree(tmp / "data", ignore_errors=True)
        (tmp / "kept").rename(tmp / "data")


def test_learns_well_above_chance(run):
    _, _, results = run
    # 6 classes: chance is 16.7 %; the signal is easy, so every fold must clear 50 %.
    assert results["complete"] and results["n_folds"] == 2
    assert all(f["accuracy"] >= 0.5 for f in results["folds"]), results["folds"]
    assert results["mean"]["uar"] >= 0.6


def test_run_dir_schema(run):
    tmp, _, results = run
    rd = tmp / "run"
    on_disk = json.loads((rd / "results.json").read_text())
    for key in ("model", "dataset", "protocol", "classes", "folds", "mean", "std"):
        assert key in on_disk
    assert on_disk["model"] == "c3d" and on_disk["dataset"] == "tiny" and len(on_disk["classes"]) == 6
    assert (rd / "report.md").is_file() and (rd / "confusion_matrix.png").is_file()
    assert (rd / "config.yaml").is_file()
    for i in range(2):
        r = json.loads((rd / f"fold_{i:02d}" / "result.json").read_text())
        for key in (
            "fold",
            "accuracy",
            "uar",
            "macro_f1",
            "confusion_matrix",
            "n_test",
            "selection",
            "epochs_run",
            "train_time_s",
            "history",
        ):
            assert key in r
        assert r["epochs_run"] == 10 and len(r["history"]) == 10
        assert set(r["history"][0]) == {"epoch", "train_loss", "val_loss", "val_uar", "lr"}
        assert r["selection"].startswith("best val UAR (epoch ") and "1 held-out training subject" in r["selection"]
        assert (rd / f"fold_{i:02d}" / "metrics.csv").is_file()


def test_folds_are_subject_independent_and_validation_comes_from_training(run):
    tmp, _, _ = run
    doc = json.loads((tmp / "run" / "folds.json").read_text())
    assert doc["rule"] == "id" and doc["k"] == 2
    tested = []
    for f in doc["folds"]:
        train, val, test = map(set, (f["train_subjects"], f["val_subjects"], f["test_subjects"]))
        assert not (train & test) and not (val & test) and not (train & val)
        assert len(val) == 1  # 10 % of 4 training subjects, at least one
        tested += sorted(test)
    assert sorted(tested) == [f"P{i:03d}" for i in range(1, 9)]  # every subject tested once


def test_predictions_csv_gives_the_fold_metrics_to_the_last_digit(run, tmp_path):
    from fervid.data import read_manifest
    from fervid.results.evaluate import evaluate_checkpoint
    from fervid.results.predictions import metrics_of, read_predictions

    tmp, _, _ = run
    folds = json.loads((tmp / "run" / "folds.json").read_text())["folds"]
    subjects = {r.clip_id: r.subject for r in read_manifest(tmp / "data")}
    for i in range(2):
        fdir = tmp / "run" / f"fold_{i:02d}"
        result = json.loads((fdir / "result.json").read_text())
        classes, rows = read_predictions(fdir / "predictions.csv")
        again = metrics_of(rows, classes)
        assert {k: result[k] for k in again} == again  # exact equality, floats included
        assert {r["subject"] for r in rows} == set(folds[i]["test_subjects"])
        assert len(rows) == result["n_test"] and all(subjects[r["clip_id"]] == r["subject"] for r in rows)
        assert {(r["fold"], r["seed"]) for r in rows} == {(i, 0)}
        assert all(abs(sum(r["probs"]) - 1) < 1e-4 for r in rows)
    # evaluate writes the same rows for the same checkpoint and clips
    evaluate_checkpoint(
        tmp / "run" / "fold_01" / "model.safetensors",
        tmp / "data",
        fold=1,
        batch_size=6,
        predictions=tmp_path / "again.csv",
    )
    mine, theirs = (
        read_predictions(tmp_path / "again.csv")[1],
        read_predictions(tmp / "run" / "fold_01" / "predictions.csv")[1],
    )
    assert [(r["clip_id"], r["label"], r["predicted"]) for r in mine] == [
        (r["clip_id"], r["label"], r["predicted"]) for r in theirs
    ]
    assert [p for r in mine for p in r["probs"]] == pytest.approx([p for r in theirs for p in r["probs"]], abs=1e-5)


def test_saved_model_rescored_gives_the_fold_result(run):
    from fervid.checkpoint import read_checkpoint
    from fervid.results.evaluate import evaluate_checkpoint

    tmp, _, results = run
    ckpt = tmp / "run" / "fold_01" / "model.safetensors"
    _, meta = read_checkpoint(ckpt)
    assert meta.model == "c3d" and meta.num_frames == 8 and meta.image_size == 32
    assert meta.extra["fold"] == 1 and meta.preprocess == {"detector": "none", "size": 32}
    again = evaluate_checkpoint(ckpt, tmp / "data", fold=1)
    assert again["confusion_matrix"] == results["folds"][1]["confusion_matrix"]


def test_existing_fold_is_not_overwritten_without_resume(run):
    tmp, config, _ = run
    with pytest.raises(FervidError, match="--resume"):
        train_run(config, tmp / "run", folds=[0])
    # --resume with everything finished trains nothing and re-reports
    assert train_run(config, tmp / "run", resume=True)["n_folds"] == 2


def test_changed_settings_refuse_the_run_dir(run):
    tmp, config, _ = run
    other = {**config, "seed": 1}
    with pytest.raises(FervidError, match="seed"):
        train_run(other, tmp / "run", resume=True)


def test_no_validation_split_keeps_last_epoch(tmp_path):
    make_prepared(tmp_path / "data", subjects=4)
    config = tiny_config(tmp_path, "protocol.val_subjects=0", "epochs=1")
    train_run(config, tmp_path / "run", folds=[0])
    r = json.loads((tmp_path / "run" / "fold_00" / "result.json").read_text())
    assert r["selection"] == "last epoch (1; no validation split)" and r["n_val"] == 0
    assert r["history"][0]["val_uar"] is None


def test_validation_ties_keep_the_later_epoch(tmp_path):
    """lr 0 and no BatchNorm: the model never changes, so every epoch ties on validation UAR;
    the later epoch is kept (Lightning's ModelCheckpoint alone keeps the first)."""
    make_prepared(tmp_path / "data", subjects=4)
    (tmp_path / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: vivit}\n")
    vit = (
        "model.kwargs={patch_size: 16, embed_dim: 16, depth: 1, num_heads: 2, temporal_depth: 1, "
        "temporal_heads: 2, temporal_mlp_dim: 16, head_hidden: 8}"
    )
    config = load_config(
        tmp_path / "cfg.yaml",
        [
            vit,
            "data.num_frames=4",
            "data.image_size=32",
            *FAST,
            f"data.path={tmp_path / 'data'}",
            "optim.lr=0",
            "epochs=3",
            "protocol.val_subjects=0.3",
        ],
    )
    train_run(config, tmp_path / "run", folds=[0])
    r = json.loads((tmp_path / "run" / "fold_00" / "result.json").read_text())
    assert len({h["val_uar"] for h in r["history"]}) == 1
    assert r["selected_epoch"] == 3 and r["selection"].startswith("best val UAR (epoch 3 of 3)")


def test_dfew_style_manifest_trains_on_its_official_folds_without_flags(tmp_path):
    """Rule auto (the default) and no k: the fold column's five official folds, named in the report."""
    make_prepared(tmp_path / "data", subjects=5, fold=lambda s: str(s + 1))
    config = tiny_config(tmp_path, "protocol.folds=null", "epochs=1", "protocol.val_subjects=0")
    said = []
    results = train_run(config, tmp_path / "run", log=said.append)
    folds = json.loads((tmp_path / "run" / "folds.json").read_text())
    assert (folds["rule"], folds["rule_requested"], folds["k"]) == ("fixed", "auto", 5)
    assert [f["test_subjects"] for f in folds["folds"]] == [[f"P{i:03d}"] for i in range(1, 6)]
    assert results["protocol"] == "5-fold subject-independent" and results["n_folds"] == 5
    assert "rule auto -> fixed" in said[0]
    md = (tmp_path / "run" / "report.md").read_text()
    assert "rule 'fixed' (chosen by rule 'auto'" in md
    with pytest.raises(FervidError, match="protocol.folds=10 contradicts the data.*5 official folds"):
        train_run(tiny_config(tmp_path, "protocol.folds=10"), tmp_path / "other")


def test_ferv39k_style_split_trains_once_on_train_and_tests_once_on_test_with_views(tmp_path):
    """A train/test fold column: one run, validation from the train subjects, one test; scored with
    2 temporal views x 3 crops, which evaluate reproduces from the checkpoint alone."""
    from fervid.results.evaluate import evaluate_checkpoint
    from fervid.results.predictions import read_predictions

    make_prepared(tmp_path / "data", subjects=6, fold=lambda s: "test" if s >= 4 else "train")
    config = tiny_config(
        tmp_path,
        "protocol.folds=null",
        "epochs=1",
        "protocol.val_subjects=0.3",
        "protocol.test_views=2",
        "protocol.test_crops=3",
    )
    results = train_run(config, tmp_path / "run")
    folds = json.loads((tmp_path / "run" / "folds.json").read_text())
    [fold] = folds["folds"]
    assert (folds["rule"], folds["k"]) == ("holdout", 1)
    assert fold["test_subjects"] == ["P005", "P006"] and len(fold["val_subjects"]) == 1
    assert set(fold["val_subjects"]) | set(fold["train_subjects"]) == {"P001", "P002", "P003", "P004"}
    assert results["protocol"] == "train/test holdout, subject-independent" and results["n_folds"] == 1
    assert results["test_views"] == 6 and results["gmacs_test"] == pytest.approx(6 * results["gmacs"])
    md = (tmp_path / "run" / "report.md").read_text()
    assert "rule 'holdout'" in md and "2 evenly spaced temporal views × 3 spatial crops" in md
    _, rows = read_predictions(tmp_path / "run" / "fold_00" / "predictions.csv")
    assert sorted(r["subject"] for r in rows) == ["P005"] * 6 + ["P006"] * 6
    again = evaluate_checkpoint(
        tmp_path / "run" / "fold_00" / "model.safetensors", tmp_path / "data", fold=0, batch_size=6
    )
    assert (again["test_views"], again["test_crops"]) == (2, 3)
    assert again["confusion_matrix"] == results["folds"][0]["confusion_matrix"]
    with pytest.raises(FervidError, match="protocol.folds=5 contradicts the data.*train/test split"):
        train_run(tiny_config(tmp_path, "protocol.folds=5"), tmp_path / "other")


def test_sampler_shards_global_batches_and_resumes():
    one = list(EpochBatchSampler(20, 4, seed=3))
    two = [list(EpochBatchSampler(20, 2, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert len(one) == len(two[0]) == 5
    assert [a + b for a, b in zip(*two)] == one  # same global batches, split between processes
    s = EpochBatchSampler(20, 4, seed=3)
    s.set_epoch(1)
    epoch1 = list(s)
    assert epoch1 != one and all(e == 1 for b in epoch1 for e, _ in b)
    s.resume(1, 3)
    assert list(s) == epoch1[3:]  # resumed epoch replays the rest of the same order
    assert list(s) == epoch1  # the offset applies once
    assert sorted(i for b in one for _, i in b) == list(range(20))
