"""A model built with the geometry of the weights it starts from.

Where the weights carry their configuration — a Hugging Face ``config.json``, an open_clip
``open_clip_config.json``, a fervid checkpoint's metadata — or their tensors' shapes fix it, the
model is built with that geometry: depth, widths, heads, patch and tubelet sizes, the activation.
So ``create_model("videomae", pretrained="hf:MCG-NJU/videomae-large")`` builds a ViT-L, as
transformers and timm build the network a checkpoint describes. Each architecture's
``geometry(state, info)`` reads foreign formats; a fervid checkpoint's recorded builder arguments
(those of the model's ``geometry_keys``) are read here.

An explicit builder argument that contradicts the weights is refused in one line naming both
values; one that agrees is fine. ``num_frames`` and ``image_size`` are different: they are the
input clip, which the weights' position tables are resized to (and the load report says so), so
the weights' values are only the defaults when none is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fervid.errors import PretrainedMismatchError

HEAD_WIDTH = 64  # channels per attention head of ViT-Ti/S/B/L and CLIP ViT-B/L, where nothing says otherwise


@dataclass
class Geometry:
    """What a source says about the network.

    ``kwargs``: builder arguments it fixes. ``defaults``: values used only where none is given:
    sizes it was made for (``num_frames``, ``image_size``, CLIP's ``context_length``: position
    tables are resized or cut to what is asked) and values it does not record but that are assumed
    (``assumed``: key -> the report's note when the assumption is used). ``source``: where they
    were read. ``activation``: the MLP activation and how it is known, for the load report.
    ``notes``: further lines for the report.
    """

    kwargs: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    activation: str | None = None
    notes: list[str] = field(default_factory=list)
    assumed: dict[str, str] = field(default_factory=dict)

    def set_heads(self, key: str, width: int, given: int | None) -> None:
        """Attention heads: ``given`` (from a config) fixes them; else :data:`HEAD_WIDTH` channels
        per head is a default, noted in the report where it is used."""
        if given:
            self.kwargs[key] = int(given)
            return
        self.defaults[key] = max(int(width) // HEAD_WIDTH, 1)
        self.assumed[key] = (
            f"{key}={self.defaults[key]} assumed ({HEAD_WIDTH} channels per head, the rule of the published ViT "
            f"and CLIP sizes): the weights do not record it; pass {key}= if yours differ"
        )


def layer_count(state: dict, pattern: str) -> int:
    """How many distinct layer indices (``pattern``'s group 1) the keys hold."""
    return len({m.group(1) for k in state if (m := re.match(pattern, k))})


def first_key(state: dict, *names: str) -> str | None:
    return next((n for n in names if n in state), None)


def activation_line(name: str, how: str) -> str:
    words = {"gelu": "GELU (exact, erf)", "quick_gelu": "quick-GELU (x·sigmoid(1.702x))"}
    return f"{words.get(name, name)}, {how}"


def from_fervid(meta: dict, keys: tuple[str, ...]) -> Geometry:
    """A fervid checkpoint's own builder arguments (those among ``keys``) and clip size."""
    kwargs = {k: v for k, v in (meta.get("model_kwargs") or {}).items() if k in keys}
    sizes = {k: int(meta[k]) for k in ("num_frames", "image_size") if meta.get(k)}
    return Geometry(kwargs, sizes, "the fervid checkpoint's metadata")


def _same(a, b) -> bool:
    norm = lambda v: tuple(norm(x) for x in v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    return norm(a) == norm(b)


def fit(
    geometry: Geometry, kwargs: dict, num_frames: int | None, image_size: int | None, *, label: str
) -> tuple[dict, int | None, int | None]:
    """Builder arguments for the weights: ``kwargs`` completed with the weights' geometry.

    An argument in ``kwargs`` that differs from the weights' is refused (one line, both values).
    """
    wrong = [k for k, v in geometry.kwargs.items() if k in kwargs and not _same(kwargs[k], v)]
    if wrong:
        theirs = ", ".join(f"{k}={geometry.kwargs[k]!r}" for k in wrong)
        given = ", ".join(f"{k}={kwargs[k]!r}" for k in wrong)
        raise PretrainedMismatchError(
            f"{label}: the weights have {theirs} ({geometry.source}), but {given} "
            f"{'was' if len(wrong) == 1 else 'were'} asked for; leave "
            f"{', '.join(wrong)} out (model.kwargs in a config) to build the weights' geometry"
        )
    for key, note in geometry.assumed.items():
        if key == "act" and key in kwargs:  # an assumed activation the caller settles
            geometry.activation = activation_line(kwargs[key], f"as asked (act={kwargs[key]!r})")
        elif key not in kwargs and note:
            geometry.notes.append(note)
    sizes = {"num_frames", "image_size"}
    merged = {**{k: v for k, v in geometry.defaults.items() if k not in sizes}, **geometry.kwargs, **kwargs}
    d = geometry.defaults
    return merged, num_frames or d.get("num_frames"), image_size or d.get("image_size")
