"""Weights from a Hugging Face repo, through the hub's own cache (``$HF_HOME/hub``).

Which weights file: a repo entry that pins its ``files`` gets those. Otherwise the first of
:data:`HF_WEIGHT_FILES` (safetensors before pickles, transformers' names before open_clip's)
that is *already in the cache* is used without any network access, so a cache filled by
transformers (which takes ``model.safetensors`` where a repo has it) or by fervid is never
downloaded again; with none cached, the first of them the repo offers is downloaded, with the
:data:`HF_SIDE_FILES` it has. Every weights file (each shard of a sharded checkpoint) is checked
against the SHA-256 the hub names its blob by (:mod:`fervid.hub.files`) before it is used:
online, a file that fails is deleted and downloaded again; offline, it is refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

from fervid.hub.files import Refused, Unavailable, first_line, hf_cache_dir, mismatch, offline

# Weights files of a Hugging Face repo, in the order they are preferred.
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "open_clip_model.safetensors",  # open_clip's push_to_hf_hub names
    "open_clip_pytorch_model.bin",
)
# Read beside the weights when the repo has them: the architecture, the preprocessing.
HF_SIDE_FILES = ("config.json", "preprocessor_config.json", "open_clip_config.json")


def _where(repo_id: str, revision: str) -> str:
    return f"in {hf_cache_dir()} (revision {revision})" + ("; HF_HUB_OFFLINE is set" if offline() else "")


def _get(repo_id: str, revision: str, filename: str, *, cached_only: bool, force: bool = False) -> Path | None:
    """The file's path in the cache, downloaded unless ``cached_only``; ``None`` where it is not to be had
    (not cached while ``cached_only``; online: not in the repo)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=hf_cache_dir(),
            local_files_only=cached_only,
            force_download=force,
        )
    except LocalEntryNotFoundError:  # a subclass of EntryNotFoundError: first
        if cached_only:
            return None
        raise  # online: the hub could not be reached, and the file is not cached either
    except EntryNotFoundError:  # online: the repo has no such file
        return None
    return Path(path)


def _checked(repo_id: str, revision: str, filename: str, path: Path, sha256: str | None, *, fix: str) -> Path:
    """``path`` if it matches its hash; online, a failing file is replaced by a fresh download."""
    bad = mismatch(path, sha256)
    if bad is None:
        return path
    if offline():
        raise Refused(f"{bad}; {fix}")
    for p in {path.resolve(), path}:
        p.unlink(missing_ok=True)
    fresh = _get(repo_id, revision, filename, cached_only=False, force=True)
    if fresh is None or (bad := mismatch(fresh, sha256)) is not None:
        if fresh is not None:
            for p in {fresh.resolve(), fresh}:
                p.unlink(missing_ok=True)
        raise Refused(
            f"the fresh download of {filename} from hf:{repo_id} fails its check too ({bad}); nothing was kept"
        )
    return fresh


def hf_weights(
    repo_id: str, revision: str, files: tuple[str, ...], sha256: str | None, *, download_ok: bool, fix: str
) -> Path:
    """The local path of the repo's weights file (or its shard index), checked (module docstring)."""
    cached_only = offline() or not download_ok
    try:
        if files:
            paths = {}
            for name in files:
                path = _get(repo_id, revision, name, cached_only=True) or (
                    None if cached_only else _get(repo_id, revision, name, cached_only=False)
                )
                if path is None:
                    where = _where(repo_id, revision) if cached_only else f"in the repo (revision {revision})"
                    raise Unavailable(f"{name} is not {where}")
                paths[name] = path
            name = next(n for n in files if n.endswith(".index.json") or not n.endswith(".json"))
        else:
            name, path = _first(repo_id, revision, cached_only=True)
            if path is None and cached_only:
                raise Unavailable(f"none of {', '.join(HF_WEIGHT_FILES)} is {_where(repo_id, revision)}")
            from_cache = path is not None
            if path is None:
                name, path = _first(repo_id, revision, cached_only=False)
                if path is None:
                    raise Unavailable(f"none of {', '.join(HF_WEIGHT_FILES)} is in the repo (revision {revision})")
            for side in HF_SIDE_FILES:  # with cached weights, only what the cache holds: no network
                _get(repo_id, revision, side, cached_only=from_cache or cached_only)
            paths = {name: path}
        weights = _checked(repo_id, revision, name, paths[name], None if name.endswith(".json") else sha256, fix=fix)
        if name.endswith(".index.json"):
            for shard in sorted(set(json.loads(weights.read_text())["weight_map"].values())):
                got = _get(repo_id, revision, shard, cached_only=True) or (
                    None if cached_only else _get(repo_id, revision, shard, cached_only=False)
                )
                if got is None:
                    raise Unavailable(f"shard {shard} of {name} is not {_where(repo_id, revision)}")
                _checked(repo_id, revision, shard, got, None, fix=fix)
        return weights
    except (Refused, Unavailable):
        raise
    except Exception as e:  # huggingface_hub's and the HTTP client's errors: unreachable, 404, gated, ...
        raise Unavailable(f"{type(e).__name__}: {first_line(e)}") from None


def _first(repo_id: str, revision: str, *, cached_only: bool) -> tuple[str, Path | None]:
    for name in HF_WEIGHT_FILES:
        if (path := _get(repo_id, revision, name, cached_only=cached_only)) is not None:
            return name, path
    return "", None


def hf_cached(repo_id: str, revision: str, files: tuple[str, ...]) -> Path | None:
    """Where the repo's weights file is in the cache, or ``None`` (no network, no hash check)."""
    from huggingface_hub import try_to_load_from_cache

    for name in [n for n in files if n.endswith(".index.json") or not n.endswith(".json")] or HF_WEIGHT_FILES:
        found = try_to_load_from_cache(repo_id, name, cache_dir=hf_cache_dir(), revision=revision)
        if isinstance(found, str):
            return Path(found)
    return None
