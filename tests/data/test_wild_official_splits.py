"""FERV39k and MAFW trees in their released layouts, prepared and trained by `fervid train` with no
protocol flags: the data's own split or folds are used (rule auto), and every test clip is scored in
the fold whose official list names it. A tiny c3d, one epoch: the split is under test, not learning."""

import csv
import json

from fervid.cli import main
from fervid.data.prepare import prepare

CONFIG = """dataset: {dataset}
epochs: 1
batch_size: 4
data: {{num_frames: 8, image_size: 16, num_workers: 0, augment: false}}
model: {{name: c3d, kwargs: {{channels: [4, 8], hidden: 16}}}}
protocol: {{val_subjects: {val}}}
trainer: {{progress_bar: false}}
"""


def _train(tmp_path, dataset, val=0.0):
    cfg = tmp_path / f"{dataset}.yaml"
    cfg.write_text(CONFIG.format(dataset=dataset, val=val))
    run = tmp_path / f"run-{dataset}"
    assert main(["train", str(cfg), "--data", str(tmp_path / dataset), "--run-dir", str(run)]) == 0
    folds = json.loads((run / "folds.json").read_text())
    results = json.loads((run / "results.json").read_text())
    return folds, results, run


def _tested(run, fold):
    with open(run / f"fold_{fold:02d}" / "predictions.csv", newline="") as f:
        return sorted(r["clip_id"] for r in csv.DictReader(f))


def test_ferv39k_trains_once_on_train_and_tests_once_on_test(tmp_path, layouts, capsys):
    train = [
        "Action/Angry/0001,0",
        "Action/Happy/0002,3",
        "Talk/Sad/0003,5",
        "Talk/Fear/0004,2",
        "Interview/Neutral/0005,4",
        "Interview/Surprise/0006,6",
        "Talk/Disgust/0007,1",
    ]
    test = ["Crime/Happy/0008,3", "Crime/Angry/0009,0", "Crime/Neutral/0010,4"]
    root = layouts.make_ferv39k(tmp_path / "FERV39k", {"train": train, "test": test})
    prepare(root, tmp_path / "ferv39k", "ferv39k", size=16, detector="none", progress=False)
    folds, results, run = _train(tmp_path, "ferv39k", val=0.2)
    assert (folds["rule"], folds["rule_requested"], folds["k"]) == ("holdout", "auto", 1)
    assert folds["prepared"]["subject_ids"] is False  # FERV39k publishes no identities: each clip its own subject
    ids = lambda rows: sorted(r.split(",")[0].replace("/", "__") for r in rows)  # noqa: E731
    [fold] = folds["folds"]
    assert fold["test_subjects"] == ids(test) and len(fold["val_subjects"]) == 1
    assert sorted(fold["train_subjects"] + fold["val_subjects"]) == ids(train)
    assert _tested(run, 0) == ids(test)  # every test clip from the official test list, each once
    assert results["n_folds"] == 1 and results["protocol"] == "official train/test split"
    assert "rule auto -> holdout" in capsys.readouterr().out


def test_mafw_trains_on_its_five_official_folds(tmp_path, layouts, capsys):
    names = [
        "happiness",
        "anger",
        "anxiety",
        "neutral",
        "helplessness",
        "sadness",
        "disappointment",
        "surprise",
        "contempt",
        "fear",
    ]
    sets = {k: [f"{2 * k - 1:05d}.mp4 {names[2 * k - 2]}", f"{2 * k:05d}.mp4 {names[2 * k - 1]}"] for k in range(1, 6)}
    root = layouts.make_mafw(tmp_path / "MAFW", sets, [f"{i:05d}.mp4" for i in range(1, 11)])
    prepare(root, tmp_path / "mafw", "mafw", size=16, detector="none", progress=False)
    folds, results, run = _train(tmp_path, "mafw")
    assert (folds["rule"], folds["rule_requested"], folds["k"]) == ("fixed", "auto", 5)
    for k, fold in enumerate(folds["folds"]):
        official = [f"{2 * k + 1:05d}", f"{2 * k + 2:05d}"]  # set_{k+1}/test.txt
        assert fold["test_subjects"] == official and _tested(run, k) == official
        assert not set(fold["train_subjects"]) & set(official)
    assert results["n_folds"] == 5 and results["protocol"] == "5-fold official splits"
    assert "no subject identities" in (run / "report.md").read_text()
    assert len(json.loads((tmp_path / "mafw" / "meta.json").read_text())["classes"]) == 11
    assert "rule auto -> fixed" in capsys.readouterr().out
