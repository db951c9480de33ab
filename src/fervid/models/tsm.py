"""Temporal Shift Module (Lin et al. 2019) on a torchvision ResNet.

"blockres" placement as in the official code and MMAction2: inside the residual branch of every
block of all four stages, before ``conv1``; the identity path is not shifted. The shift lives in
a ``Conv2d`` subclass that takes the place of each block's ``conv1``, so the state-dict keys stay
torchvision's and an ImageNet ResNet checkpoint loads as is (its ``fc`` is the head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from fervid.errors import FervidError
from fervid.models.registry import Converted, register_model
from fervid.models.weights import strip_prefix

_DEPTHS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3])}


def temporal_shift(x: torch.Tensor, num_segments: int, fold_div: int = 8) -> torch.Tensor:
    """Shift channels along time, zero-filled at the clip ends.

    ``x``: ``(N*T, C, H, W)`` with the ``T = num_segments`` frames of each clip adjacent.
    The first ``C // fold_div`` channels take the next frame's values (shift toward the past),
    the next ``C // fold_div`` the previous frame's, the rest stay. Returns the same shape.
    """
    nt, c, h, w = x.shape
    if nt % num_segments:
        raise FervidError(f"temporal_shift: batch of {nt} frames is not a multiple of {num_segments} segments")
    fold = c // fold_div
    x = x.view(nt // num_segments, num_segments, c, h, w)  # (N, T, C, H, W)
    # F.pad's tuple runs from the last axis: (W, W, H, H, C, C, T_before, T_after).
    from_next = F.pad(x[:, 1:, :fold], (0, 0, 0, 0, 0, 0, 0, 1))  # (N, T, fold, H, W)
    from_prev = F.pad(x[:, :-1, fold : 2 * fold], (0, 0, 0, 0, 0, 0, 1, 0))  # (N, T, fold, H, W)
    out = torch.cat([from_next, from_prev, x[:, :, 2 * fold :]], dim=2)  # (N, T, C, H, W)
    return out.view(nt, c, h, w)


class ShiftConv2d(nn.Conv2d):
    """A ``Conv2d`` that applies :func:`temporal_shift` to its input first (no extra parameters)."""

    def __init__(self, conv: nn.Conv2d, *, num_segments: int, fold_div: int):
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        self.weight = conv.weight  # keep torchvision's initialisation
        if conv.bias is not None:
            self.bias = conv.bias
        self.num_segments, self.fold_div = num_segments, fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(temporal_shift(x, self.num_segments, self.fold_div))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", num_segments={self.num_segments}, fold_div={self.fold_div}"


class TSM(ResNet):
    """TSM-ResNet: a 2-D ResNet run on every frame, with temporal shifts in every residual block.

    Input ``(B, 3, T, H, W)`` with ``T = num_frames``; output ``(B, num_classes)``: per-frame
    logits (dropout, then ``fc``) averaged over the ``T`` frames.
    """

    def __init__(self, *, num_classes: int, num_frames: int, depth: int, fold_div: int, dropout: float):
        if depth not in _DEPTHS:
            raise FervidError(f"tsm: depth must be one of {sorted(_DEPTHS)}, got {depth}")
        block, layers = _DEPTHS[depth]
        super().__init__(block, layers, num_classes=num_classes)
        self.num_frames = num_frames
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for blk in stage:
                blk.conv1 = ShiftConv2d(blk.conv1, num_segments=num_frames, fold_div=fold_div)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        if t != self.num_frames:
            raise FervidError(f"tsm: built for {self.num_frames} frames, got a clip of {t}")
        x = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, 3, H, W), frames of a clip adjacent
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B*T, F, H/32, W/32)
        x = self.avgpool(x).flatten(1)  # (B*T, F)
        x = self.fc(self.dropout(x))  # (B*T, num_classes)
        return x.view(b, t, -1).mean(dim=1)  # (B, num_classes)


def _from_torchvision(state: dict, model: nn.Module, info: dict) -> Converted:
    """A torchvision ImageNet ResNet state dict has our keys; the shift has no parameters."""
    return Converted(
        strip_prefix(state, "module."),
        notes=["2-D ImageNet ResNet weights used for every frame; temporal shifts have no parameters"],
    )


@register_model(
    "tsm",
    description="Temporal Shift Module, residual shift in every block of a torchvision ResNet-50",
    num_frames=8,
    image_size=224,
    head=("fc.",),
    convert=_from_torchvision,
)
def tsm(
    *,
    num_classes: int,
    num_frames: int,
    image_size: int,
    depth: int = 50,
    fold_div: int = 8,
    dropout: float = 0.5,
) -> TSM:
    """Build :class:`TSM` (ResNet ``depth`` 18, 34 or 50). ``image_size`` is free (global pooling)."""
    return TSM(num_classes=num_classes, num_frames=num_frames, depth=depth, fold_div=fold_div, dropout=dropout)
