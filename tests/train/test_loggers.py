"""trainer.logger: the names it takes, the one-line error for a missing extra, and a real MLflow
file store written by a tiny training run and read back."""

from __future__ import annotations

import json
import sys

import pytest
from tiny_prepared import TINY_C3D, make_prepared

from fervid.cli import main
from fervid.errors import FervidError
from fervid.train.config import load_config
from fervid.train.loggers import build_loggers, logger_names
from fervid.train.run import train_run

FAST = ["data.num_workers=0", "trainer.progress_bar=false", "batch_size=6", "protocol.folds=2", "epochs=2"]


def tiny_config(tmp_path, *extra):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("dataset: tiny\nmodel: {name: c3d}\n")
    return load_config(cfg, [*TINY_C3D, *FAST, f"data.path={tmp_path / 'data'}", *extra])


def test_logger_names():
    assert logger_names("mlflow", "x") == ["mlflow"]
    assert logger_names(["csv", "wandb", "csv"], "x") == ["csv", "wandb"]
    assert logger_names(None, "x") == [] and logger_names([], "x") == []
    with pytest.raises(FervidError, match="'comet' is not one of csv, tensorboard, wandb, mlflow"):
        logger_names(["csv", "comet"], "x")
    with pytest.raises(FervidError, match="must be a name or a list"):
        logger_names({"csv": 1}, "x")


def test_config_default_and_override(tmp_path):
    assert tiny_config(tmp_path)["trainer"]["logger"] == ["csv", "tensorboard"]
    assert tiny_config(tmp_path, "trainer.logger=mlflow")["trainer"]["logger"] == ["mlflow"]
    assert tiny_config(tmp_path, "trainer.logger=[csv, wandb]")["trainer"]["logger"] == ["csv", "wandb"]
    with pytest.raises(FervidError, match="trainer.logger 'neptune' is not one of"):
        tiny_config(tmp_path, "trainer.logger=neptune")


@pytest.mark.parametrize("name", ["wandb", "mlflow"])
def test_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch, name):
    monkeypatch.setitem(sys.modules, name, None)  # `import wandb` now raises ImportError
    with pytest.raises(FervidError) as e:
        build_loggers(["csv", name], tmp_path / "run" / "fold_00")
    assert str(e.value) == f"trainer.logger {name!r} needs the {name} package: pip install 'fervid[{name}]'"


def test_missing_extra_from_the_cli(tmp_path, monkeypatch, capsys):
    make_prepared(tmp_path / "data", subjects=4)
    (tmp_path / "cfg.yaml").write_text("dataset: tiny\nmodel: {name: c3d}\n")
    monkeypatch.setitem(sys.modules, "mlflow", None)
    sets = [a for s in [*TINY_C3D, *FAST, "trainer.logger=[csv, mlflow]"] for a in ("--set", s)]
    code = main(
        [
            "train",
            str(tmp_path / "cfg.yaml"),
            "--data",
            str(tmp_path / "data"),
            "--run-dir",
            str(tmp_path / "run"),
            *sets,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err == "fervid train: error: trainer.logger 'mlflow' needs the mlflow package: pip install 'fervid[mlflow]'"


def _no_env(monkeypatch, *names):
    for name in names:  # set first, so that the teardown also removes a value fervid sets
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """Two folds of a tiny run logged to csv, a local MLflow store and an offline wandb run."""
    pytest.importorskip("mlflow", reason="the mlflow extra (in the test extra) is not installed")
    pytest.importorskip("wandb", reason="the wandb extra (in the test extra) is not installed")
    tmp = tmp_path_factory.mktemp("loggers")
    with pytest.MonkeyPatch.context() as mp:
        _no_env(mp, "MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "WANDB_PROJECT")
        for key, value in {
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_CONFIG_DIR": tmp / "wb-config",
            "WANDB_CACHE_DIR": tmp / "wb-cache",
            "WANDB_DATA_DIR": tmp / "wb-data",
        }.items():
            mp.setenv(key, str(value))  # no account, no network, nothing written outside tmp
        make_prepared(tmp / "data", subjects=4)
        config = tiny_config(tmp, "trainer.logger=[csv, mlflow, wandb]", "trainer.log_every_n_steps=1")
        run = tmp / "my-run"
        train_run(config, run)
        yield run


@pytest.mark.slow  # a training with both loggers
def test_mlflow_file_store_in_the_run_directory(logged_run):
    from mlflow.tracking import MlflowClient

    run = logged_run
    client = MlflowClient(f"file:{run / 'mlruns'}")  # no server: the store is files in the run directory
    experiment = client.get_experiment_by_name("my-run")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["fold_00", "fold_01"]
    for i in range(2):
        history = json.loads((run / f"fold_{i:02d}" / "result.json").read_text())["history"]
        logged = client.get_metric_history(runs[f"fold_{i:02d}"].info.run_id, "val_uar")
        assert [round(m.value, 6) for m in sorted(logged, key=lambda m: m.step)] == [
            round(h["val_uar"], 6) for h in history
        ]
        assert client.get_metric_history(runs[f"fold_{i:02d}"].info.run_id, "train_loss")
        assert runs[f"fold_{i:02d}"].info.status == "FINISHED"
        assert (run / f"fold_{i:02d}" / "metrics.csv").is_file()  # csv still listed, still written
        assert not (run / f"fold_{i:02d}" / "tb").exists()  # tensorboard not listed


@pytest.mark.slow  # a training with both loggers
def test_wandb_offline_run_per_fold(logged_run):
    # One offline run per fold (Lightning leaves a wandb run open; without FoldWandbLogger the
    # second fold logged into the first fold's run), each holding its fold's metrics.
    files = sorted((logged_run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 2
    data = [f.read_bytes() for f in files]
    assert sorted(i for i in range(2) for d in data if f"my-run/fold_{i:02d}".encode() in d) == [0, 1]
    assert all(b"val_uar" in d and b"train_loss" in d for d in data)


def test_mlflow_tracking_uri_from_the_environment(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra (in the test extra) is not installed")
    _no_env(monkeypatch, "MLFLOW_ALLOW_FILE_STORE")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file:{tmp_path / 'elsewhere'}")
    (logger,) = build_loggers(["mlflow"], tmp_path / "run" / "fold_00")
    logger.log_metrics({"val_uar": 0.5}, step=0)
    logger.finalize("success")
    assert (tmp_path / "elsewhere").is_dir() and not (tmp_path / "run" / "mlruns").exists()
