"""fervid's own checkpoint: weights plus everything needed to rebuild model and preprocessing.

A checkpoint is a safetensors file whose metadata holds one JSON document under the key
``"fervid"`` (:class:`CheckpointMeta`). ``predict`` and ``export`` need nothing else.
Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from fervid.errors import FervidError
from fervid.writes import atomic_write_bytes  # noqa: F401  (its historical home)

FORMAT = "fervid-checkpoint/1"


@dataclass
class CheckpointMeta:
    model: str
    num_classes: int
    num_frames: int
    image_size: int
    classes: list[str]
    mean: list[float]
    std: list[float]
    model_kwargs: dict = field(default_factory=dict)  # builder hyper-parameters beyond the above
    preprocess: dict = field(default_factory=dict)  # face detector, margin, crop size: see fervid.data
    sampling: str = "uniform"  # temporal sampling used at evaluation
    extra: dict = field(default_factory=dict)  # dataset, protocol, fold, run id, ...
    format: str = FORMAT


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: CheckpointMeta) -> None:
    """Write ``model``'s weights and ``meta`` to ``path`` (.safetensors) atomically."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(state, metadata={"fervid": json.dumps(asdict(meta))}), what="fervid checkpoint")


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """Weights and metadata of a fervid checkpoint; a one-line FervidError for anything else."""
    from fervid.hub import verify_path

    path = Path(path)
    if not path.is_file():
        raise FervidError(f"{path}: no such checkpoint file")
    verify_path(path)  # where its SHA-256 is known (a hash in its name): checked before it is read
    meta_json = None
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(str(path), framework="pt") as f:
                meta_json = (f.metadata() or {}).get("fervid")
            state = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, dict) and isinstance(obj.get("fervid"), str):
                meta_json, state = obj["fervid"], obj["state_dict"]
    except FervidError:
        raise
    except Exception as e:  # corrupt or foreign file: say so on one line
        first = (str(e).strip().splitlines() or [""])[0]  # weights_only errors run to many lines
        raise FervidError(f"{path}: not a readable checkpoint ({type(e).__name__}: {first})") from None
    if meta_json is None:
        raise FervidError(f"{path}: not a fervid checkpoint (no 'fervid' metadata)")
    try:
        meta = CheckpointMeta(**json.loads(meta_json))
    except (TypeError, ValueError) as e:
        raise FervidError(f"{path}: fervid metadata is malformed ({e})") from None
    return state, meta


def is_fervid_checkpoint(path: str | os.PathLike) -> bool:
    try:
        read_checkpoint(path)
    except FervidError:
        return False
    return True


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model of a fervid checkpoint, weights loaded strictly, in eval mode."""
    from fervid.models import create_model

    state, meta = read_checkpoint(path)
    model = create_model(
        meta.model,
        num_classes=meta.num_classes,
        num_frames=meta.num_frames,
        image_size=meta.image_size,
        **meta.model_kwargs,
    )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0:3]
        raise FervidError(f"{path}: weights do not fit model {meta.model!r}: {' '.join(first)}") from None
    return model.to(map_location).eval(), meta
