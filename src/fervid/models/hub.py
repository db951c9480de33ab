"""Named pretrained weights: declared beside each architecture, fetched once into the usual caches.

A :class:`Weights` entry (torchvision's ``Weights`` enums are the model) names one set of weights
of one model (``r2plus1d/kinetics400``) with its source, hash, size, licence and the
preprocessing it expects. Architecture files declare their entries and pass them to
``register_model(..., weights=...)``; the YuNet face detector's entry is declared in
``fervid.models.detector_weights``. Every entry is registered once the architecture modules are
imported, which any of ``fervid.models``' names does (``create_model``, ``list_models``, …);
:func:`all_weights` and :func:`get_weights` import them themselves, so they always see every entry.

Files live in the caches the ecosystem already uses, so weights fetched by torchvision, timm or
transformers are found and never downloaded again:

- URL sources: ``$TORCH_HOME/hub/checkpoints/<file>`` (torchvision's own file names), downloaded
  atomically with a progress bar on stderr (``fervid.models.hub_files``).
- Hugging Face sources: ``huggingface_hub.hf_hub_download`` into ``$HF_HOME/hub``
  (``HF_HUB_CACHE`` if set), preferring ``model.safetensors`` and whatever is already cached
  (``fervid.models.hub_hf``).

Whenever a file's SHA-256 is known (registered, torchvision's prefix in the file name, the hub's
blob name) the file is checked before it is used: cached, downloaded or given as a path
(:func:`verify_path`, which ``fervid.models.weights`` calls on every file it reads). Online, a
cached file that fails is replaced by a fresh download; offline it is refused in one line that
names the file, both hashes and the command that fixes it.

``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) means offline for every source: only the
caches are read. Whatever cannot be had is a one-line :class:`FervidError` naming the weights,
the source and the ``fervid weights download`` command; never a random initialisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fervid.errors import FervidError
from fervid.models.hub_files import (
    Refused,
    Unavailable,
    hf_cache_dir,
    mismatch,
    name_hash,
    offline,
    torch_hub_checkpoints,
    url_file,
)
from fervid.models.hub_hf import HF_SIDE_FILES, HF_WEIGHT_FILES, hf_cached, hf_weights

__all__ = [
    "HF_SIDE_FILES",
    "HF_WEIGHT_FILES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCHVISION_LICENCE",
    "HfRepo",
    "Resolved",
    "Url",
    "Weights",
    "all_weights",
    "cached_path",
    "fetch",
    "fetch_weights",
    "from_torchvision",
    "get_weights",
    "hf_cache_dir",
    "offline",
    "parse_hf",
    "register_weights",
    "resolve",
    "torch_hub_checkpoints",
    "verify_path",
    "weights_of",
]

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
    first), plus whichever of :data:`HF_SIDE_FILES` it has (``fervid.models.hub_hf``).
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


def _register_all() -> None:
    import fervid.models

    fervid.models.register_all()


def weights_of(model: str) -> list[Weights]:
    return [w for w in _WEIGHTS.values() if w.model == model]


def all_weights() -> list[Weights]:
    """Every named weight: the models' and the face detector's."""
    _register_all()
    return sorted(_WEIGHTS.values(), key=lambda w: w.key)


def get_weights(key: str) -> Weights:
    if key not in _WEIGHTS:
        _register_all()
    if key not in _WEIGHTS:
        raise FervidError(f"no weights named {key!r}; registered: {', '.join(w.key for w in all_weights())}")
    return _WEIGHTS[key]


# --- fetching and checking -------------------------------------------------------------------


def parse_hf(spec: str) -> HfRepo:
    """``hf:ORG/NAME[@REVISION]`` -> :class:`HfRepo`."""
    body = spec[3:]
    repo, _, rev = body.partition("@")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise FervidError(f"pretrained {spec!r}: expected hf:ORG/NAME[@REVISION]")
    return HfRepo(repo, (), rev or "main")


def _download_hint(what: str) -> str:
    return (
        f"on a machine with internet run `fervid weights download {what}` and copy $TORCH_HOME "
        "and $HF_HOME here (docs/models.md, offline use)"
    )


def _fix(label: str) -> str:
    """What a file that fails its check is fixed by (the check runs again on the next load)."""
    where = " on a machine with internet, and copy the cache here" if offline() else ""
    return f"delete it, then run `fervid weights download {label}`{where}"


def fetch(source: Url | HfRepo, *, sha256: str | None = None, label: str | None = None, download: bool = True) -> Path:
    """The local path of ``source``'s weights file, checked against its hash wherever one is known,
    and downloaded (atomically) into its cache if it is not there or, online, fails the check.

    ``download=False`` only looks in the caches. ``label``: what the error names (and what
    ``fervid weights download`` takes), default the source itself.
    """
    label = label or str(source)
    try:
        if isinstance(source, Url):
            return url_file(source.url, source.cache_name, sha256, download_ok=download, fix=_fix(label))
        return hf_weights(source.repo_id, source.revision, source.files, sha256, download_ok=download, fix=_fix(label))
    except Unavailable as e:
        raise FervidError(f"{label}: cannot get the weights from {source} ({e}); {_download_hint(label)}") from None
    except Refused as e:
        raise FervidError(f"{label}: {e}") from None


def fetch_weights(w: Weights, *, download: bool = True) -> Path:
    return fetch(w.source, sha256=w.sha256, label=w.key, download=download)


def cached_path(w: Weights) -> Path | None:
    """Where ``w``'s weights file is in the cache, or ``None`` (no network, no hash check)."""
    if isinstance(w.source, Url):
        path = torch_hub_checkpoints() / w.source.cache_name
        return path if path.is_file() else None
    return hf_cached(w.source.repo_id, w.source.revision, w.source.files)


def verify_path(path: Path) -> None:
    """Refuse a local file whose SHA-256 is known (registered for its file name, in its name, or its
    Hugging Face blob name) and differs, in one line. Cached per (path, size, mtime)."""
    registered = next(
        (w for w in _WEIGHTS.values() if isinstance(w.source, Url) and w.source.cache_name == path.name and w.sha256),
        None,
    )
    try:
        bad = mismatch(path, registered.sha256 if registered else None)
    except OSError as e:
        raise FervidError(f"{path}: cannot read it to check its SHA-256 ({e.strerror or e})") from None
    if bad is None:
        return
    if registered is not None:
        raise FervidError(f"{bad}; {_fix(registered.key)}")
    m = re.search(r"models--([\w.-]+)--([\w.-]+)", str(path))
    fix = _fix(f"hf:{m.group(1)}/{m.group(2)}") if m else "replace it with the original file"
    raise FervidError(f"{bad}; {fix}")


# --- what pretrained= accepts ----------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    path: Path  # a weights file (config.json and preprocessor_config.json may lie beside) or a directory
    label: str  # how the load report names the source
    weights: Weights | None = None  # the registered entry, if it was one
    download: str | None = None  # what `fervid weights download` takes for it (None: a local path)


def resolve(spec: str, model: str) -> Resolved:
    """``pretrained=``: a registered name of ``model``, ``hf:ORG/NAME[@REV]``, a URL, or a local path."""
    named = {w.name: w for w in weights_of(model)}
    if spec in named:
        w = named[spec]
        return Resolved(fetch_weights(w), f"{w.key} ({w.source})", w, w.key)
    if spec.startswith("hf:"):
        return Resolved(fetch(parse_hf(spec)), spec, None, spec)
    if spec.startswith(("https://", "http://")):
        return Resolved(fetch(Url(spec)), spec, None, spec)
    path = Path(spec).expanduser()
    if path.exists():
        return Resolved(path, str(path))
    raise FervidError(
        f"pretrained {spec!r}: not a registered name of {model} ({', '.join(named) or 'none registered'}), "
        "an hf:ORG/NAME[@REVISION] id, an https:// URL, or an existing file"
    )
