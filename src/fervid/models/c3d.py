"""The study's small "2-layer C3D" (not the 8-layer C3D of Tran et al. 2015).

Two Conv3d blocks (kernel 3, stride 2, no padding; BatchNorm3d, ReLU, Dropout3d) shrink the
clip, which is flattened into three fully connected layers. The flatten size follows from the
clip size, so ``num_frames``/``image_size`` must be the sizes the model is fed.
"""

from __future__ import annotations

import torch
from torch import nn

from fervid.errors import FervidError
from fervid.models.registry import register_model

_KERNEL, _STRIDE = 3, 2


def _conv_out(n: int) -> int:
    """Length of one axis after an unpadded kernel-3, stride-2 convolution."""
    return (n - _KERNEL) // _STRIDE + 1


def _block(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel_size=_KERNEL, stride=_STRIDE, padding=0),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
        nn.Dropout3d(dropout),
    )


class C3D(nn.Module):
    """Two Conv3d blocks, then FC ``hidden`` → FC ``hidden`` → FC ``num_classes``.

    Input ``(B, 3, T, H, W)`` with exactly ``T = num_frames`` and ``H = W = image_size``
    (the first FC layer's size depends on them, so both must be at least 7); output logits
    ``(B, num_classes)``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int,
        image_size: int,
        channels: tuple[int, int] = (32, 48),
        hidden: int = 256,
        conv_dropout: float = 0.2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        t, s = num_frames, image_size
        for _ in channels:
            t, s = _conv_out(t), _conv_out(s)
        if t < 1 or s < 1:
            raise FervidError(
                f"c3d: a clip of {num_frames} frames of {image_size}x{image_size} is too small for two "
                f"unpadded stride-2 kernel-3 convolutions (needs at least 7 frames and 7x7 pixels)"
            )
        self.num_frames, self.image_size = num_frames, image_size
        self.features = nn.Sequential(
            _block(3, channels[0], conv_dropout),
            _block(channels[0], channels[1], conv_dropout),
        )
        self.flat_dim = channels[1] * t * s * s
        self.fc1 = nn.Linear(self.flat_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, C2, T', H', W')
        x = x.flatten(1)  # (B, C2 * T' * H' * W')
        if x.shape[1] != self.flat_dim:
            raise FervidError(
                f"c3d: built for {self.num_frames} frames of {self.image_size}x{self.image_size}, "
                f"got input of shape {tuple(x.shape)}"
            )
        x = self.relu(self.fc1(x))  # (B, hidden)
        x = self.relu(self.fc2(x))  # (B, hidden)
        return self.head(self.dropout(x))  # (B, num_classes)


register_model(
    "c3d",
    description="the study's 2-layer C3D: Conv3d 3->32->48 (k3 s2), FC 256-256-classes",
    num_frames=16,
    image_size=112,
    head=("head.",),
    study_weights=None,  # the study trained its small C3D from scratch
    geometry_keys=("channels", "hidden"),
)(C3D)
