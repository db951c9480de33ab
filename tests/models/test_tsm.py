"""TSM: the shift itself, where it sits in the ResNet, and ImageNet checkpoints."""

import re

import pytest
import torch
import torchvision
from torch import nn

from fervid.errors import FervidError
from fervid.models import create_model
from fervid.models.tsm import ShiftConv2d, temporal_shift


def _shift_by_loops(x, num_segments, fold_div):
    """The definition, one element at a time (MMAction2 resnet_tsm / official TSM)."""
    nt, c, h, w = x.shape
    n, fold = nt // num_segments, c // fold_div
    out = torch.zeros_like(x)
    for clip in range(n):
        for t in range(num_segments):
            row = clip * num_segments + t
            for ch in range(c):
                if ch < fold:  # takes the next frame's value
                    if t + 1 < num_segments:
                        out[row, ch] = x[row + 1, ch]
                elif ch < 2 * fold:  # takes the previous frame's value
                    if t > 0:
                        out[row, ch] = x[row - 1, ch]
                else:
                    out[row, ch] = x[row, ch]
    return out


@pytest.mark.parametrize("n,t,c,fold_div", [(2, 3, 16, 8), (1, 4, 20, 4), (3, 1, 8, 8), (2, 2, 5, 8), (1, 5, 9, 2)])
def test_temporal_shift_matches_the_loop_reference(n, t, c, fold_div):
    x = torch.randn(n * t, c, 2, 3)
    assert torch.equal(temporal_shift(x, t, fold_div), _shift_by_loops(x, t, fold_div))


def test_temporal_shift_rejects_a_batch_that_is_not_whole_clips():
    with pytest.raises(FervidError, match="not a multiple of 3"):
        temporal_shift(torch.zeros(4, 8, 1, 1), 3)


def test_shift_is_in_the_residual_branch_of_every_block_only():
    model = create_model("tsm", num_classes=3, num_frames=2, image_size=32, depth=18)
    shifted = {name for name, m in model.named_modules() if isinstance(m, ShiftConv2d)}
    blocks = [f"layer{i}.{j}.conv1" for i, n in zip(range(1, 5), (2, 2, 2, 2)) for j in range(n)]
    assert shifted == set(blocks)
    assert all(not isinstance(m, ShiftConv2d) for m in model.layer2[0].downsample.modules())


@pytest.mark.parametrize("depth,stage", [(18, "layer2"), (50, "layer1")])
def test_block_shifts_the_residual_path_and_not_the_identity(depth, stage):
    t = 4
    with torch.no_grad():
        model = create_model("tsm", num_classes=3, num_frames=t, image_size=32, depth=depth).eval()
        block = getattr(model, stage)[0]
        assert block.downsample is not None  # the identity path has a projection here
        x = torch.randn(2 * t, block.conv1.in_channels, 8, 8)
        branch = [block.conv1, block.bn1, block.relu, block.conv2, block.bn2]
        if depth == 50:
            branch += [block.relu, block.conv3, block.bn3]
        y = temporal_shift(x, t, 8)
        y = nn.functional.conv2d(y, block.conv1.weight, None, block.conv1.stride, block.conv1.padding)
        for layer in branch[1:]:
            y = layer(y)
        expected = torch.relu(y + block.downsample(x))
        torch.testing.assert_close(block(x), expected)


def test_without_shifted_channels_it_is_a_per_frame_resnet_with_averaged_logits():
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=3).eval()
    tsm = create_model("tsm", num_classes=3, num_frames=3, image_size=32, depth=18, fold_div=10**6).eval()
    tsm.load_state_dict(resnet.state_dict())
    x = torch.randn(2, 3, 3, 32, 32)  # (B, C, T, H, W)
    with torch.no_grad():
        per_frame = torch.stack([resnet(x[:, :, i]) for i in range(3)], dim=1)  # (B, T, classes)
        torch.testing.assert_close(tsm(x), per_frame.mean(dim=1))


def test_imagenet_resnet_checkpoint_loads_with_head_replaced(tmp_path):
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)
    model = create_model("tsm", num_classes=3, num_frames=2, image_size=32, depth=18, pretrained=str(path))
    assert {r.split()[0] for r in model.load_report.replaced_head} == {"fc.weight", "fc.bias"}
    assert torch.equal(model.layer3[1].conv1.weight, resnet.layer3[1].conv1.weight)
    with pytest.raises(FervidError, match="shapes that do not fit"):  # ResNet-18 weights, ResNet-50 model
        with torch.device("meta"):
            target = create_model("tsm", num_classes=3, depth=50)
        from fervid.models import get_model_info
        from fervid.models.weights import load_pretrained

        load_pretrained(target, path, get_model_info("tsm"))


def test_parameter_count_of_tsm_r50_at_six_classes():
    # MMAction2 resnet_tsm / torchvision ResNet-50: 23,508,032 backbone parameters; fc 2048 -> 6.
    with torch.device("meta"):
        model = create_model("tsm", num_classes=6)
    assert sum(p.numel() for p in model.parameters()) == 23_508_032 + 2048 * 6 + 6


def test_wrong_clip_length_and_depth_are_fervid_errors():
    model = create_model("tsm", num_classes=3, num_frames=2, image_size=32, depth=18)
    with pytest.raises(FervidError, match="built for 2 frames"):
        model(torch.zeros(1, 3, 3, 32, 32))
    with pytest.raises(FervidError, match="depth must be one of"):
        create_model("tsm", depth=101)


def _official_layout(tv_state: dict) -> dict:
    """The official TSM release (mit-han-lab/temporal-shift-module): DataParallel's "module.", the
    ResNet under "base_model.", shifted convs wrapped as "conv1.net", classifier "new_fc"."""
    out = {}
    for k, v in tv_state.items():
        if k.startswith("fc."):
            out["module.new_fc." + k[3:]] = v
        else:
            out["module.base_model." + re.sub(r"^(layer\d\.\d+)\.conv1\.", r"\1.conv1.net.", k)] = v
    return {"state_dict": out, "epoch": 50, "best_prec1": 74.1}


def _mmaction_layout(tv_state: dict) -> dict:
    """MMAction2's ResNetTSM + TSMHead: ConvModules (conv + bn), the shift wrapping conv1's conv."""
    rules = [
        (r"^conv1\.", "backbone.conv1.conv."),
        (r"^bn1\.", "backbone.conv1.bn."),
        (r"^(layer\d\.\d+)\.conv1\.", r"backbone.\1.conv1.conv.net."),
        (r"^(layer\d\.\d+)\.conv(\d)\.", r"backbone.\1.conv\2.conv."),
        (r"^(layer\d\.\d+)\.bn(\d)\.", r"backbone.\1.conv\2.bn."),
        (r"^(layer\d\.\d+)\.downsample\.0\.", r"backbone.\1.downsample.conv."),
        (r"^(layer\d\.\d+)\.downsample\.1\.", r"backbone.\1.downsample.bn."),
        (r"^fc\.", "cls_head.fc_cls."),
    ]
    out = {}
    for k, v in tv_state.items():
        for pattern, repl in rules:
            new, hits = re.subn(pattern, repl, k)
            if hits:
                out[new] = v
                break
        else:
            raise AssertionError(f"no MMAction2 name for {k}")
    return {"meta": {"mmaction2_version": "1.2.0"}, "state_dict": out}


def test_official_and_mmaction2_checkpoints_give_the_torchvision_layout_logits(tmp_path):
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=5)
    with torch.no_grad():  # BatchNorm off its init (1, 0, 0, 1), so a swapped bn key would show
        for m in resnet.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.0), m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
    state = resnet.state_dict()
    x = torch.randn(2, 3, 2, 32, 32)
    logits, reports = [], []
    for layout, obj in (("tv", state), ("official", _official_layout(state)), ("mmaction2", _mmaction_layout(state))):
        torch.save(obj, tmp_path / f"{layout}.pth")
        model = create_model(
            "tsm", num_classes=5, num_frames=2, image_size=32, depth=18, pretrained=str(tmp_path / f"{layout}.pth")
        ).eval()
        assert model.load_report.loaded == len(state) and not model.load_report.replaced_head
        reports.append(str(model.load_report))
        with torch.no_grad():
            logits.append(model(x))
    assert torch.equal(logits[0], logits[1]) and torch.equal(logits[0], logits[2])
    assert "official TSM checkpoint" in reports[1] and "MMAction2 TSM checkpoint" in reports[2]


def test_resnet50_layouts_map_onto_every_torchvision_key():
    # Bottlenecks add conv3/bn3 and the study's TSM is R50: the renaming alone, on meta tensors.
    from fervid.models.tsm import convert_tsm

    with torch.device("meta"):
        state = torchvision.models.resnet50(num_classes=400).state_dict()
    for layout in (_official_layout, _mmaction_layout):
        converted = convert_tsm(layout(state)["state_dict"], None, {}).state_dict
        assert list(converted) == list(state) and all(converted[k] is state[k] for k in state)
