"""The model a config describes: its sizes, class names and pretrained geometry resolved, then built.

Shared by training a fold (:mod:`fervid.train.fold`) and scoring it (:mod:`fervid.train.fold_result`).
"""

from __future__ import annotations

from fervid.errors import FervidError


def resolve_pretrained_geometry(config: dict) -> None:
    """``model.kwargs`` (and ``data`` sizes left ``None``) completed with the geometry of
    ``model.pretrained`` (``fervid.models.geometry``), so that config.yaml and every checkpoint
    record the network the weights describe; a contradicting kwarg is a one-line error."""
    from fervid.models.registry import pretrained_architecture

    m, d = config["model"], config["data"]
    if m["pretrained"] is None:
        return
    m["kwargs"], d["num_frames"], d["image_size"] = pretrained_architecture(
        m["name"], str(m["pretrained"]), m["kwargs"], d["num_frames"], d["image_size"]
    )


def resolve_model_sizes(config: dict) -> None:
    """Fill ``data.num_frames``/``image_size`` left ``None`` from the model's registered defaults."""
    from fervid.models import get_model_info

    info = get_model_info(config["model"]["name"])
    config["data"]["num_frames"] = config["data"]["num_frames"] or info.num_frames
    config["data"]["image_size"] = config["data"]["image_size"] or info.image_size


def resolve_class_names(config: dict, classes: list[str]) -> None:
    """A model that names its classes (a ``class_names`` builder argument: clip's text head) gets the
    prepared data's, whose order is the label order; different names in the config are an error."""
    import inspect

    from fervid.models import get_model_info

    if "class_names" not in inspect.signature(get_model_info(config["model"]["name"]).builder).parameters:
        return
    kwargs = config["model"]["kwargs"]
    given = kwargs.get("class_names")
    if given is None:
        kwargs["class_names"] = list(classes)
    elif list(given) != list(classes):
        raise FervidError(
            f"model.kwargs.class_names {list(given)} differ from the prepared data's classes "
            f"{list(classes)} (their order is the label order); leave class_names out"
        )


def weights_normalisation(info, model):
    """``info`` with the mean/std of the weights ``model`` started from (its load report), else as is.

    Training, evaluation and the saved checkpoint (so ``predict``) all read ``info.mean/std``.
    """
    import dataclasses

    report = getattr(model, "load_report", None)
    if report is None or report.mean is None:
        return info
    return dataclasses.replace(info, mean=tuple(report.mean), std=tuple(report.std))


def build_model(config: dict, num_classes: int, *, pretrained: str | None = None):
    """The config's model; a wrong ``model.kwargs`` is a one-line error, not a traceback."""
    from fervid.models import create_model

    m, d = config["model"], config["data"]
    try:
        return create_model(
            m["name"],
            num_classes=num_classes,
            num_frames=d["num_frames"],
            image_size=d["image_size"],
            pretrained=pretrained,
            **m["kwargs"],
        )
    except TypeError as e:
        raise FervidError(f"model.kwargs {m['kwargs']} do not fit model {m['name']!r}: {e}") from None
