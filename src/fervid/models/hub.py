"""Named pretrained weights: declared beside each architecture, fetched once into the usual caches.

A :class:`Weights` entry (torchvision's ``Weights`` enums are the model) names one set of weights
of one model (``r2plus1d/kinetics400``) with its source, hash, size, licence and the
preprocessing it expects. Architecture files declare their entries and pass them to
``register_model(..., weights=...)``; anything else (the YuNet face detector) calls
:func:`register_weights`.

Files live in the caches the ecosystem already uses, so weights fetched by torchvision, timm or
transformers are found and never downloaded again:

- URL sources: ``torch.hub.download_url_to_file`` into ``$TORCH_HOME/hub/checkpoints/<file>``
  (torchvision's own file names), progress bar on stderr, SHA-256 checked during the download
  (a file that fails never reaches the cache).
- Hugging Face sources: ``huggingface_hub.hf_hub_download`` into ``$HF_HOME/hub``
  (``HF_HUB_CACHE`` if set). Weights files that the hub stores by their SHA-256 (LFS blobs) are
  checked against it on every load.

``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) means offline for every source: only the
caches are read. Whatever cannot be had is a one-line :class:`FervidError` naming the weights,
the source and the ``fervid weights download`` command; never a random initialisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fervid.errors import FervidError

Triple = tuple[float, float, float]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's code licence; its README adds that weights may carry their training data's terms.
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"
_HEX_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.")  # torchvision's "<name>-<sha256 prefix>.pth"
# Candidate weights files of a Hugging Face repo, in the order transformers prefers them.
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
HF_SIDE_FILES = ("config.json", "preprocessor_config.json")


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
        m = _HEX_IN_NAME.search(self.cache_name)
        return m.group(1) if m else None

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class HfRepo:
    """Files of a Hugging Face model repo at a revision (branch, tag or commit).

    ``files``: the files to fetch, the weights file (or a sharded ``*.index.json``, whose shards
    follow) among them, ``config.json`` beside it where the converter reads it. Empty: the first
    of :data:`HF_WEIGHT_FILES` the repo has, plus whichever of :data:`HF_SIDE_FILES` it has.
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
    """Every registered entry (import ``fervid.models`` and ``fervid.data.faces`` first)."""
    return sorted(_WEIGHTS.values(), key=lambda w: w.key)


def get_weights(key: str) -> Weights:
    if key not in _WEIGHTS:
        raise FervidError(f"no weights named {key!r}; registered: {', '.join(w.key for w in all_weights())}")
    return _WEIGHTS[key]


# --- where files live ------------------------------------------------------------------------


def offline() -> bool:
    return any(
        os.environ.get(v, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def torch_hub_checkpoints() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_cache_dir() -> Path:
    # Read now, not when huggingface_hub was imported, so HF_HOME set later still counts.
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def parse_hf(spec: str) -> HfRepo:
    """``hf:ORG/NAME[@REVISION]`` -> :class:`HfRepo`."""
    body = spec[3:]
    repo, _, rev = body.partition("@")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise FervidError(f"pretrained {spec!r}: expected hf:ORG/NAME[@REVISION]")
    return HfRepo(repo, (), rev or "main")


class _Unavailable(Exception):
    """A source that cannot be reached or a file not in the cache while offline (one-line reason)."""


class _Refused(Exception):
    """A file that fails its hash check (one-line reason); it is not, or no longer, in the cache."""


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "reason", None) or e).strip()
    return (text.splitlines() or [type(e).__name__])[0]


def _download_hint(what: str) -> str:
    return (
        f"on a machine with internet run `fervid weights download {what}` and copy $TORCH_HOME "
        "and $HF_HOME here (docs/models.md, offline use)"
    )


def _url_file(src: Url, sha256: str | None, *, download: bool) -> Path:
    sha256 = sha256 or src.name_hash  # as torch.hub's check_hash does
    dst = torch_hub_checkpoints() / src.cache_name
    if dst.is_file():
        return dst
    if not download or offline():
        raise _Unavailable(f"{dst.name} is not in {dst.parent}" + ("; HF_HUB_OFFLINE is set" if offline() else ""))
    import urllib.error

    import torch.hub

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:  # writes dst.<uuid>.partial beside dst, checks the hash, then renames; removes it on failure
        torch.hub.download_url_to_file(src.url, str(dst), hash_prefix=sha256, progress=True)
    except RuntimeError as e:
        if "invalid hash value" in str(e):
            raise _Refused(
                f"the download from {src.url} fails its SHA-256 check ({_first_line(e)}); nothing was cached"
            ) from None
        raise _Unavailable(_first_line(e)) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise _Unavailable(_first_line(e)) from None
    return dst


class _NotCached(_Unavailable):
    pass


def _hf_get(repo: HfRepo, filename: str, *, download: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    local_only = offline() or not download
    try:
        return Path(
            hf_hub_download(
                repo.repo_id, filename, revision=repo.revision, cache_dir=hf_cache_dir(), local_files_only=local_only
            )
        )
    except LocalEntryNotFoundError:
        if not local_only:
            raise  # online: the hub could not be reached, and the file is not cached either
        raise _NotCached(f"{filename} is not {_in_hf_cache(repo)}") from None


def _in_hf_cache(repo: HfRepo) -> str:
    return f"in {hf_cache_dir()} (revision {repo.revision})" + ("; HF_HUB_OFFLINE is set" if offline() else "")


def _is_missing(e: Exception) -> bool:
    """The file is not in the repo (or, offline, not in the cache): try the next candidate."""
    from huggingface_hub.errors import EntryNotFoundError

    return isinstance(e, (EntryNotFoundError, _NotCached))


def _check_hf_blob(path: Path, sha256: str | None) -> None:
    """The hub names LFS blobs by their SHA-256: a cached weights file must hash to its blob name."""
    target = path.resolve()
    expected = sha256 or (target.name if re.fullmatch(r"[0-9a-f]{64}", target.name) else None)
    if expected is None:
        return
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(expected):
        for p in {path, target}:
            p.unlink(missing_ok=True)
        raise _Refused(
            f"{path.name} fails its SHA-256 check (expected {expected[:16]}…, got "
            f"{digest.hexdigest()[:16]}…); removed from the Hugging Face cache"
        )


def _hf_files(repo: HfRepo, sha256: str | None, *, download: bool) -> Path:
    """Fetch ``repo``'s files; return the weights file (or the shard index) path."""
    try:
        if repo.files:
            paths = [_hf_get(repo, f, download=download) for f in repo.files]
            weights = next(p for p in paths if p.name.endswith(".index.json") or not p.name.endswith(".json"))
        else:
            weights, missing = None, None
            for name in HF_WEIGHT_FILES:
                try:
                    weights = _hf_get(repo, name, download=download)
                    break
                except Exception as e:
                    if not _is_missing(e):
                        raise
                    missing = e
            if weights is None:
                where = (
                    _in_hf_cache(repo) if isinstance(missing, _NotCached) else f"in the repo (revision {repo.revision})"
                )
                raise _Unavailable(f"none of {', '.join(HF_WEIGHT_FILES)} is {where}")
            for name in HF_SIDE_FILES:
                try:
                    _hf_get(repo, name, download=download)
                except Exception as e:
                    if not _is_missing(e):
                        raise
        if weights.name.endswith(".index.json"):
            for shard in sorted(set(json.loads(weights.read_text())["weight_map"].values())):
                _check_hf_blob(_hf_get(repo, shard, download=download), None)
        else:
            _check_hf_blob(weights, sha256)
        return weights
    except (_Refused, _Unavailable):
        raise
    except Exception as e:  # huggingface_hub's and the HTTP client's errors: offline, 404, gated, ...
        raise _Unavailable(f"{type(e).__name__}: {_first_line(e)}") from None


def fetch(source: Url | HfRepo, *, sha256: str | None = None, label: str | None = None, download: bool = True) -> Path:
    """The local path of ``source``'s weights file, downloaded into its cache if needed.

    ``download=False`` only looks in the caches. ``label``: what the error names (and what
    ``fervid weights download`` takes), default the source itself.
    """
    label = label or str(source)
    try:
        if isinstance(source, Url):
            return _url_file(source, sha256, download=download)
        return _hf_files(source, sha256, download=download)
    except _Unavailable as e:
        raise FervidError(f"{label}: cannot get the weights from {source} ({e}); {_download_hint(label)}") from None
    except _Refused as e:
        raise FervidError(f"{label}: {e}") from None


def fetch_weights(w: Weights, *, download: bool = True) -> Path:
    return fetch(w.source, sha256=w.sha256, label=w.key, download=download)


def cached_path(w: Weights) -> Path | None:
    """Where ``w``'s weights file is in the cache, or ``None`` (no network, no hash check)."""
    if isinstance(w.source, Url):
        path = torch_hub_checkpoints() / w.source.cache_name
        return path if path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    found = [
        try_to_load_from_cache(w.source.repo_id, f, cache_dir=hf_cache_dir(), revision=w.source.revision)
        for f in w.source.files or HF_WEIGHT_FILES[:1]
    ]
    if not all(isinstance(p, str) for p in found):
        return None
    paths = [Path(p) for p in found]
    return next(p for p in paths if p.name.endswith(".index.json") or not p.name.endswith(".json"))


# --- what pretrained= accepts ----------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    path: Path  # a weights file (config.json and preprocessor_config.json may lie beside) or a directory
    label: str  # how the load report names the source
    weights: Weights | None = None  # the registered entry, if it was one


def resolve(spec: str, model: str) -> Resolved:
    """``pretrained=``: a registered name of ``model``, ``hf:ORG/NAME[@REV]``, a URL, or a local path."""
    named = {w.name: w for w in weights_of(model)}
    if spec in named:
        w = named[spec]
        return Resolved(fetch_weights(w), f"{w.key} ({w.source})", w)
    if spec.startswith("hf:"):
        return Resolved(fetch(parse_hf(spec)), spec)
    if spec.startswith(("https://", "http://")):
        return Resolved(fetch(Url(spec)), spec)
    path = Path(spec).expanduser()
    if path.exists():
        return Resolved(path, str(path))
    raise FervidError(
        f"pretrained {spec!r}: not a registered name of {model} ({', '.join(named) or 'none registered'}), "
        "an hf:ORG/NAME[@REVISION] id, an https:// URL, or an existing file"
    )
