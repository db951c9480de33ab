"""What the registry knows of a model (:class:`ModelInfo`) and what a converter hands the loader
(:class:`Converted`): plain records shared by ``registry`` and ``weights``, which import them from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from fervid.hub import Weights, weights_of
from fervid.models.geometry import Geometry

# Converts a foreign state dict (torchvision, official code, Hugging Face) to this model's keys.
Converter = Callable[[dict, nn.Module, dict], "Converted"]
# Reads the builder arguments a foreign state dict and its side files (config.json, ...) fix.
GeometryReader = Callable[[dict, dict], Geometry]


@dataclass
class Converted:
    """What a converter hands back to the loader.

    ``fresh``: key prefixes the source format cannot contain (a ViT checkpoint has no temporal
    transformer); they keep their initialisation and the load report says so.
    ``notes``: lines for the load report (renames, interpolations).
    """

    state_dict: dict[str, torch.Tensor]
    fresh: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Callable[..., nn.Module]
    description: str
    num_frames: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    head: tuple[str, ...]  # state-dict key prefixes of the classifier, replaced when class counts differ
    convert: Converter | None = None
    # The named weights the packaged configs start from (None: from scratch): the study's start for its
    # six models; for models beyond the study, the nearest hub weights to the published recipes' start.
    study_weights: str | None = None
    geometry: GeometryReader | None = None  # foreign formats' geometry (fervid.models.geometry)
    geometry_keys: tuple[str, ...] = ()  # the builder arguments that shape the weights (read from fervid checkpoints)
    # Hugging Face repos beyond the named weights known to load by their own geometry (checked on their
    # configs' shapes in tests/models/test_geometry.py, not with the files): `fervid weights list` shows them.
    known_repos: tuple[str, ...] = ()

    @property
    def weights(self) -> list[Weights]:
        """The model's named pretrained weights (``fervid.hub``)."""
        return weights_of(self.name)
