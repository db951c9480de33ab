"""R(2+1)D-18: the same network as torchvision's, and its checkpoints load."""

import pytest
import torch
from torchvision.models.video import r2plus1d_18

from fervid.models import create_model, get_model_info


@pytest.fixture(scope="module")
def torchvision_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    tv = r2plus1d_18(num_classes=400).eval()
    path = tmp_path_factory.mktemp("tv") / "r2plus1d_18.pth"
    torch.save(tv.state_dict(), path)
    return tv, path


def test_logits_equal_torchvision_given_the_same_weights(torchvision_checkpoint):
    tv, path = torchvision_checkpoint
    ours = create_model("r2plus1d", num_classes=400, pretrained=str(path)).eval()
    assert not ours.load_report.replaced_head
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), rtol=0, atol=0)


def test_kinetics_head_is_replaced_and_reported(torchvision_checkpoint, tmp_path):
    tv, _ = torchvision_checkpoint
    path = tmp_path / "ddp.pt"  # a DDP-wrapped save: keys under "module."
    torch.save({"state_dict": {"module." + k: v for k, v in tv.state_dict().items()}}, path)
    ours = create_model("r2plus1d", num_classes=6, pretrained=str(path))
    report = ours.load_report
    assert any("fc.weight (400, 512) -> (6, 512)" in r for r in report.replaced_head)
    assert report.loaded == len(tv.state_dict()) - 2
    assert torch.equal(ours.stem[0].weight, tv.stem[0].weight)
    assert torch.equal(ours.layer4[1].conv2[0][3].weight, tv.layer4[1].conv2[0][3].weight)
    assert "head replaced" in str(report)


def test_parameter_count_at_six_classes():
    # torchvision models/video/resnet.py docs: r2plus1d_18 has 31,505,325 parameters at 400
    # classes; the 512-d fc contributes 513 per class.
    expected = 31_505_325 - 400 * 513 + 6 * 513
    with torch.device("meta"):
        model = create_model("r2plus1d", num_classes=6)
    assert sum(p.numel() for p in model.parameters()) == expected == 31_303_203


def test_defaults_and_kinetics_normalisation():
    info = get_model_info("r2plus1d")
    assert (info.num_frames, info.image_size) == (16, 112)
    # torchvision's video classification transforms (Kinetics-400).
    assert info.mean == (0.43216, 0.394666, 0.37645)
    assert info.std == (0.22803, 0.22145, 0.216989)
