"""The model zoo: the study's six video FER architectures and two current ones (clip, videomae) behind one registry.

May import fervid.hub and the base modules; never fervid.data or anything above.

Every model maps ``(B, 3, T, H, W)`` float to logits ``(B, num_classes)``.

``import fervid.models`` alone imports nothing heavy (so that ``fervid --help`` does not import
torch). The first use of any of its names (``create_model``, ``list_models``, …), or
:func:`register_all`, imports every architecture module, which registers every model and its
named weights; :mod:`fervid.hub` registers the face detector's itself, so after that
``fervid.hub.all_weights()`` lists every named weight.
"""

from typing import TYPE_CHECKING

__all__ = [
    "ModelInfo",
    "create_model",
    "from_scratch_warning",
    "get_model_info",
    "list_models",
    "register_all",
    "register_model",
]

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from fervid.models.registry import (
        ModelInfo,
        create_model,
        from_scratch_warning,
        get_model_info,
        list_models,
        register_model,
    )


def register_all() -> None:
    """Import every architecture module: each registers its model and weights on import
    (explicit, no star-import registration)."""
    from fervid.models import (  # noqa: F401
        c3d,
        clip,
        cnn_lstm,
        r2plus1d,
        timesformer,
        tsm,
        videomae,
        vivit,
    )


def __getattr__(name: str):
    # Lazy, so that `fervid --help` (which imports fervid.models.cli) does not import torch.
    if name not in __all__:
        raise AttributeError(f"module 'fervid.models' has no attribute {name!r}")
    register_all()
    from fervid.models import registry

    return getattr(registry, name)
