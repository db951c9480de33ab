"""R(2+1)D-18 (Tran et al. 2018): torchvision's ``VideoResNet`` with a new classifier.

The module *is* torchvision's model, so its state-dict keys are torchvision's and a torchvision
``r2plus1d_18`` checkpoint (e.g. the Kinetics-400 file) loads directly; only ``fc`` differs
when the class count does.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.video import R2Plus1D_18_Weights
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, R2Plus1dStem, VideoResNet

from fervid.hub import TORCHVISION_LICENCE, from_torchvision
from fervid.models.registry import Converted, register_model
from fervid.models.weights import strip_prefix

# torchvision's Kinetics-400 normalisation for its video models (models/video/resnet.py).
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


WEIGHTS = (
    # clip_len 16 per the enum's docs; URL, file name, hash prefix, mean/std and crop come from the enum.
    from_torchvision(
        R2Plus1D_18_Weights.KINETICS400_V1,
        model="r2plus1d",
        name="kinetics400",
        description="torchvision R(2+1)D-18, Kinetics-400 (16x112 clips); fc replaced",
        licence=TORCHVISION_LICENCE,
        num_frames=16,
    ),
)


def _from_torchvision(state: dict, model: nn.Module, info: dict) -> Converted:
    """A torchvision ``r2plus1d_18`` state dict already has our keys (DDP's ``module.`` dropped)."""
    return Converted(strip_prefix(state, "module."))


@register_model(
    "r2plus1d",
    description="R(2+1)D-18, torchvision's VideoResNet with the classifier replaced",
    num_frames=16,
    image_size=112,
    head=("fc.",),
    mean=KINETICS_MEAN,
    std=KINETICS_STD,
    convert=_from_torchvision,
    weights=WEIGHTS,
    study_weights="kinetics400",
    geometry_keys=("layers",),
)
def r2plus1d(
    *,
    num_classes: int,
    num_frames: int,
    image_size: int,
    layers: tuple[int, int, int, int] = (2, 2, 2, 2),
) -> VideoResNet:
    """Build R(2+1)D; ``layers=(2, 2, 2, 2)`` is R(2+1)D-18, fewer blocks give tiny test models.

    Input ``(B, 3, T, H, W)``, output ``(B, num_classes)``. Global average pooling makes the
    network independent of ``num_frames``/``image_size`` (recorded only as the clip size it is
    meant for); T and H, W are each downsampled 8x and 16x.
    """
    return VideoResNet(
        block=BasicBlock,
        conv_makers=[Conv2Plus1D] * 4,
        layers=list(layers),
        stem=R2Plus1dStem,
        num_classes=num_classes,
    )
