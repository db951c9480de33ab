"""Named pretrained weights as a service: entries, caches, verified downloads, what ``pretrained=`` accepts.

Stands on ``fervid.errors`` only; ``fervid.models`` and ``fervid.data`` both import it, never the reverse.

Public names: :class:`Weights` (with its sources :class:`Url` and :class:`HfRepo`),
:func:`register_weights`, :func:`get_weights`, :func:`all_weights`, :func:`weights_of`,
:func:`fetch`, :func:`fetch_weights`, :func:`cached_path`, :func:`resolve` and
:func:`verify_path`. Files: ``entries`` (what an entry says, the registry), ``fetch`` (getting
and checking a file), ``files`` (caches, hashing, atomic downloads), ``hf`` (Hugging Face
files), ``detectors`` (the face detector's entry).
"""

from fervid.hub import detectors  # noqa: F401  (registers the face detector's entry)
from fervid.hub.entries import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TORCHVISION_LICENCE,
    HfRepo,
    Url,
    Weights,
    all_weights,
    from_torchvision,
    get_weights,
    register_weights,
    weights_of,
)
from fervid.hub.fetch import Resolved, cached_path, fetch, fetch_weights, parse_hf, resolve, verify_path
from fervid.hub.files import hf_cache_dir, offline, torch_hub_checkpoints
from fervid.hub.hf import HF_SIDE_FILES, HF_WEIGHT_FILES

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
