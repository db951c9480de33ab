"""Training configs: YAML files (or packaged names like ``oulu/r2plus1d``) plus ``--set`` overrides.

A config is a plain nested dict with the keys of :data:`DEFAULTS`; a file only needs the keys it
changes. Unknown keys are an error (a typo must not silently train something else), except
inside ``model.kwargs`` (the builder's hyper-parameters) and ``data.augment`` (checked by
``fervid.data.transforms.resolve_augment``).

Packaged configs live in ``fervid/configs/<dataset>/<model>.yaml``: ``oulu/*`` and ``ckplus/*``
are the study's full-size settings (a GPU run), ``synth/*`` tiny ones that train on a CPU in
minutes.
"""

from __future__ import annotations

import copy
import os
from importlib import resources
from pathlib import Path
from typing import Any

from fervid.errors import FervidError

MEMORY_FORMATS = ("contiguous", "channels_last")  # trainer.memory_format (fervid.train.module)

DEFAULTS: dict[str, Any] = {
    "dataset": None,  # name for reports; the prepared dir's meta.json is the source of truth
    "seed": 0,
    "epochs": 30,
    "batch_size": 16,  # global: divided over processes under DDP
    "data": {
        "path": None,  # a prepared directory (`fervid prepare`)
        "num_frames": None,  # None: the model's registered default
        "image_size": None,
        "sampling": "uniform",  # evaluation (validation, test, the saved checkpoint)
        "train_sampling": "segment",
        "augment": True,  # True (defaults), False, or strengths over the defaults
        "num_workers": 2,
    },
    "model": {"name": None, "kwargs": {}, "pretrained": None},
    "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05},
    "schedule": {"warmup_epochs": 1.0, "min_lr_ratio": 0.01},  # linear warm-up, then cosine
    "protocol": {
        "folds": None,  # k; None: 10 for id/stratified, the data's own for fixed/holdout
        "rule": "auto",  # auto: fixed/holdout when the manifest has a fold column, else id
        "val_subjects": 0.1,
        "seeds": None,  # a list repeats the whole study per seed; None: the one `seed`
        "test_views": 1,  # temporal clips averaged at test time
        "test_crops": 1,  # spatial crops per clip at test time: 1 or 3
    },
    "trainer": {
        "precision": "auto",  # auto: bf16-mixed (or 16-mixed) on a GPU, 32 on the CPU
        "memory_format": "contiguous",  # or channels_last: conv weights (and so activations) NHWC / NDHWC
        "gradient_clip": 1.0,  # max gradient norm; null disables
        "early_stopping": None,  # patience in epochs on validation UAR; null disables
        "checkpoint_every_n_steps": 20,  # last.ckpt for --resume at most every N steps, and at the end
        "accelerator": "auto",
        "devices": "auto",
        "num_nodes": 1,
        "progress_bar": True,
        "log_every_n_steps": 10,
        "logger": ["csv", "tensorboard"],  # any of csv, tensorboard, wandb, mlflow (train/loggers.py)
    },
}
FREE_FORM = {("model", "kwargs"), ("data", "augment")}  # mappings whose keys are not checked


def packaged_configs() -> list[str]:
    """Names of the packaged configs, e.g. ``["ckplus/c3d", …, "synth/vivit"]``."""
    root = resources.files("fervid") / "configs"
    return sorted(
        f"{d.name}/{f.name[:-5]}" for d in root.iterdir() if d.is_dir() for f in d.iterdir() if f.name.endswith(".yaml")
    )


def _read_yaml(text: str, where: str) -> dict:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise FervidError(f"{where}: invalid YAML ({' '.join(str(e).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FervidError(f"{where}: a config must be a mapping at the top level")
    return data


def read_config_file(spec: str | os.PathLike) -> tuple[dict, str]:
    """The raw mapping of a config file or packaged name, and where it came from."""
    path = Path(spec)
    if path.is_file():
        return _read_yaml(path.read_text(), str(path)), str(path)
    name = str(spec).removesuffix(".yaml")
    ref = resources.files("fervid") / "configs" / f"{name}.yaml"
    if "/" in name and ref.is_file():
        return _read_yaml(ref.read_text(), f"config {name}"), name
    raise FervidError(
        f"config {spec!r}: no such file, nor a packaged config; packaged: {', '.join(packaged_configs())}"
    )


def merge(base: dict, update: dict, where: str, path: tuple[str, ...] = ()) -> dict:
    """``update`` merged over a deep copy of ``base``; unknown keys raise (outside FREE_FORM)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        here = (*path, str(key))
        if here in FREE_FORM:
            # Key by key, so `--set model.kwargs.depth=4` keeps the config's other kwargs.
            both = isinstance(value, dict) and isinstance(base.get(key), dict)
            out[key] = {**out[key], **copy.deepcopy(value)} if both else copy.deepcopy(value)
        elif key not in base:
            known = ", ".join(sorted(base))
            raise FervidError(f"{where}: unknown config key {'.'.join(here)!r} (known here: {known})")
        elif isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise FervidError(f"{where}: {'.'.join(here)} must be a mapping, got {value!r}")
            out[key] = merge(base[key], value, where, here)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(item: str) -> dict:
    """``"optim.lr=3e-4"`` → ``{"optim": {"lr": 0.0003}}``; the value is read as YAML."""
    import yaml

    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise FervidError(f"--set {item!r}: expected key=value, e.g. optim.lr=3e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw  # not YAML: keep the text, e.g. a path with a colon
    if isinstance(value, str):
        value = _yaml11_float(value)
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _yaml11_float(text: str) -> Any:
    """YAML 1.1 reads ``3e-4`` (no dot) as a string; users mean the number."""
    try:
        return float(text) if any(c in text.lower() for c in "e.") and text.strip() else text
    except ValueError:
        return text


def load_config(spec: str | os.PathLike, overrides: list[str] = ()) -> dict:
    """Resolve a config: defaults ← file (or packaged name) ← ``--set`` overrides; validated."""
    raw, where = read_config_file(spec)
    config = merge(DEFAULTS, raw, where)
    for item in overrides:
        config = merge(config, parse_override(item), f"--set {item}")
    validate(config, where)
    return config


def _number(config: dict, key: str, where: str, *, kind=float, low=None, high=None, allow_none=False):
    node = config
    for part in key.split("."):
        node = node[part]
    if node is None and allow_none:
        return
    if isinstance(node, str):
        node = _yaml11_float(node)
    ok = isinstance(node, (int, float)) and not isinstance(node, bool) and (kind is float or float(node).is_integer())
    if ok and ((low is not None and node < low) or (high is not None and node > high)):
        ok = False
    if not ok:
        rng = f" in [{low}, {high}]" if high is not None else (f" >= {low}" if low is not None else "")
        raise FervidError(f"{where}: {key} must be {'an integer' if kind is int else 'a number'}{rng}, got {node!r}")
    parent = config
    parts = key.split(".")
    for part in parts[:-1]:
        parent = parent[part]
    parent[parts[-1]] = kind(node)


def validate(config: dict, where: str) -> None:
    """Check types and ranges in place (numbers normalised to int/float); raise FervidError."""
    if not config["model"]["name"]:
        raise FervidError(f"{where}: model.name is not set")
    for key, low in (
        ("seed", 0),
        ("epochs", 1),
        ("batch_size", 1),
        ("data.num_workers", 0),
        ("trainer.checkpoint_every_n_steps", 1),
        ("trainer.num_nodes", 1),
        ("trainer.log_every_n_steps", 1),
    ):
        _number(config, key, where, kind=int, low=low)
    for key in ("data.num_frames", "data.image_size", "protocol.folds", "trainer.early_stopping"):
        _number(config, key, where, kind=int, low=1, allow_none=True)
    _number(config, "protocol.test_views", where, kind=int, low=1)
    _number(config, "protocol.test_crops", where, kind=int, low=1, high=3)
    _protocol(config["protocol"], where)
    _number(config, "optim.lr", where, low=0)
    _number(config, "optim.weight_decay", where, low=0)
    _number(config, "schedule.warmup_epochs", where, low=0)
    _number(config, "schedule.min_lr_ratio", where, low=0, high=1)
    _number(config, "protocol.val_subjects", where, low=0, high=0.99)
    _number(config, "trainer.gradient_clip", where, low=0, allow_none=True)
    if config["optim"]["name"] not in ("adamw", "sgd"):
        raise FervidError(f"{where}: optim.name {config['optim']['name']!r} is not supported (adamw, sgd)")
    precisions = ("auto", "32", "32-true", "16-mixed", "bf16-mixed", "bf16-true", "64", "64-true")
    config["trainer"]["precision"] = str(config["trainer"]["precision"])
    if config["trainer"]["precision"] not in precisions:
        raise FervidError(f"{where}: trainer.precision must be one of {', '.join(precisions)}")
    if config["trainer"]["memory_format"] not in MEMORY_FORMATS:
        raise FervidError(
            f"{where}: trainer.memory_format must be one of {', '.join(MEMORY_FORMATS)}, "
            f"got {config['trainer']['memory_format']!r}"
        )
    if not isinstance(config["model"]["kwargs"], dict):
        raise FervidError(f"{where}: model.kwargs must be a mapping")
    from fervid.train.loggers import logger_names

    config["trainer"]["logger"] = logger_names(config["trainer"]["logger"], where)
    augment = config["data"]["augment"]
    if not isinstance(augment, (bool, dict)):
        raise FervidError(f"{where}: data.augment must be true, false or a mapping of strengths")
    if config["trainer"]["early_stopping"] is not None and config["protocol"]["val_subjects"] == 0:
        raise FervidError(f"{where}: trainer.early_stopping needs a validation split (protocol.val_subjects > 0)")


def _protocol(p: dict, where: str) -> None:
    from fervid.data.splits import RULES

    if p["rule"] not in RULES:
        raise FervidError(f"{where}: protocol.rule {p['rule']!r} is not one of {', '.join(RULES)}")
    if p["test_crops"] == 2:
        raise FervidError(f"{where}: protocol.test_crops must be 1 or 3, got 2")
    seeds = p["seeds"]
    if seeds is None:
        return
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    ok = (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    )
    if not ok or len(set(seeds)) != len(seeds):
        raise FervidError(
            f"{where}: protocol.seeds must be null or a list of distinct integers >= 0, got {p['seeds']!r}"
        )
    p["seeds"] = seeds


def with_defaults(config: dict, defaults: dict = DEFAULTS) -> dict:
    """``config`` with keys it lacks taken from ``defaults``: a run's config.yaml written before
    a key existed (e.g. ``protocol.seeds``) reads as that key's default, which is what ran."""
    out = dict(config)
    for key, value in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = with_defaults(out[key], value)
    return out


def dump_config(config: dict) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
