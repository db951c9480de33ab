"""The model zoo: six video FER architectures behind one registry.

Every model maps ``(B, 3, T, H, W)`` float to logits ``(B, num_classes)``.
"""

# Each import registers its builder; explicit imports, no star-import registration.
from fervid.models import c3d, cnn_lstm, r2plus1d, timesformer, tsm, vivit  # noqa: F401
from fervid.models.registry import ModelInfo, create_model, get_model_info, list_models, register_model

__all__ = ["ModelInfo", "create_model", "get_model_info", "list_models", "register_model"]
