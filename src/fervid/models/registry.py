"""One registry of video models, keyed by name.

Each architecture file registers its model class (or, where the class's arguments differ from
the registry's, a typed keyword-only builder) with :func:`register_model`;
``fervid.models`` imports those files explicitly, so there is no import-time magic beyond the
decorator. A duplicate name raises.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from fervid.errors import FervidError
from fervid.hub import IMAGENET_MEAN, IMAGENET_STD, Weights, register_weights
from fervid.models.geometry import fit
from fervid.models.info import Converted, Converter, GeometryReader, ModelInfo  # noqa: F401  (Converted: re-exported for architecture files)

_REGISTRY: dict[str, ModelInfo] = {}
# The study's six architectures (configs oulu/*, ckplus/*); the from-scratch warning names the study for them.
STUDY_MODELS = ("r2plus1d", "tsm", "c3d", "timesformer", "vivit", "cnn_lstm")


def register_model(
    name: str,
    *,
    description: str,
    num_frames: int,
    image_size: int,
    head: tuple[str, ...],
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    convert: Converter | None = None,
    weights: tuple[Weights, ...] = (),
    study_weights: str | None = None,
    geometry: GeometryReader | None = None,
    geometry_keys: tuple[str, ...] = (),
    known_repos: tuple[str, ...] = (),
):
    """Decorator: register ``builder(*, num_classes, num_frames, image_size, **kw) -> nn.Module``
    (a function or an ``nn.Module`` class with that keyword-only signature).

    ``weights``: the model's named pretrained weights (declared beside the builder);
    ``study_weights``: the name among them that the packaged configs start from: the study's start
    for its models, the published recipes' (or the nearest on the hub) beyond it; ``None``: from scratch.
    ``geometry``: reads the builder arguments foreign weights fix; ``geometry_keys``: the builder
    arguments that shape the weights, taken from a fervid checkpoint used as ``pretrained``;
    ``known_repos``: ``hf:`` ids beyond the named weights known to load (listed by ``fervid weights list``).
    """

    def decorate(builder):
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        if any(w.model != name or w.mean is None for w in weights):
            raise ValueError(f"{name}: weights must be declared for model {name!r} with their mean/std")
        if study_weights is not None and study_weights not in {w.name for w in weights}:
            raise ValueError(f"{name}: study_weights {study_weights!r} is not among its weights")
        register_weights(*weights)
        _REGISTRY[name] = ModelInfo(
            name,
            builder,
            description,
            num_frames,
            image_size,
            tuple(mean),
            tuple(std),
            head,
            convert,
            study_weights,
            geometry,
            tuple(geometry_keys),
            tuple(known_repos),
        )
        return builder

    return decorate


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    return sorted(_REGISTRY)


def get_model_info(name: str) -> ModelInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise FervidError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None


def create_model(
    name: str,
    num_classes: int = 6,
    num_frames: int | None = None,
    image_size: int | None = None,
    pretrained: str | os.PathLike | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the logits.
        num_frames, image_size: input clip size; ``None`` takes the pretrained weights' (where they
            record it), else the model's default (its full-size configuration).
        pretrained: a registered weights name of this model (``info.weights``), ``hf:ORG/NAME[@REV]``,
            an ``https://`` URL, or a local file or directory (``fervid.hub.resolve``). The
            model is built with the geometry the weights describe (``fervid.models.geometry``); a
            ``kwargs`` entry that contradicts it is a one-line :class:`PretrainedMismatchError`.
        **kwargs: architecture hyper-parameters of the builder (e.g. ``embed_dim``, ``depth``).

    Returns:
        An ``nn.Module`` mapping ``(B, 3, T, H, W)`` float to logits ``(B, num_classes)``.
        When ``pretrained`` is given, ``model.load_report`` holds the
        :class:`~fervid.models.weights.LoadReport`.
    """
    info = get_model_info(name)
    pre = None
    if pretrained is not None:
        from fervid.models.weights import read_pretrained

        pre = read_pretrained(pretrained, info)
        kwargs, num_frames, image_size = fit(pre.geometry, kwargs, num_frames, image_size, label=pre.label)
    num_frames, image_size = num_frames or info.num_frames, image_size or info.image_size
    try:
        model = info.builder(num_classes=num_classes, num_frames=num_frames, image_size=image_size, **kwargs)
    except ValueError as e:  # sizes torch or torchvision refuse (e.g. a width that cannot be split)
        raise FervidError(f"{name}: {(str(e).strip().splitlines() or ['invalid sizes'])[0]}") from None
    if pre is not None:
        from fervid.models.weights import load_into

        model.load_report = load_into(model, pre, info)
        model.load_report.architecture = dict(kwargs, num_frames=num_frames, image_size=image_size)
    return model


def pretrained_architecture(
    name: str, pretrained: str | os.PathLike, kwargs: dict, num_frames: int | None = None, image_size: int | None = None
) -> tuple[dict, int | None, int | None]:
    """``(kwargs, num_frames, image_size)`` completed with the geometry of ``pretrained``, as
    :func:`create_model` would build it, without building it (tensor shapes only are read): what a
    run's config records, so that its checkpoints rebuild the same network."""
    from fervid.models.weights import read_pretrained

    pre = read_pretrained(pretrained, get_model_info(name), lazy=True)
    return fit(pre.geometry, dict(kwargs), num_frames, image_size, label=pre.label)


def from_scratch_warning(name: str, kwargs: dict, pretrained: str | None) -> str | None:
    """One warning line when a full-size model (its registered architecture, counted in parameters)
    trains from scratch although the study, or the published results of a model beyond it, started
    from named weights; ``None`` otherwise."""
    import inspect

    info = get_model_info(name)
    if pretrained is not None or info.study_weights is None:
        return None
    if "class_names" in inspect.signature(info.builder).parameters:  # clip's text head: training fills them
        kwargs = {"class_names": [f"class {i}" for i in range(6)], **kwargs}
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    try:
        with torch.device("meta"):  # no memory, no initialisation work
            full = count(create_model(name, **kwargs)) >= count(create_model(name))
    except (TypeError, FervidError):  # bad kwargs: training reports them
        return None
    if not full:
        return None
    start_name = info.study_weights
    start = f"{name}/{start_name}"
    why = (
        f"the study started it from {start}"
        if name in STUDY_MODELS
        else f"published results for it start from pretrained weights, as the packaged configs do from {start}"
    )
    return f"warning: training {name} from scratch, but {why}; to start there: --set model.pretrained={start_name}"
