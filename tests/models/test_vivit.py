"""ViViT factorised encoder: spatial-encoder parity with torchvision and Hugging Face ViTs,
frame-order sensitivity, fresh temporal parts, key checks, size."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.vision_transformer import VisionTransformer

from fervid.errors import PretrainedMismatchError
from fervid.models import create_model

TINY = dict(embed_dim=64, depth=2, num_heads=4, patch_size=8, temporal_mlp_dim=128, head_hidden=32)


def _tiny(**kw):
    args = dict(num_classes=5, num_frames=4, image_size=32, **TINY)
    args.update(kw)
    return create_model("vivit", **args).eval()


def _perturb(model: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)


def _torchvision_vit(image_size: int = 32) -> VisionTransformer:
    torch.manual_seed(0)
    vit = VisionTransformer(
        image_size=image_size, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=256, num_classes=1000
    ).eval()
    _perturb(vit)
    return vit


def test_spatial_encoder_matches_torchvision_vit(tmp_path):
    vit = _torchvision_vit()
    path = tmp_path / "vit_b_16.pth"
    torch.save(vit.state_dict(), path)
    model = _tiny(pretrained=str(path))
    report = model.load_report
    assert report.fresh == ["temporal."] and not report.replaced_head
    assert sorted(report.new_head) == ["head.0.bias", "head.0.weight", "head.3.bias", "head.3.weight"]
    assert "heads.head.weight" in str(report)  # the ImageNet classifier is named as unused
    vit.heads = torch.nn.Identity()  # torchvision's forward then returns the CLS features
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.spatial(images), vit(images), atol=1e-4, rtol=0)


def test_spatial_encoder_matches_hugging_face_vit(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    # layer_norm_eps as in fervid's (and torchvision's/timm's) ViT; HF's default is 1e-12.
    config = transformers.ViTConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        image_size=32,
        patch_size=8,
        layer_norm_eps=1e-6,
    )
    hf = transformers.ViTModel(config).eval()
    _perturb(hf)
    hf.save_pretrained(tmp_path / "saved")  # the file format (encoder.layer.N.attention.attention.query …)
    torch.save(hf.state_dict(), tmp_path / "module_names.pt")  # this version's in-memory names
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        cls = hf(pixel_values=images).last_hidden_state[:, 0]  # the pooler's input, after the final LayerNorm
    for source in (tmp_path / "saved", tmp_path / "module_names.pt"):
        model = _tiny(pretrained=str(source))
        assert model.load_report.fresh == ["temporal."] and len(model.load_report.new_head) == 4
        assert "pooler.dense.weight" in str(model.load_report)
        with torch.no_grad():
            torch.testing.assert_close(model.spatial(images), cls, atol=1e-4, rtol=0)


def test_checkpoint_at_another_image_size_is_interpolated(tmp_path):
    path = tmp_path / "vit.pth"
    torch.save(_torchvision_vit(image_size=32).state_dict(), path)
    model = _tiny(image_size=48, pretrained=str(path))
    assert "spatial.pos_embed interpolated from a 4x4 to a 6x6 patch grid" in str(model.load_report)
    assert model(torch.randn(1, 3, 4, 48, 48)).shape == (1, 5)


def test_wrong_keys_are_rejected_with_their_names(tmp_path):
    state = _torchvision_vit().state_dict()
    del state["encoder.layers.encoder_layer_1.ln_2.weight"]
    state["encoder.layers.encoder_layer_1.adapter.weight"] = torch.zeros(2)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(PretrainedMismatchError, match="adapter.weight"):
        _tiny(pretrained=str(path))
    del state["encoder.layers.encoder_layer_1.adapter.weight"]
    torch.save(state, path)
    with pytest.raises(PretrainedMismatchError, match="missing.*spatial.blocks.1.norm2.weight"):
        _tiny(pretrained=str(path))


def test_frame_order_matters_through_the_temporal_position_embedding():
    torch.manual_seed(0)
    model = _tiny()
    _perturb(model)  # trained-like weights: at the 0.02-std initialisation all logits are near 0
    clip = torch.randn(2, 3, 4, 32, 32)
    reversed_clip = clip.flip(2)
    with torch.no_grad():
        out, out_rev = model(clip), model(reversed_clip)
        assert (out - out_rev).abs().max() > 1e-4
        # Without the position embedding the temporal transformer cannot tell the order.
        model.temporal.pos_embed.zero_()
        torch.testing.assert_close(model(clip), model(reversed_clip), atol=1e-5, rtol=0)


def test_frames_share_the_spatial_encoder():
    model = _tiny()
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        per_frame = torch.stack([model.spatial(clip[:, :, i]) for i in range(4)], dim=1)  # (B, T, D)
        torch.testing.assert_close(model.head(model.temporal(per_frame)), model(clip))


@pytest.mark.parametrize("init_std", [0.02, 0.07])
def test_init_std_sets_the_linear_weights(init_std):
    model = _tiny(init_std=init_std)  # 0.02 is timm's and the official ViT code's
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Linear)])
    assert weights.std().item() == pytest.approx(init_std, rel=0.1)


def test_parameter_count_of_vivit_b():
    # Spatial encoder: torchvision vit_b_16 (models/vision_transformer.py, ViT_B_16_Weights) has
    # 86,567,656 parameters, of which its 1000-class head Linear(768, 1000) is 769,000.
    spatial = 86_567_656 - 769_000
    d, ffn, frames, classes = 768, 2048, 8, 6
    layer = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * ffn + ffn) + (ffn * d + d)  # 2 LN, qkv, proj, MLP
    temporal = 3 * layer + 2 * d + d + frames * d  # 3 layers, final LN, CLS token, position embedding
    head = (d * 192 + 192) + (192 * classes + classes)
    with torch.device("meta"):
        model = create_model("vivit", num_classes=classes)
    assert sum(p.numel() for p in model.spatial.parameters()) == spatial
    assert sum(p.numel() for p in model.parameters()) == spatial + temporal + head


def test_spatial_encoder_matches_a_timm_vit_reported_as_timm(tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=10, global_pool="token"
    ).eval()
    _perturb(vit)
    path = tmp_path / "timm_vit.pth"
    torch.save(vit.state_dict(), path)  # cls_token, pos_embed, patch_embed.proj, blocks.N.attn.qkv, norm, head
    model = _tiny(pretrained=str(path))
    report = str(model.load_report)
    assert "timm ViT checkpoint" in report and "Hugging Face" not in report
    assert "image-classifier weights not used: head.bias, head.weight" in report
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = vit.forward_head(vit.forward_features(images), pre_logits=True)  # the normalised CLS
        torch.testing.assert_close(model.spatial(images), expected, atol=1e-5, rtol=0)


def test_bad_sizes_are_one_line_fervid_errors():
    from fervid.errors import FervidError

    with pytest.raises(FervidError, match="vivit: image_size 30 is not a multiple of patch_size 8"):
        _tiny(image_size=30)
    with pytest.raises(FervidError, match="embed_dim 64 is not divisible by num_heads 5"):
        _tiny(temporal_heads=5)
    with pytest.raises(FervidError, match="vivit was built for 4 frames of 32x32"):
        _tiny()(torch.randn(1, 3, 3, 32, 32))
