"""Zero-shot expression labels with CLIP: no training, the same :class:`Predictor` as a checkpoint.

    >>> from fervid import load_zero_shot, predict_video
    >>> predictor = load_zero_shot(neutral=True)   # clip/openai: OpenAI CLIP ViT-B/16, cached once
    >>> predict_video("clip.mp4", predictor).label

What a window's probabilities are: the window's ``num_frames`` face crops (sampled as for a
trained model, default 8) go through CLIP's image tower; their L2-normalised embeddings are
averaged (``clip`` with ``temporal_depth=0``: there is no trained temporal transformer); the
cosine similarity of that mean with each class's text embedding, times CLIP's
``exp(logit_scale)``, goes through a softmax. A class's text embedding is the normalised mean of
its prompts' normalised embeddings, one prompt per template of
:data:`fervid.models.clip_text.DEFAULT_TEMPLATES` (CLIP's prompt ensembling). The face
pipeline, windows, JSON/CSV and timeline plot are those of any checkpoint.

``weights`` is the one argument that says where CLIP comes from, anything ``pretrained=`` takes
for ``clip`` (:func:`fervid.models.hub.resolve`): a named weight (default ``openai``, OpenAI's
ViT-B/16; ``openai_b32``), fetched once into the Hugging Face cache and read from it offline
(``HF_HUB_OFFLINE=1``; without the files a one-line error naming ``fervid weights download``),
an ``hf:ORG/NAME`` id, a URL, a local Hugging Face ``CLIPModel`` save directory or an open_clip
state-dict file. The architecture (ViT-B/16, B/32, …) is read from the weights' shapes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from fervid.checkpoint import CheckpointMeta
from fervid.classes import BASIC6
from fervid.errors import FervidError
from fervid.inference.api import Predictor

ZERO_SHOT_MODELS = ("clip",)
ZERO_SHOT_FRAMES = 8  # frames per window: zero-shot cost is one image-tower pass per frame
DEFAULT_WEIGHTS = "openai"  # clip/openai: OpenAI CLIP ViT-B/16


def zero_shot_classes(classes: Sequence[str] | None = None, *, neutral: bool = False) -> list[str]:
    """The label set: ``classes`` as given (stripped, in order), else the six basic emotions
    (plus ``neutral`` when asked). Names go into the prompts verbatim."""
    names = [c.strip() for c in classes] if classes is not None else list(BASIC6)
    if classes is None and neutral:
        names.append("neutral")
    if len(names) < 2 or any(not n for n in names):
        raise FervidError(f"zero-shot classes {names}: give at least two non-empty class names")
    if len(set(names)) != len(names):
        raise FervidError(f"zero-shot classes {names}: a name is repeated")
    return names


def load_zero_shot(
    weights: str | os.PathLike | None = None,
    *,
    model: str = "clip",
    classes: Sequence[str] | None = None,
    neutral: bool = False,
    templates: Sequence[str] | None = None,
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
        templates: prompt templates with one ``{}`` for the class name (default: fervid's set).
        num_frames: frames sampled per window.
        preprocess: a :class:`~fervid.data.faces.FaceCropper` config (default: the default
            detector, crops of the weights' image size).
    """
    from fervid.data.faces import FaceCropper
    from fervid.models import create_model, get_model_info
    from fervid.models.clip import CLIP_MEAN, CLIP_STD
    from fervid.models.clip_convert import clip_architecture, convert_clip
    from fervid.models.clip_text import DEFAULT_TEMPLATES
    from fervid.models.hub import resolve
    from fervid.models.weights import load_converted, read_state_dict

    if model not in ZERO_SHOT_MODELS:
        raise FervidError(f"zero-shot model {model!r}: choose from {', '.join(ZERO_SHOT_MODELS)}")
    names = zero_shot_classes(classes, neutral=neutral)
    spec = str(weights) if weights is not None else DEFAULT_WEIGHTS
    src = resolve(spec, model)  # fetched into (or read from) the caches; offline and absent: one line
    state, info = read_state_dict(src.path)
    arch, image_size = clip_architecture(state, info.get("config"))
    kwargs = dict(
        arch, head="text", temporal_depth=0, class_names=names, templates=list(templates or DEFAULT_TEMPLATES)
    )
    net = create_model(model, num_classes=len(names), num_frames=num_frames, image_size=image_size, **kwargs)
    net.load_report = load_converted(
        net, convert_clip(state, net, info), head=get_model_info(model).head, source=src.label
    )
    meta = CheckpointMeta(
        model=model,
        num_classes=len(names),
        num_frames=num_frames,
        image_size=image_size,
        classes=names,
        mean=list(CLIP_MEAN),
        std=list(CLIP_STD),
        model_kwargs=kwargs,
        preprocess=preprocess if preprocess is not None else FaceCropper(size=image_size).config,
        sampling="uniform",
        extra={"zero_shot": True, "weights": spec},
    )
    return Predictor(net.to(device), meta, source=f"zero-shot {model}: {src.label}")
