"""write_report on hand-written run directories (FIXTURES: see report_fixtures.py)."""

import json
import math

import pytest
from report_fixtures import CLASSES, FOLDS, assert_png, make_run

from fervid.checkpoint import CheckpointMeta, save_checkpoint
from fervid.cli import main
from fervid.errors import FervidError
from fervid.models import create_model
from fervid.results.report import build_results, render_markdown, write_report


def test_results_json_schema_and_values(tmp_path):
    run = make_run(tmp_path / "run")
    r = write_report(run)
    on_disk = json.loads((run / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(r))
    assert {"model", "dataset", "protocol", "classes", "folds", "mean", "std"} <= set(on_disk)
    assert r["model"] == "c3d" and r["dataset"] == "synth" and r["classes"] == CLASSES
    assert r["protocol"] == "3-fold subject-independent"
    assert r["complete"] is True and r["n_folds"] == r["n_folds_expected"] == 3
    for fold in r["folds"]:
        assert {"fold", "accuracy", "uar", "macro_f1", "confusion_matrix", "n_test"} <= set(fold)
    accs = [FOLDS[i]["accuracy"] for i in range(3)]  # 0.75, 1.0, 0.5
    assert r["mean"]["accuracy"] == pytest.approx(0.75)
    assert r["std"]["accuracy"] == pytest.approx(math.sqrt(sum((a - 0.75) ** 2 for a in accs) / 2))
    assert r["mean"]["uar"] == pytest.approx((5 / 6 + 1 + 1 / 2) / 3)
    assert r["confusion_matrix_sum"] == [[3, 1, 0], [1, 2, 0], [0, 0, 2]]
    assert r["n_test_total"] == 9 and r["train_time_s"] == pytest.approx(60.0)
    assert r["split"]["rule"] == "id" and r["split"]["k"] == 3


def test_report_md_names_protocol_and_plots_are_images(tmp_path):
    run = make_run(tmp_path / "run")
    r = write_report(run)
    md = (run / "report.md").read_text()
    assert "3-fold subject-independent" in md and "rule 'id'" in md and "seed 0" in md
    assert (
        "scored once" in md
        and "- fold 1: best val UAR (epoch 2 of 3)" in md
        and "25 % of each fold's training subjects" in md
    )
    assert "75.0 ± 25.0" in md  # mean ± sample std of accuracy (0.75, 1.0, 0.5)
    assert "incomplete" not in md.lower()
    assert set(r["plots"]) == {"confusion", "folds", "curves"}
    for name in r["plots"].values():
        assert f"]({name})" in md
        assert_png(run / name)


def test_incomplete_run_is_flagged(tmp_path):
    run = make_run(tmp_path / "run", folds=(0, 2), k=3)
    r = build_results(run)
    assert r["complete"] is False and r["folds_missing"] == [1]
    assert r["n_folds"] == 2 and r["n_folds_expected"] == 3
    assert r["mean"]["accuracy"] == pytest.approx((0.75 + 0.5) / 2)
    md = render_markdown(r)
    assert "2/3 folds" in md and "Incomplete run" in md


def test_single_fold_has_null_std(tmp_path):
    run = make_run(tmp_path / "run", folds=(1,), k=3)
    r = build_results(run)
    assert r["std"] == {"accuracy": None, "uar": None, "macro_f1": None}
    assert "**100.0**" in render_markdown(r)


def test_folds_from_other_machines_merge(tmp_path):
    """Folds trained elsewhere with --fold I: copying fold_XX into RUN completes the report."""
    run = make_run(tmp_path / "run", folds=(0,), k=3)
    assert build_results(run)["complete"] is False
    other = make_run(tmp_path / "other" / "run", folds=(1, 2), k=3)
    for i in (1, 2):
        (run / f"fold_{i:02d}").mkdir()
        (run / f"fold_{i:02d}" / "result.json").write_bytes((other / f"fold_{i:02d}" / "result.json").read_bytes())
    r = build_results(run)
    assert r["complete"] is True and [f["fold"] for f in r["folds"]] == [0, 1, 2]


def test_bad_fold_result_is_one_line_error(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    path = run / "fold_01" / "result.json"
    bad = json.loads(path.read_text())
    bad["n_test"] = 99
    path.write_text(json.dumps(bad))
    with pytest.raises(FervidError, match="n_test says 99"):
        write_report(run)
    del bad["uar"]
    path.write_text(json.dumps(bad))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "fold_01/result.json: fold result lacks uar" in err and len(err.strip().splitlines()) == 1


def test_cli_report(tmp_path, capsys):
    run = make_run(tmp_path / "run", folds=(0, 1), k=3)
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "2/3 folds (incomplete: folds 2 missing)" in out and "accuracy 87.5 ± 17.7 %" in out


def _save_tiny_c3d(path, classes, hidden, extra=None):
    model = create_model("c3d", num_classes=3, num_frames=8, image_size=16, hidden=hidden)
    save_checkpoint(
        path,
        model,
        CheckpointMeta(
            model="c3d",
            num_classes=3,
            num_frames=8,
            image_size=16,
            classes=classes,
            mean=[0.5] * 3,
            std=[0.25] * 3,
            model_kwargs={"hidden": hidden},
            extra=extra or {},
        ),
    )


def test_checkpoint_classes_win_and_mixed_runs_are_refused(tmp_path):
    run = make_run(tmp_path / "run")
    order = ["surprise", "anger", "happiness"]  # the model's output order, unlike meta.json's
    _save_tiny_c3d(run / "fold_00" / "model.safetensors", order, hidden=8)
    _save_tiny_c3d(run / "fold_01" / "model.safetensors", order, hidden=8)
    r = build_results(run)
    assert r["classes"] == order
    built = create_model("c3d", num_classes=3, num_frames=8, image_size=16, hidden=8)
    assert r["params"] == sum(p.numel() for p in built.parameters())  # counted with the checkpoint's kwargs
    _save_tiny_c3d(run / "fold_02" / "model.safetensors", order, hidden=16)  # another run's fold
    with pytest.raises(FervidError, match="fold_02/model.safetensors: model_kwargs .* folds of different runs"):
        build_results(run)


def test_fold_of_another_run_is_refused(tmp_path, capsys):
    """A fold_XX copied in from a run with another seed (or rule, or test subjects) is named, not averaged."""
    run = make_run(tmp_path / "run")

    def save(fold, **extra):
        fold_meta = {"seed": 0, "rule": "id", "fold": fold, "test_subjects": [f"S{fold}"], **extra}
        _save_tiny_c3d(run / f"fold_{fold:02d}" / "model.safetensors", CLASSES, 8, extra=fold_meta)

    save(0)
    save(1)
    save(2)
    build_results(run)  # all three match folds.json
    for extra, what in (
        ({"seed": 1}, "seed 1"),
        ({"rule": "stratified"}, "rule 'stratified'"),
        ({"test_subjects": ["S9"]}, "test subjects"),
    ):
        save(1, **extra)
        with pytest.raises(FervidError, match=f"fold_01/model.safetensors: {what}.*folds.json"):
            build_results(run)
    assert main(["report", str(run)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    save(1)
    result = run / "fold_01" / "result.json"
    result.write_text(json.dumps({**json.loads(result.read_text()), "seed": 3}))
    with pytest.raises(FervidError, match="fold_01/result.json: seed 3.*folds.json"):
        build_results(run)
