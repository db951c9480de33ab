"""Everything between a dataset on disk and a ``(B, 3, T, H, W)`` batch: readers, faces, sampling, transforms, splits, synthetic data.

May import fervid.hub and the base modules (errors, classes, writes); never fervid.models or anything above.

Names resolve lazily, so ``import fervid.data.faces`` (or ``fervid --help``, or a prepare
worker process) does not pay for importing torch.
"""

import importlib

_EXPORTS = {
    "ClipDataset": "fervid.data.dataset",
    "ClipRecord": "fervid.data.manifest",
    "read_manifest": "fervid.data.manifest",
    "read_meta": "fervid.data.manifest",
    "fold_record": "fervid.data.splits",
    "split_validation": "fervid.data.splits",
    "subject_kfold": "fervid.data.splits",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fervid.data' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
