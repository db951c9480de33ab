"""Zero-shot expression labels with CLIP: no training, the same :class:`Predictor` as a checkpoint.

    >>> from fervid import load_zero_shot, predict_video
    >>> predictor = load_zero_shot(neutral=True)   # clip/openai: OpenAI CLIP ViT-B/16, cached once
    >>> predict_video("clip.mp4", predictor).label

What a window's probabilities are: the window's ``num_frames`` face crops (sampled as for a
trained model, default 8) go through CLIP's image tower; their L2-normalised embeddings are
averaged (``clip`` with ``temporal_depth=0``: there is no trained temporal transformer); the
cosine similarity of that mean with each class's text embedding, times CLIP's
``exp(logit_scale)``, goes through a softmax. A class's text embedding is the normalised mean of
its prompts' normalised embeddings (CLIP's prompt ensembling). The face pipeline, windows,
JSON/CSV and timeline plot are those of any checkpoint.

The prompts: by default CLIP's own zero-shot recipe for FER2013
(:data:`fervid.models.clip_text.FER_TEMPLATES`: each class named by its adjective, "a photo of a
happy looking face.", six templates); ``templates`` replaces the templates (filled with the same
adjectives); ``prompts`` (a mapping, or a YAML file: class name -> list of prompts or
descriptions, any punctuation) gives each class its own texts, as DFER-CLIP's facial-action
descriptions do. Whatever was used is recorded in ``predictor.meta.extra["prompts"]`` (and so in
the JSON of ``fervid predict`` and in a saved checkpoint).

``weights`` is the one argument that says where CLIP comes from, anything ``pretrained=`` takes
for ``clip`` (:func:`fervid.hub.resolve`): a named weight (default ``openai``, OpenAI's
ViT-B/16; ``openai_b32``), fetched once into the Hugging Face cache and read from it offline
(``HF_HUB_OFFLINE=1``; without the files a one-line error naming ``fervid weights download``),
an ``hf:ORG/NAME`` id, a URL, a local Hugging Face ``CLIPModel`` save directory or an open_clip
state-dict file. The architecture (ViT-B/16, B/32, L/14, …), its activation and the image size
come from the weights (``create_model``'s geometry rule).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from fervid.checkpoint import CheckpointMeta
from fervid.classes import BASIC6
from fervid.errors import FervidError
from fervid.inference.api import Predictor

ZERO_SHOT_MODELS = ("clip",)
ZERO_SHOT_FRAMES = 8  # frames per window: zero-shot cost is one image-tower pass per frame
DEFAULT_WEIGHTS = "openai"  # clip/openai: OpenAI CLIP ViT-B/16
FER_RECIPE = "CLIP's FER2013 zero-shot recipe (Radford et al. 2021; openai/CLIP data/prompts.md): class adjectives"


def zero_shot_classes(classes: Sequence[str] | None = None, *, neutral: bool = False) -> list[str]:
    """The label set: ``classes`` as given (stripped, in order), else the six basic emotions
    (plus ``neutral`` when asked). The names are the labels; the prompts use their adjectives."""
    names = [c.strip() for c in classes] if classes is not None else list(BASIC6)
    if classes is None and neutral:
        names.append("neutral")
    if len(names) < 2 or any(not n for n in names):
        raise FervidError(f"zero-shot classes {names}: give at least two non-empty class names")
    if len(set(names)) != len(names):
        raise FervidError(f"zero-shot classes {names}: a name is repeated")
    return names


def read_prompts(path: str | os.PathLike) -> dict[str, list[str]]:
    """A prompts file: a YAML mapping of class name to a prompt or a list of prompts, in label order.

    Any text goes (commas, colons, quotes as YAML allows); each class needs at least one prompt.
    """
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise FervidError(
            f"{path}: not a readable YAML prompts file ({type(e).__name__}: {e})".splitlines()[0]
        ) from None
    if not isinstance(doc, dict):
        raise FervidError(f"{path}: a prompts file maps each class name to its prompts (class: [prompt, ...])")
    prompts = {}
    for name, texts in doc.items():
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise FervidError(f"{path}: class {name!r} needs a prompt or a list of non-empty prompts")
        prompts[str(name).strip()] = [t.strip() for t in texts]
    zero_shot_classes(list(prompts))  # at least two classes, none repeated
    return prompts


def _prompts(
    classes: Sequence[str] | None,
    neutral: bool,
    templates: Sequence[str] | None,
    prompts: Mapping[str, Sequence[str]] | str | os.PathLike | None,
) -> dict:
    """``{"recipe", "templates", "by_class": {class: [prompt, ...]}}`` for the label set asked for."""
    from fervid.models.clip_text import FER_TEMPLATES, class_prompts, expression_word

    if prompts is not None:
        if classes is not None or neutral or templates is not None:
            raise FervidError("prompts name the classes and their texts: leave classes, neutral and templates out")
        recipe = "the prompts given"
        if isinstance(prompts, (str, os.PathLike)):
            recipe, prompts = f"prompts from {prompts}", read_prompts(prompts)
        by_class = {str(c).strip(): [str(t) for t in ts] for c, ts in prompts.items()}
        zero_shot_classes(list(by_class))
        return {"recipe": recipe, "templates": None, "by_class": by_class}
    names = zero_shot_classes(classes, neutral=neutral)
    used = list(templates or FER_TEMPLATES)
    recipe = FER_RECIPE + (" in six templates" if templates is None else " in the templates given")
    by_class = {n: class_prompts([expression_word(n)], used, 0) for n in names}
    return {"recipe": recipe, "templates": used, "by_class": by_class}


def load_zero_shot(
    weights: str | os.PathLike | None = None,
    *,
    model: str = "clip",
    classes: Sequence[str] | None = None,
    neutral: bool = False,
    templates: Sequence[str] | None = None,
    prompts: Mapping[str, Sequence[str]] | str | os.PathLike | None = None,
    num_frames: int = ZERO_SHOT_FRAMES,
    preprocess: dict | None = None,
    device: str | torch.device = "cpu",
) -> Predictor:
    """A :class:`Predictor` that labels expressions zero-shot (see the module docstring).

    Args:
        weights: where CLIP's weights come from: a named weight of ``clip`` (``None``:
            :data:`DEFAULT_WEIGHTS`), ``hf:ORG/NAME[@REV]``, a URL, a Hugging Face save directory
            or an open_clip state-dict file.
        classes, neutral: the label set (:func:`zero_shot_classes`).
        templates: prompt templates with one ``{}`` for the class adjective (default: CLIP's FER2013 six).
        prompts: per-class prompts or descriptions, a mapping or a YAML file (:func:`read_prompts`);
            its class names are the label set (instead of ``classes``/``neutral``/``templates``).
        num_frames: frames sampled per window.
        preprocess: a :class:`~fervid.data.faces.FaceCropper` config (default: the default
            detector, crops of the weights' image size).
    """
    from fervid.data.faces import FaceCropper
    from fervid.models import create_model
    from fervid.models.clip import CLIP_MEAN, CLIP_STD

    if model not in ZERO_SHOT_MODELS:
        raise FervidError(f"zero-shot model {model!r}: choose from {', '.join(ZERO_SHOT_MODELS)}")
    record = _prompts(classes, neutral, templates, prompts)
    names = list(record["by_class"])
    spec = str(weights) if weights is not None else DEFAULT_WEIGHTS
    text = dict(head="text", temporal_depth=0, class_names=names, prompts=list(record["by_class"].values()))
    net = create_model(model, num_classes=len(names), num_frames=num_frames, pretrained=spec, **text)
    built = dict(net.load_report.architecture)
    image_size = built.pop("image_size")
    built.pop("num_frames")
    meta = CheckpointMeta(
        model=model,
        num_classes=len(names),
        num_frames=num_frames,
        image_size=image_size,
        classes=names,
        mean=list(net.load_report.mean or CLIP_MEAN),  # the weights' own, where they record it
        std=list(net.load_report.std or CLIP_STD),
        model_kwargs=built,
        preprocess=preprocess if preprocess is not None else FaceCropper(size=image_size).config,
        sampling="uniform",
        extra={"zero_shot": True, "weights": spec, "prompts": record},
    )
    return Predictor(net.to(device), meta, source=f"zero-shot {model}: {net.load_report.source}")
