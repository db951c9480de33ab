"""The study's 2-layer C3D: structure as specified, flatten size derived from the clip size."""

import pytest
import torch
from torch import nn

from fervid.errors import FervidError
from fervid.models import create_model


def _meta(**kw):
    with torch.device("meta"):
        return create_model("c3d", num_classes=6, **kw)


def test_structure_is_the_specified_two_layer_c3d():
    model = _meta()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 32), (32, 48)]
    for c in convs:
        assert c.kernel_size == (3, 3, 3) and c.stride == (2, 2, 2) and c.padding == (0, 0, 0)
    for block in model.features:
        kinds = [type(m) for m in block]
        assert kinds == [nn.Conv3d, nn.BatchNorm3d, nn.ReLU, nn.Dropout3d]
        assert block[3].p == 0.2
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [lin.out_features for lin in linears] == [256, 256, 6]
    assert isinstance(model.dropout, nn.Dropout) and model.dropout.p > 0


@pytest.mark.parametrize("frames,size", [(16, 112), (8, 32), (7, 7), (11, 64)])
def test_flatten_size_follows_the_clip_size(frames, size):
    model = _meta(num_frames=frames, image_size=size).eval()
    with torch.device("meta"):
        fmap = model.features(torch.empty(1, 3, frames, size, size))
    assert model.fc1.in_features == fmap[0].numel()


def test_default_flatten_size_and_parameters_by_hand():
    # 16 frames: (16-3)//2+1 = 7, (7-3)//2+1 = 3; 112 px: 55, then 27.
    flat = 48 * 3 * 27 * 27
    assert flat == 104_976
    expected = (
        (3 * 32 * 27 + 32)
        + 2 * 32  # conv1 + BN1 affine
        + (32 * 48 * 27 + 48)
        + 2 * 48  # conv2 + BN2 affine
        + (flat * 256 + 256)
        + (256 * 256 + 256)
        + (256 * 6 + 6)
    )
    assert sum(p.numel() for p in _meta().parameters()) == expected


def test_too_small_clip_is_a_fervid_error():
    with pytest.raises(FervidError, match="at least 7 frames"):
        create_model("c3d", num_frames=2, image_size=32)


def test_input_of_another_size_is_a_fervid_error():
    model = create_model("c3d", num_classes=3, num_frames=8, image_size=32, channels=(4, 4), hidden=8)
    with pytest.raises(FervidError, match="built for 8 frames of 32x32"):
        model(torch.zeros(1, 3, 8, 48, 48))
