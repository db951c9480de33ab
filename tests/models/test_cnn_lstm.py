"""CNN+LSTM with additive attention over time."""

import pytest
import torch
from torchvision.models import mobilenet_v3_large, mobilenet_v3_small

from fervid.errors import PretrainedMismatchError
from fervid.models import create_model

TINY = dict(num_frames=3, image_size=32, width_mult=0.25, hidden=16)


def test_attention_pools_hidden_states_as_defined():
    torch.manual_seed(0)
    model = create_model("cnn_lstm", num_classes=3, **TINY)
    att = model.attention
    h = torch.randn(2, 5, 16)  # (B, T, hidden)
    context, alpha = att(h)
    # Yang et al. 2016: u_t = tanh(W h_t + b), alpha = softmax_t(u_t . u_w), c = sum_t alpha_t h_t
    u = torch.tanh(h @ att.proj.weight.T + att.proj.bias)
    scores = (u * att.context).sum(-1)
    expected_alpha = scores.exp() / scores.exp().sum(dim=1, keepdim=True)
    torch.testing.assert_close(alpha, expected_alpha)
    torch.testing.assert_close(context, (expected_alpha[..., None] * h).sum(dim=1))
    assert all(p.requires_grad for p in att.parameters())


@pytest.mark.parametrize("frames", [1, 5])
def test_any_clip_length(frames):
    model = create_model("cnn_lstm", num_classes=4, **{**TINY, "num_frames": frames})
    assert model(torch.randn(2, 3, frames, 32, 32)).shape == (2, 4)


def test_parameter_count_at_six_classes():
    # torchvision MobileNetV3-Large features: 2,971,952; nn.LSTM(960, 512): 4*(960*512 + 512*512 + 2*512)
    # = 3,018,752; attention W (512x512 + 512) and u_w (512); head 512 -> 6.
    expected = 2_971_952 + 3_018_752 + (512 * 512 + 512 + 512) + (512 * 6 + 6)
    with torch.device("meta"):
        model = create_model("cnn_lstm", num_classes=6)
    assert model.lstm.input_size == 960 and model.lstm.hidden_size == 512 and model.lstm.num_layers == 1
    assert sum(p.numel() for p in model.parameters()) == expected


def test_imagenet_mobilenet_checkpoint_loads_into_the_frame_encoder(tmp_path):
    torch.manual_seed(0)
    mnet = mobilenet_v3_large()
    path = tmp_path / "mobilenet_v3_large.pth"
    torch.save(mnet.state_dict(), path)
    model = create_model("cnn_lstm", num_classes=6, pretrained=str(path))
    report = model.load_report
    assert report.fresh == ["attention.", "lstm."]
    assert not report.replaced_head and set(report.new_head) == {"head.weight", "head.bias"}
    assert "no head in the source: new head: head.weight, head.bias" in str(report)
    assert "class count differs" not in str(report)
    assert any("classifier.0.weight" in n and "classifier.3.bias" in n for n in report.notes)
    assert report.loaded == sum(1 for k in mnet.state_dict() if k.startswith("features."))
    assert torch.equal(model.features[16][0].weight, mnet.features[16][0].weight)


def test_mobilenet_small_checkpoint_is_rejected_naming_keys(tmp_path):
    path = tmp_path / "mobilenet_v3_small.pth"
    torch.save(mobilenet_v3_small().state_dict(), path)
    with pytest.raises(PretrainedMismatchError, match=r"features\.\d+\."):
        create_model("cnn_lstm", num_classes=6, pretrained=str(path))


def test_sizes_torch_refuses_are_one_line_fervid_errors():
    from fervid.errors import FervidError

    with pytest.raises(FervidError, match="^cnn_lstm: hidden_size must be greater than zero"):
        create_model("cnn_lstm", num_classes=3, **{**TINY, "hidden": 0})
