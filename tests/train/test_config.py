"""Configs: every packaged one loads and builds its model; overrides are typed and checked."""

from __future__ import annotations

import pytest
import torch

from fervid.classes import BASIC6
from fervid.data.readers.mafw import CLASSES as MAFW_CLASSES
from fervid.errors import FervidError
from fervid.train.config import load_config, packaged_configs, parse_override
from fervid.train.model_setup import build_model, resolve_class_names, resolve_model_sizes

MODELS = {"r2plus1d", "tsm", "c3d", "timesformer", "vivit", "cnn_lstm"}
WILD = {"dfew": [*BASIC6, "neutral"], "ferv39k": [*BASIC6, "neutral"], "mafw": list(MAFW_CLASSES)}


def test_every_dataset_has_every_model():
    names = packaged_configs()
    for ds in ("oulu", "ckplus", "synth"):  # synth: also tiny clip and videomae (not in the timed demo)
        extra = {"clip", "videomae"} if ds == "synth" else set()
        assert {n.split("/")[1] for n in names if n.startswith(ds + "/")} == MODELS | extra
    for ds in WILD:  # the in-the-wild benchmarks: today's two families and the study's 3D-CNN
        assert {n.split("/")[1] for n in names if n.startswith(ds + "/")} == {"clip", "videomae", "r2plus1d"}


@pytest.mark.parametrize("name", packaged_configs())
def test_packaged_config_loads_and_builds(name):
    config = load_config(name)
    ds, model = name.split("/")
    assert config["dataset"] == ds and config["model"]["name"] == model
    resolve_model_sizes(config)
    classes = WILD.get(ds, [*BASIC6, "contempt"] if ds == "ckplus" else list(BASIC6))
    resolve_class_names(config, classes)
    num_classes = len(classes)
    if ds == "synth":  # tiny: really built and run on one clip
        model_ = build_model(config, num_classes)
        d = config["data"]
        out = model_.eval()(torch.zeros(1, 3, d["num_frames"], d["image_size"], d["image_size"]))
        assert out.shape == (1, num_classes)
        assert config["protocol"]["folds"] >= 2
    else:  # the study's full-size settings: built on the meta device (no memory, no compute)
        with torch.device("meta"):
            model_ = build_model(config, num_classes)
        assert sum(p.numel() for p in model_.parameters()) > 1_000_000
        p = config["protocol"]  # rule auto: id and 10 folds on Oulu-CASIA / CK+, the official folds / split in the wild
        assert (p["folds"], p["rule"], p["val_subjects"], p["seeds"]) == (None, "auto", 0.1, None)
        if ds in WILD:
            assert config["data"]["num_frames"] == 16


def test_overrides_are_yaml_typed():
    config = load_config(
        "synth/c3d",
        ["seed=7", "optim.lr=3e-4", "trainer.early_stopping=5", "model.kwargs={hidden: 16}", "data.augment=false"],
    )
    assert config["seed"] == 7 and config["optim"]["lr"] == pytest.approx(3e-4)
    assert config["trainer"]["early_stopping"] == 5
    assert config["model"]["kwargs"] == {"channels": [16, 32], "hidden": 16, "conv_dropout": 0.0, "dropout": 0.0}
    assert config["data"]["augment"] is False
    # one kwarg by its dotted key: the config's other kwargs stay
    deep = load_config("synth/c3d", ["model.kwargs.hidden=16"])
    assert deep["model"]["kwargs"] == config["model"]["kwargs"]
    assert parse_override("data.path=/a:b") == {"data": {"path": "/a:b"}}


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "unknown config key 'optim.lrr'"),
        ("epochs=0", "epochs must be an integer >= 1"),
        ("protocol.val_subjects=1.5", "protocol.val_subjects"),
        ("nonsense", "expected key=value"),
        ("data=3", "data must be a mapping"),
        ("optim.name=adam", "optim.name 'adam' is not supported"),
    ],
)
def test_bad_overrides_are_one_line_errors(override, message):
    with pytest.raises(FervidError, match=message):
        load_config("synth/c3d", [override])


def test_file_config_and_unknown_name(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("model: {name: c3d}\nepochs: 3\n")
    config = load_config(path)
    assert config["epochs"] == 3 and config["batch_size"] == 16  # defaults fill the rest
    with pytest.raises(FervidError, match="packaged"):
        load_config("oulu/nosuchmodel")
    path.write_text("model: [unclosed\n")
    with pytest.raises(FervidError, match="invalid YAML"):
        load_config(path)


def test_wrong_model_kwargs_are_a_fervid_error():
    config = load_config("synth/c3d", ["model.kwargs={depth: 3}"])
    resolve_model_sizes(config)
    with pytest.raises(FervidError, match="model.kwargs"):
        build_model(config, 6)


@pytest.mark.parametrize("name, kind", [("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_optimiser_choice_reaches_the_module(name, kind):
    from fervid.train.module import ClipClassifier

    config = load_config("synth/c3d", [f"optim.name={name}", "optim.lr=0.05", "optim.weight_decay=0.01"])
    module = ClipClassifier(
        torch.nn.Linear(4, 2),
        num_classes=2,
        optimizer=config["optim"]["name"],
        lr=config["optim"]["lr"],
        weight_decay=config["optim"]["weight_decay"],
        warmup_epochs=0,
        min_lr_ratio=0.1,
        steps_per_epoch=2,
        epochs=2,
        fold=0,
    )
    optimizer = module.configure_optimizers()["optimizer"]
    assert type(optimizer) is kind and optimizer.defaults["lr"] == 0.05
    decay, no_decay = optimizer.param_groups  # weight matrix decays, bias does not
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.01, 0.0)
    if kind is torch.optim.SGD:
        assert optimizer.defaults["momentum"] == 0.9 and optimizer.defaults["nesterov"]


def test_config_of_an_older_run_reads_new_keys_as_their_defaults():
    from fervid.train.config import DEFAULTS, with_defaults

    old = {"seed": 3, "protocol": {"folds": 10, "rule": "id", "val_subjects": 0.1}, "model": {"kwargs": {"a": 1}}}
    filled = with_defaults(old)
    assert filled["protocol"] == {**DEFAULTS["protocol"], "folds": 10, "rule": "id"}  # seeds, test views: defaults
    assert filled["seed"] == 3 and filled["model"] == {**DEFAULTS["model"], "kwargs": {"a": 1}}
    assert old["protocol"] == {"folds": 10, "rule": "id", "val_subjects": 0.1}  # not modified


def test_protocol_keys_are_checked():
    for bad in (
        "protocol.seeds=[1, 1]",
        "protocol.seeds=[-1]",
        "protocol.seeds=[a]",
        "protocol.test_crops=2",
        "protocol.test_views=0",
        "protocol.rule=clips",
    ):
        with pytest.raises(FervidError, match="protocol"):
            load_config("synth/c3d", [bad])
    assert load_config("synth/c3d", ["protocol.seeds=4"])["protocol"]["seeds"] == [4]
