"""Temporal Shift Module (Lin et al. 2019) on a torchvision ResNet.

"blockres" placement as in the official code and MMAction2: inside the residual branch of every
block of all four stages, before ``conv1``; the identity path is not shifted. The shift lives in
a ``Conv2d`` subclass that takes the place of each block's ``conv1``, so the state-dict keys stay
torchvision's and an ImageNet ResNet checkpoint loads as is (its ``fc`` is the head). The
official TSM release's and MMAction2's checkpoints load by renaming (``convert_tsm``).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet50_Weights
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from fervid.errors import FervidError
from fervid.hub import IMAGENET_MEAN, IMAGENET_STD, TORCHVISION_LICENCE, Url, Weights, from_torchvision
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


# Official TSM (mit-han-lab/temporal-shift-module, ops/models.py and ops/temporal_shift.py): the
# torchvision ResNet under "base_model.", each shifted conv1 wrapped as "conv1.net", classifier "new_fc".
_OFFICIAL_RENAMES = [(r"^base_model\.", ""), (r"\.conv1\.net\.", ".conv1."), (r"^new_fc\.", "fc.")]
# MMAction2 ResNetTSM (mmaction/models/backbones/resnet.py, resnet_tsm.py): mmcv ConvModules
# ("convN.conv" + "convN.bn"), the shift wrapping conv1's conv as "conv1.conv.net", classifier "cls_head.fc_cls".
_MMACTION_RENAMES = [
    (r"^backbone\.conv1\.conv\.", "conv1."),
    (r"^backbone\.conv1\.bn\.", "bn1."),
    (r"^backbone\.(layer\d\.\d+)\.conv(\d)\.conv\.(?:net\.)?", r"\1.conv\2."),
    (r"^backbone\.(layer\d\.\d+)\.conv(\d)\.bn\.", r"\1.bn\2."),
    (r"^backbone\.(layer\d\.\d+)\.downsample\.conv\.", r"\1.downsample.0."),
    (r"^backbone\.(layer\d\.\d+)\.downsample\.bn\.", r"\1.downsample.1."),
    (r"^cls_head\.fc_cls\.", "fc."),
]


def _rename(key: str, rules) -> str:
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    return key


def convert_tsm(state: dict, model: nn.Module, info: dict) -> Converted:
    """Map a torchvision ResNet, an official TSM or an MMAction2 TSM state dict to fervid's keys."""
    state = strip_prefix(state, "module.")  # DataParallel
    if any(k.startswith("base_model.") for k in state):
        return Converted(
            {_rename(k, _OFFICIAL_RENAMES): v for k, v in state.items()},
            notes=["official TSM checkpoint: base_model./new_fc./conv1.net keys renamed"],
        )
    if any(k.startswith("backbone.") for k in state):
        dropped = sorted(k for k in state if k.startswith("data_preprocessor."))
        notes = ["MMAction2 TSM checkpoint: backbone./cls_head.fc_cls/ConvModule keys renamed"]
        if dropped:
            notes.append("not weights, not used: " + ", ".join(dropped))
        return Converted({_rename(k, _MMACTION_RENAMES): v for k, v in state.items() if k not in dropped}, notes=notes)
    return Converted(state, notes=["2-D ResNet weights used for every frame; temporal shifts have no parameters"])


def _imagenet(name: str, member, what: str) -> Weights:
    return from_torchvision(
        member,
        model="tsm",
        name=name,
        licence=TORCHVISION_LICENCE,
        description=f"torchvision ResNet-50 ImageNet-1k ({what}), per frame; fc replaced",
    )


WEIGHTS = (
    Weights(
        model="tsm",
        name="kinetics400",
        description="official TSM ResNet-50, Kinetics-400, 8 frames, shift 1/8 blockres (MIT Han lab)",
        # pretrained/download.sh of the official repository; it publishes no hash.
        source=Url(
            "https://hanlab.mit.edu/projects/tsm/models/TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth"
        ),
        licence="MIT (TSM repository)",
        size=97_523_008,  # its tensors: ResNet-50 + a 400-class fc, fp32
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        image_size=224,
        num_frames=8,
    ),
    _imagenet("imagenet", ResNet50_Weights.IMAGENET1K_V1, "V1"),
    _imagenet("imagenet_v2", ResNet50_Weights.IMAGENET1K_V2, "V2, newer recipe"),
)


@register_model(
    "tsm",
    description="Temporal Shift Module, residual shift in every block of a torchvision ResNet-50",
    num_frames=8,
    image_size=224,
    head=("fc.",),
    convert=convert_tsm,
    weights=WEIGHTS,
    study_weights="kinetics400",
    geometry_keys=("depth",),
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
