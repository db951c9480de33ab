"""Loading pretrained weights, with an honest report.

``read_pretrained`` takes what ``pretrained=`` accepts (a registered name, ``hf:ORG/NAME``, a URL
or a local path; found or fetched by ``fervid.hub``), reads it (every file checked against
its hash where one is known: ``hub.verify_path``) and the geometry it describes
(``fervid.models.geometry``), which ``create_model`` builds; ``load_into`` then loads it. Rules: keys are converted from the
source format to the model's (per-architecture ``convert``); a classifier of a different class
count is replaced, and a source without one gets a new head, each said so; key prefixes that
the source format cannot contain (``Converted.fresh``) keep their initialisation and are listed;
anything else missing, unexpected or mis-shaped raises :class:`PretrainedMismatchError` naming
the keys. Nothing is ever partially loaded in silence. The report also carries the
normalisation the weights expect, which training then uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fervid.errors import FervidError, PretrainedMismatchError
from fervid.models.geometry import Geometry, from_fervid
from fervid.models.info import Converted, ModelInfo

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.bin",
    "model.pt",
    "model.pth",
)
_SIDE_FILES = (
    ("config", "config.json"),
    ("preprocessor", "preprocessor_config.json"),
    ("open_clip", "open_clip_config.json"),
)


@dataclass
class LoadReport:
    source: str
    loaded: int = 0
    replaced_head: list[str] = field(default_factory=list)  # in the source with another class count
    new_head: list[str] = field(default_factory=list)  # the source has no head: initialised here
    fresh: list[str] = field(default_factory=list)  # non-head key prefixes the source format lacks
    notes: list[str] = field(default_factory=list)
    # The normalisation the weights expect (None: not known from the source; use the model's default).
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    # The builder arguments the model was built with (num_frames, image_size included), and those of
    # them the weights fixed, with where they were read (fervid.models.geometry).
    architecture: dict = field(default_factory=dict)
    geometry: dict = field(default_factory=dict)
    geometry_source: str = ""
    activation: str | None = None  # the MLP activation and how it is known

    def __str__(self) -> str:
        lines = [f"loaded {self.loaded} tensors from {self.source}"]
        if self.geometry:
            args = ", ".join(f"{k}={v}" for k, v in self.geometry.items())
            lines.append(f"built with the weights' geometry ({self.geometry_source}): {args}")
        if self.activation:
            lines.append(f"activation: {self.activation}")
        if self.replaced_head:
            lines.append("head replaced (class count differs): " + ", ".join(self.replaced_head))
        if self.new_head:
            lines.append("no head in the source: new head: " + ", ".join(self.new_head))
        if self.fresh:
            lines.append("not in the source format, freshly initialised: " + ", ".join(self.fresh))
        if self.mean is not None:
            lines.append(f"normalisation of these weights: mean {list(self.mean)}, std {list(self.std)}")
        lines += self.notes
        return "\n".join(lines)


def _unwrap(obj):
    """Find the tensor dict inside common checkpoint wrappers."""
    for key in ("model_state", "state_dict", "model", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return _unwrap(obj[key])
    return obj


def _json_beside(path: Path, name: str) -> dict | None:
    side = path.parent / name
    if not side.is_file():
        return None
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError) as e:
        raise FervidError(f"{side}: not readable JSON ({e})") from None


def _read_file(path: Path, *, fix: str | None = None, lazy: bool = False) -> tuple[dict, str | None]:
    """One weights file, checked against its hash where one is known: its tensors (unwrapped) and
    fervid metadata, if any. ``lazy``: shapes only (meta tensors, or memory-mapped), for geometry.
    ``fix``: the ``fervid weights download`` name of a cached file, for the unreadable-file message."""
    from fervid.hub import verify_path

    verify_path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(str(path), framework="pt") as f:
                meta = (f.metadata() or {}).get("fervid")
                if lazy:
                    return {k: torch.empty(f.get_slice(k).get_shape(), device="meta") for k in f.keys()}, meta
            return load_file(str(path)), meta
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=lazy)
        except RuntimeError:
            if not lazy:
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)  # a legacy (non-zip) file cannot be mapped
        meta = obj.get("fervid") if isinstance(obj, dict) and isinstance(obj.get("fervid"), str) else None
        return _unwrap(obj), meta
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0]  # torch's unpickling errors span many lines
        how = f"; delete it, or run `fervid weights download {fix}`" if fix else ""
        raise FervidError(f"{path}: cannot read weights ({type(e).__name__}: {first}){how}") from None


def _read_sharded(index: Path, *, fix: str | None, lazy: bool) -> dict:
    """A Hugging Face sharded checkpoint: ``*.index.json``'s ``weight_map`` names the shard of each key."""
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FervidError(f"{index}: not a sharded-checkpoint index ({type(e).__name__}: {e})") from None
    state: dict = {}
    for shard in sorted(set(weight_map.values())):
        if not (index.parent / shard).is_file():
            raise FervidError(f"{index}: shard {shard} is missing beside it")
        part, _ = _read_file(index.parent / shard, fix=fix, lazy=lazy)
        state.update(part)
    absent = sorted(set(weight_map) - set(state))
    if absent:
        raise FervidError(f"{index}: keys listed in the index but in no shard: {_names(absent)}")
    return state


def read_state_dict(
    path: str | os.PathLike, *, fix: str | None = None, lazy: bool = False
) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a weights file, a sharded checkpoint's ``*.index.json``, or a Hugging Face save directory.

    Returns ``(state_dict, info)`` where ``info`` holds ``"fervid"`` (checkpoint metadata, if a
    fervid checkpoint), ``"config"`` (a Hugging Face ``config.json``, if one lies beside),
    ``"preprocessor"`` (a ``preprocessor_config.json`` beside) and ``"open_clip"`` (an
    ``open_clip_config.json`` beside). ``torch.load`` is only ever called with ``weights_only=True``.
    ``lazy``: tensors with their shapes but not (necessarily) their values, for reading geometry.
    """
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in _WEIGHT_FILES if (path / n).is_file()]
        if not found:
            raise FervidError(f"{path}: no weights file in directory (looked for {', '.join(_WEIGHT_FILES)})")
        path = found[0]
    elif not path.is_file():
        raise FervidError(f"{path}: no such weights file")
    info: dict = {}
    for key, name in _SIDE_FILES:
        if (side := _json_beside(path, name)) is not None:
            info[key] = side
    if path.name.endswith(".index.json"):
        state, meta = _read_sharded(path, fix=fix, lazy=lazy), None
    else:
        state, meta = _read_file(path, fix=fix, lazy=lazy)
    if meta is not None:
        info["fervid"] = json.loads(meta)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FervidError(f"{path}: does not hold a state dict of tensors")
    return state, info


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop ``prefix`` from every key that has it (e.g. DDP's ``module.``)."""
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state.items()}


def interpolate_pos_embed(pos: torch.Tensor, new_len: int, *, num_prefix: int = 0) -> torch.Tensor:
    """Resize a learned 2-D position embedding ``(1, num_prefix + N, D)`` to ``num_prefix + new_len``.

    The ``N`` and ``new_len`` patch tokens form square grids (bicubic resize); the ``num_prefix``
    leading tokens (CLS) are kept as they are.
    """
    prefix, grid = pos[:, :num_prefix], pos[:, num_prefix:]
    n, d = grid.shape[1], grid.shape[2]
    if n == new_len:
        return pos
    side, new_side = int(round(n**0.5)), int(round(new_len**0.5))
    if side * side != n or new_side * new_side != new_len:
        raise PretrainedMismatchError(
            f"position embedding of {n} patches cannot be resized to {new_len}: not square grids"
        )
    g = grid.reshape(1, side, side, d).permute(0, 3, 1, 2)  # (1, D, s, s)
    g = F.interpolate(g.float(), size=(new_side, new_side), mode="bicubic", align_corners=False)
    g = g.permute(0, 2, 3, 1).reshape(1, new_len, d)  # (1, new_len, D)
    return torch.cat([prefix, g.to(pos.dtype)], dim=1)


def fit_pos_embed(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], key: str, notes: list[str]) -> None:
    """Resize ``state[key]`` (a CLS token plus a square patch grid) to the model's grid, noting it."""
    pos = state.get(key)
    if pos is None or pos.ndim != 3 or pos.shape[1] == own[key].shape[1]:
        return
    old, new = pos.shape[1] - 1, own[key].shape[1] - 1
    state[key] = interpolate_pos_embed(pos, new, num_prefix=1)
    notes.append(
        f"{key} interpolated from a {round(old**0.5)}x{round(old**0.5)} to a "
        f"{round(new**0.5)}x{round(new**0.5)} patch grid (bicubic)"
    )


def resize_time_embed(emb: torch.Tensor, new_len: int) -> torch.Tensor:
    """Resize a 1-D (temporal) embedding ``(1, T, D)`` to ``(1, new_len, D)`` linearly."""
    if emb.shape[1] == new_len:
        return emb
    out = F.interpolate(emb.float().transpose(1, 2), size=new_len, mode="linear", align_corners=False)
    return out.transpose(1, 2).to(emb.dtype)  # (1, D, T') -> (1, T', D)


def _names(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    more = f" … (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_converted(model: nn.Module, conv: Converted, *, head: tuple[str, ...], source: str) -> LoadReport:
    """Load ``conv.state_dict`` into ``model`` under the rules of this module."""
    own = model.state_dict()
    state = dict(conv.state_dict)
    report = LoadReport(source=source, notes=list(conv.notes))
    is_head = lambda k: k.startswith(head)  # noqa: E731
    is_fresh = lambda k: bool(conv.fresh) and k.startswith(conv.fresh)  # noqa: E731

    unexpected = [k for k in state if k not in own]
    if unexpected:
        raise PretrainedMismatchError(f"{source}: keys that do not fit the model: {_names(unexpected)}")
    bad_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in state
        if state[k].shape != own[k].shape and not is_head(k)
    ]
    if bad_shape:
        raise PretrainedMismatchError(f"{source}: shapes that do not fit the model: {_names(bad_shape)}")
    in_source = [k for k in own if is_head(k) and k in state]
    for k in [k for k in in_source if state[k].shape != own[k].shape]:
        report.replaced_head.append(f"{k} {tuple(state[k].shape)} -> {tuple(own[k].shape)}")
        del state[k]
    missing = [k for k in own if k not in state]
    if not in_source:  # the source has no classifier at all (an image backbone, a base model)
        report.new_head = [k for k in missing if is_head(k)]
    else:  # a partial head in the source: its missing keys are initialised here, and said so
        report.replaced_head += [k for k in missing if is_head(k) and k not in in_source]
    report.fresh = sorted({p for p in conv.fresh if any(k.startswith(p) and not is_head(k) for k in missing)})
    really_missing = [k for k in missing if not is_head(k) and not is_fresh(k)]
    if really_missing:
        raise PretrainedMismatchError(f"{source}: keys missing from the weights: {_names(really_missing)}")
    model.load_state_dict(state, strict=False)
    report.loaded = len(state)
    return report


def _normalisation(meta: dict) -> tuple[tuple, tuple] | None:
    """The mean/std a local source records: a fervid checkpoint's, or a Hugging Face ``preprocessor_config.json``'s."""
    if "fervid" in meta:
        return tuple(meta["fervid"]["mean"]), tuple(meta["fervid"]["std"])
    pre = meta.get("preprocessor") or {}
    mean, std = pre.get("image_mean"), pre.get("image_std")
    if isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) == 3:
        return tuple(float(m) for m in mean), tuple(float(s) for s in std)
    return None


@dataclass
class Pretrained:
    """Weights read for one model: their source, tensors, side files and geometry."""

    label: str  # how the load report names the source
    state: dict[str, torch.Tensor]
    meta: dict  # read_state_dict's info
    geometry: Geometry
    weights: object | None = None  # the registered hub.Weights entry, if it was one


def read_pretrained(spec: str | os.PathLike, info: ModelInfo, *, lazy: bool = False) -> Pretrained:
    """Find or fetch ``spec`` (see ``fervid.hub.resolve``), read it and the geometry it describes."""
    from fervid.hub import resolve

    src = resolve(str(spec), info.name)
    state, meta = read_state_dict(src.path, fix=src.download, lazy=lazy)
    if "fervid" in meta:
        if meta["fervid"].get("model") != info.name:
            raise PretrainedMismatchError(
                f"{src.label}: a fervid checkpoint of model {meta['fervid'].get('model')!r}, not {info.name!r}"
            )
        geometry = from_fervid(meta["fervid"], info.geometry_keys)
    elif info.geometry is not None:
        try:
            geometry = info.geometry(state, meta)
        except FervidError as e:  # the architecture's reason, prefixed with which weights it was
            raise type(e)(f"{src.label}: {e}") from None
    else:
        geometry = Geometry()
    return Pretrained(src.label, state, meta, geometry, src.weights)


def load_into(model: nn.Module, pre: Pretrained, info: ModelInfo) -> LoadReport:
    """Load weights read by :func:`read_pretrained` into ``model``: fervid checkpoints or the model's foreign formats."""
    state, meta = pre.state, pre.meta
    if "fervid" in meta:
        conv = Converted(state)
    elif info.convert is not None:
        try:
            conv = info.convert(state, model, meta)
        except FervidError as e:  # the converter's reason, prefixed with which weights it was
            raise type(e)(f"{pre.label}: {e}") from None
    else:
        conv = Converted(state)
    report = load_converted(model, conv, head=info.head, source=pre.label)
    w = pre.weights
    norm = (w.mean, w.std) if w is not None else _normalisation(meta)
    if norm is not None:
        report.mean, report.std = norm
    report.geometry, report.geometry_source = dict(pre.geometry.kwargs), pre.geometry.source
    report.activation = pre.geometry.activation
    report.notes += pre.geometry.notes
    return report


def load_pretrained(model: nn.Module, spec: str | os.PathLike, info: ModelInfo) -> LoadReport:
    """Read ``spec`` and load it into an already built ``model`` (``create_model`` builds the
    weights' geometry first; this loads into whatever ``model`` is)."""
    return load_into(model, read_pretrained(spec, info), info)
