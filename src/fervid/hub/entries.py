"""Named weights: what one entry says (source, hash, size, licence, preprocessing) and the registry.

Architecture files declare their :class:`Weights` beside their builders and pass them to
``register_model(..., weights=...)``; the face detector's entry is in :mod:`fervid.hub.detectors`.
An entry is registered when the module declaring it is imported: ``fervid.models.register_all()``
imports every architecture, and importing :mod:`fervid.hub` registers the detector's. So
:func:`all_weights` lists every entry once ``fervid.models`` has been asked for anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from fervid.errors import FervidError
from fervid.hub.files import name_hash

Triple = tuple[float, float, float]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's code licence; its README adds that weights may carry their training data's terms.
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"


@dataclass(frozen=True)
class Url:
    """A file behind a URL, cached by torch.hub as ``file_name`` (default: the URL's last part)."""

    url: str
    file_name: str = ""

    @property
    def cache_name(self) -> str:
        return self.file_name or self.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]

    @property
    def name_hash(self) -> str | None:
        """The SHA-256 prefix in a torchvision-style file name (``resnet50-0676ba61.pth``), if any."""
        return name_hash(self.cache_name)

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class HfRepo:
    """Files of a Hugging Face model repo at a revision (branch, tag or commit).

    ``files``: pins the files to fetch, the weights file (or a sharded ``*.index.json``, whose
    shards follow) among them. Empty (the rule for named entries): the first of
    :data:`HF_WEIGHT_FILES` already in the cache, else the first the repo has (safetensors
    first), plus whichever of :data:`HF_SIDE_FILES` it has (``fervid.hub.hf``).
    """

    repo_id: str
    files: tuple[str, ...] = ()
    revision: str = "main"

    def __str__(self) -> str:
        return f"hf:{self.repo_id}" + (f"@{self.revision}" if self.revision != "main" else "")


@dataclass(frozen=True)
class Weights:
    """One named set of weights of one model (or detector), e.g. ``r2plus1d/kinetics400``.

    ``sha256``: the full digest, or the 8+ hex prefix torchvision puts in its file names; ``None``
    where the source publishes none. ``size``: download size in bytes, approximate (torchvision
    publishes MB to three decimals; elsewhere parameters x 4 bytes). ``mean``/``std``,
    ``image_size``, ``num_frames`` (``None`` for image weights): the input the weights were
    trained on; fervid trains and predicts with this ``mean``/``std``.
    """

    model: str
    name: str
    description: str
    source: Url | HfRepo
    licence: str
    sha256: str | None = None
    size: int | None = None
    mean: Triple | None = None
    std: Triple | None = None
    image_size: int | None = None
    num_frames: int | None = None

    @property
    def key(self) -> str:
        return f"{self.model}/{self.name}"


def from_torchvision(
    enum_member, *, model: str, name: str, description: str, licence: str, num_frames: int | None = None
) -> Weights:
    """A :class:`Weights` from a torchvision weights enum member: its URL, file name (with the hash
    prefix), preprocessing and file size, so none of it is typed twice."""
    source = Url(enum_member.url)
    t = enum_member.transforms()
    return Weights(
        model=model,
        name=name,
        description=description,
        source=source,
        licence=licence,
        sha256=source.name_hash,
        size=round(enum_member.meta["_file_size"] * 2**20),
        mean=tuple(t.mean),
        std=tuple(t.std),
        image_size=int(t.crop_size[0]),
        num_frames=num_frames,
    )


_WEIGHTS: dict[str, Weights] = {}  # "model/name" -> Weights


def register_weights(*weights: Weights) -> None:
    for w in weights:
        if w.key in _WEIGHTS:
            raise ValueError(f"weights {w.key!r} are already registered")
        _WEIGHTS[w.key] = w


def weights_of(model: str) -> list[Weights]:
    return [w for w in _WEIGHTS.values() if w.model == model]


def all_weights() -> list[Weights]:
    """Every registered weight (module docstring: when the models' entries are registered)."""
    return sorted(_WEIGHTS.values(), key=lambda w: w.key)


def get_weights(key: str) -> Weights:
    if key not in _WEIGHTS:
        raise FervidError(f"no weights named {key!r}; registered: {', '.join(w.key for w in all_weights())}")
    return _WEIGHTS[key]
