"""The model zoo: the study's six video FER architectures and two current ones (clip, videomae) behind one registry.

Every model maps ``(B, 3, T, H, W)`` float to logits ``(B, num_classes)``.
"""

from typing import TYPE_CHECKING

__all__ = ["ModelInfo", "create_model", "from_scratch_warning", "get_model_info", "list_models", "register_model"]

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from fervid.models.registry import (
        ModelInfo,
        create_model,
        from_scratch_warning,
        get_model_info,
        list_models,
        register_model,
    )


def __getattr__(name: str):
    # Lazy, so that `fervid --help` (which imports fervid.models.cli) does not import torch.
    if name not in __all__:
        raise AttributeError(f"module 'fervid.models' has no attribute {name!r}")
    # Each architecture module registers its model on import: explicit, no star-import registration.
    from fervid.models import c3d, clip, cnn_lstm, r2plus1d, registry, timesformer, tsm, videomae, vivit  # noqa: F401

    return getattr(registry, name)
