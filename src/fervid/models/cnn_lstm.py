"""CNN+LSTM with attention: per-frame MobileNetV3-Large features, an LSTM, attention over time.

Frames are encoded by torchvision's MobileNetV3-Large ``features`` (960-d after average pooling
at width 1), the sequence goes through a single-layer LSTM, and additive attention (Yang et al.
2016) pools the hidden states: ``u_t = tanh(W h_t + b)``, ``alpha = softmax_t(u_t . u_w)``,
``c = sum_t alpha_t h_t``; then dropout and a linear head. The ``features.*`` keys are
torchvision's, so an ImageNet MobileNetV3-Large checkpoint loads into the frame encoder.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torchvision.models import MobileNet_V3_Large_Weights, mobilenet_v3_large

from fervid.hub import TORCHVISION_LICENCE, from_torchvision
from fervid.models.registry import Converted, register_model
from fervid.models.weights import strip_prefix


class AdditiveAttention(nn.Module):
    """Attention pooling over time: ``(B, T, D)`` hidden states → ``(B, D)`` context and ``(B, T)`` weights."""

    def __init__(self, dim: int, attn_dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, attn_dim)  # W, b
        self.context = nn.Parameter(torch.empty(attn_dim))  # u_w
        nn.init.normal_(self.context, std=attn_dim**-0.5)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.tanh(self.proj(h)) @ self.context  # (B, T)
        alpha = scores.softmax(dim=1)  # (B, T)
        return (alpha.unsqueeze(-1) * h).sum(dim=1), alpha  # (B, D), (B, T)


class CNNLSTM(nn.Module):
    """Input ``(B, 3, T, H, W)``; output ``(B, num_classes)``. Works for any ``T`` and size."""

    def __init__(self, *, num_classes: int, width_mult: float, hidden: int, attn_dim: int, dropout: float):
        super().__init__()
        # torchvision's BatchNorm momentum of 0.01 suits long ImageNet runs; in short runs its running
        # statistics lag the weights and eval-mode features collapse to a constant, so use 0.1.
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.1)
        self.features = mobilenet_v3_large(width_mult=width_mult, norm_layer=norm).features
        feat_dim = self.features[-1].out_channels  # 960 at width 1
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.lstm = nn.LSTM(feat_dim, hidden, num_layers=1, batch_first=True)
        self.attention = AdditiveAttention(hidden, attn_dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        x = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, 3, H, W)
        x = self.pool(self.features(x)).flatten(1)  # (B*T, F)
        seq, _ = self.lstm(x.view(b, t, -1))  # (B, T, hidden)
        context, _ = self.attention(seq)  # (B, hidden)
        return self.head(self.dropout(context))  # (B, num_classes)


def _from_torchvision(state: dict, model: nn.Module, info: dict) -> Converted:
    """Keep a torchvision MobileNetV3-Large checkpoint's ``features``; its ImageNet classifier is not ours."""
    state = strip_prefix(state, "module.")
    dropped = sorted(k for k in state if k.startswith("classifier."))
    notes = [f"dropped the ImageNet classifier of the checkpoint: {', '.join(dropped)}"] if dropped else []
    return Converted(
        {k: v for k, v in state.items() if not k.startswith("classifier.")},
        fresh=("lstm.", "attention."),
        notes=notes,
    )


WEIGHTS = tuple(
    from_torchvision(
        member,
        model="cnn_lstm",
        name=name,
        licence=TORCHVISION_LICENCE,
        description=f"torchvision MobileNetV3-Large ImageNet-1k ({what}) frame encoder; LSTM, attention, head new",
    )
    for name, member, what in (
        ("imagenet", MobileNet_V3_Large_Weights.IMAGENET1K_V1, "V1"),
        ("imagenet_v2", MobileNet_V3_Large_Weights.IMAGENET1K_V2, "V2, newer recipe"),
    )
)


@register_model(
    "cnn_lstm",
    description="per-frame MobileNetV3-Large features, LSTM, additive attention over time",
    num_frames=8,
    image_size=224,
    head=("head.",),
    convert=_from_torchvision,
    weights=WEIGHTS,
    study_weights="imagenet",
    geometry_keys=("width_mult", "hidden", "attn_dim"),
)
def cnn_lstm(
    *,
    num_classes: int,
    num_frames: int,
    image_size: int,
    width_mult: float = 1.0,
    hidden: int = 512,
    attn_dim: int | None = None,
    dropout: float = 0.5,
) -> CNNLSTM:
    """Build :class:`CNNLSTM`; ``attn_dim`` defaults to ``hidden``. Any clip length and size work."""
    return CNNLSTM(
        num_classes=num_classes, width_mult=width_mult, hidden=hidden, attn_dim=attn_dim or hidden, dropout=dropout
    )
