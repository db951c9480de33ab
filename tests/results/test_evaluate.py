"""`fervid evaluate` on a tiny (untrained) C3D checkpoint and a tiny prepared directory."""

import json

import numpy as np
import pytest
import torch

from fervid.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from fervid.cli import main
from fervid.data import ClipDataset
from fervid.data.manifest import ClipRecord, write_manifest, write_meta
from fervid.errors import FervidError
from fervid.models import create_model
from fervid.results.evaluate import evaluate_checkpoint

MODEL_CLASSES = ["anger", "happiness", "surprise"]
DATA_CLASSES = ["surprise", "anger", "happiness"]  # another order: classes match by name


def make_prepared(root, labels_by_subject, classes=DATA_CLASSES):
    rng = np.random.default_rng(0)
    records = []
    for subject, labels in labels_by_subject.items():
        for j, label in enumerate(labels):
            clip_id = f"{subject}_{j}"
            (root / "clips").mkdir(parents=True, exist_ok=True)
            np.save(root / "clips" / f"{clip_id}.npy", rng.integers(0, 256, (10, 20, 20, 3), dtype=np.uint8))
            records.append(ClipRecord(clip_id, subject, label, 10, "synthetic", 1.0, file=f"clips/{clip_id}.npy"))
    write_manifest(root, records)
    write_meta(root, {"dataset": "tiny", "classes": classes, "size": 20, "preprocess": {}})
    return root


@pytest.fixture
def run(tmp_path):
    """RUN/folds.json and RUN/fold_01/model.safetensors of a random C3D; a prepared dir."""
    torch.manual_seed(0)
    model = create_model("c3d", num_classes=3, num_frames=8, image_size=16)
    with torch.no_grad():  # spread the logits so the untrained model predicts several classes
        model.head.weight.mul_(50)
    meta = CheckpointMeta(
        model="c3d",
        num_classes=3,
        num_frames=8,
        image_size=16,
        classes=MODEL_CLASSES,
        mean=[0.5] * 3,
        std=[0.25] * 3,
        sampling="uniform",
        extra={"dataset": "tiny", "fold": 1, "test_subjects": ["S2"]},
    )
    ckpt = tmp_path / "run" / "fold_01" / "model.safetensors"
    save_checkpoint(ckpt, model, meta)
    (tmp_path / "run" / "folds.json").write_text(
        json.dumps(
            {
                "rule": "id",
                "k": 2,
                "seed": 0,
                "folds": [
                    {"fold": 0, "train_subjects": ["S2"], "val_subjects": [], "test_subjects": ["S1", "S3"]},
                    {"fold": 1, "train_subjects": ["S1", "S3"], "val_subjects": [], "test_subjects": ["S2"]},
                ],
            }
        )
    )
    data = make_prepared(
        tmp_path / "prepared",
        {
            "S1": ["anger", "happiness", "surprise"],
            "S2": ["surprise", "anger", "happiness", "anger"],
            "S3": ["happiness"],
        },
    )
    return ckpt, data


def direct_scores(ckpt, data, indices):
    """Predictions and model-index targets computed here, clip by clip, without evaluate's code."""
    model, meta = load_checkpoint(ckpt)
    ds = ClipDataset(data, indices, 8, train=False, sampling="uniform", image_size=16, mean=meta.mean, std=meta.std)
    preds, targets = [], []
    with torch.no_grad():
        for i in range(len(ds)):
            clip, label = ds[i]
            preds.append(int(model(clip[None]).argmax()))
            targets.append(MODEL_CLASSES.index(DATA_CLASSES[label]))
    return np.array(preds), np.array(targets)


def test_metrics_match_running_the_model(run):
    ckpt, data = run
    r = evaluate_checkpoint(ckpt, data, batch_size=3)
    preds, targets = direct_scores(ckpt, data, range(8))
    assert len(set(preds)) > 1  # the test means something only if predictions vary
    assert r["n_test"] == 8 and r["classes"] == MODEL_CLASSES
    assert r["notes"] == [
        "2 of 3 scored subjects are outside the checkpoint's test fold (fold 1): "
        "they may have been trained on, so this is not a held-out score"
    ]
    assert r["accuracy"] == pytest.approx(float((preds == targets).mean()))
    cm = np.zeros((3, 3), dtype=int)
    np.add.at(cm, (targets, preds), 1)
    assert r["confusion_matrix"] == cm.tolist()
    recalls = [cm[c, c] / cm[c].sum() for c in range(3) if cm[c].sum()]
    assert r["uar"] == pytest.approx(float(np.mean(recalls)))


def test_fold_scores_only_its_test_subjects(run):
    ckpt, data = run
    r = evaluate_checkpoint(ckpt, data, fold=1)  # run dir found from the checkpoint's path
    preds, targets = direct_scores(ckpt, data, [3, 4, 5, 6])  # subject S2's clips
    assert r["n_test"] == 4 and r["fold"] == 1 and r["notes"] == []  # its own held-out fold
    assert r["accuracy"] == pytest.approx(float((preds == targets).mean()))
    with pytest.raises(FervidError, match="no fold 7"):
        evaluate_checkpoint(ckpt, data, fold=7)


def test_not_held_out_note_compares_subjects_not_dataset_names(run):
    """The config names the data `oulu`, the prepared meta.json `oulu-casia`: still the same subjects."""
    ckpt, data = run
    model, meta = load_checkpoint(ckpt)
    meta.extra["dataset"] = "oulu"  # unlike the prepared data's "tiny"
    save_checkpoint(ckpt, model, meta)
    r = evaluate_checkpoint(ckpt, data)
    assert r["notes"] == [
        "2 of 3 scored subjects are outside the checkpoint's test fold (fold 1): "
        "they may have been trained on, so this is not a held-out score"
    ]
    assert evaluate_checkpoint(ckpt, data, fold=1)["notes"] == []


def test_unknown_class_is_named(run, tmp_path):
    ckpt, _ = run
    data = make_prepared(tmp_path / "ck", {"S1": ["anger", "contempt"]}, classes=["anger", "contempt"])
    with pytest.raises(FervidError, match="contempt unknown to the model"):
        evaluate_checkpoint(ckpt, data)


def test_cli_json_and_text(run, capsys):
    ckpt, data = run
    assert main(["evaluate", str(ckpt), "--data", str(data), "--fold", "0", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["n_test"] == 4 and sum(map(sum, r["confusion_matrix"])) == 4
    assert main(["evaluate", str(ckpt), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "all clips: 8 clips" in out and "UAR" in out and "surprise" in out


def test_zero_shot_clip_gives_war_and_uar_on_a_prepared_set(tmp_path, capsys):
    """`fervid evaluate --zero-shot clip`: the dataset's classes, CLIP's FER2013 prompts, a trained model's metrics."""
    from hub_fixtures import tiny_hf_clip

    from fervid.results.predictions import metrics_of, read_predictions

    clip_dir = tmp_path / "clip"
    tiny_hf_clip(context=24).save_pretrained(clip_dir)
    data = make_prepared(tmp_path / "prep", {"s1": ["anger", "happiness", "surprise"], "s2": ["happiness", "anger"]})
    args = ["evaluate", "--zero-shot", "clip", "--zero-shot-weights", str(clip_dir), "--data", str(data)]
    assert main([*args, "--json", "--predictions", str(tmp_path / "p.csv")]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["classes"] == DATA_CLASSES and r["n_test"] == 5 and r["model"] == "clip"
    classes, rows = read_predictions(tmp_path / "p.csv")
    again = metrics_of(rows, classes)  # the same metrics as a trained model's, from the same rows
    assert (r["accuracy"], r["uar"]) == (again["accuracy"], again["uar"]) and 0 <= r["uar"] <= 1
    assert r["notes"][0].startswith("zero-shot clip: not trained on any data") and "FER2013" in r["notes"][0]
    assert r["prompts"]["by_class"]["surprise"][0] == "a photo of a surprised looking face."
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"clip (zero-shot clip: {clip_dir}) on {data}, all clips: 5 clips")
    assert "accuracy (WAR) " in out and " UAR " in out
    assert main([*args, "--test-views", "2"]) == 2
    assert main(["evaluate", "--data", str(data)]) == 2 and "one of them" in capsys.readouterr().err
