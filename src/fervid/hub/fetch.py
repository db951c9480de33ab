"""Getting a weights file, checked: a named entry, ``hf:ORG/NAME[@REV]``, a URL or a local path.

Files live in the caches the ecosystem already uses, so weights fetched by torchvision, timm or
transformers are found and never downloaded again:

- URL sources: ``$TORCH_HOME/hub/checkpoints/<file>`` (torchvision's own file names), downloaded
  atomically with a progress bar on stderr (:mod:`fervid.hub.files`).
- Hugging Face sources: ``huggingface_hub.hf_hub_download`` into ``$HF_HOME/hub``
  (``HF_HUB_CACHE`` if set), preferring ``model.safetensors`` and whatever is already cached
  (:mod:`fervid.hub.hf`).

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
from fervid.hub.entries import HfRepo, Url, Weights, all_weights, weights_of
from fervid.hub.files import Refused, Unavailable, mismatch, offline, torch_hub_checkpoints, url_file
from fervid.hub.hf import hf_cached, hf_weights


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
        (w for w in all_weights() if isinstance(w.source, Url) and w.source.cache_name == path.name and w.sha256),
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
