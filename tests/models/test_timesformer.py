"""TimeSformer: Hugging Face and official-checkpoint parity, interpolation, key checks, size."""

from __future__ import annotations

import pytest
import torch

from fervid.errors import FervidError, PretrainedMismatchError
from fervid.models import create_model

transformers = pytest.importorskip("transformers")

TINY = dict(embed_dim=64, depth=2, num_heads=4, patch_size=8)


def _tiny(**kw):
    args = dict(num_classes=5, num_frames=4, image_size=32, **TINY)
    args.update(kw)
    return create_model("timesformer", **args).eval()


def _perturb(model: torch.nn.Module, seed: int = 0) -> None:
    """Move every weight away from its initialisation (zeros, ones) so each path is exercised."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)


def _hf_model(tmp_path, *, with_head: bool = True):
    from transformers import TimesformerConfig, TimesformerForVideoClassification, TimesformerModel

    torch.manual_seed(0)
    config = TimesformerConfig(
        image_size=32,
        patch_size=8,
        num_frames=4,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        num_labels=5,
    )
    hf = (TimesformerForVideoClassification if with_head else TimesformerModel)(config).eval()
    _perturb(hf)
    hf.save_pretrained(tmp_path)
    return hf


def test_hugging_face_weights_give_the_same_logits(tmp_path):
    hf = _hf_model(tmp_path)
    # HF does not zero temporal_dense: with non-zero weights the temporal path counts in the logits.
    assert all(layer.temporal_dense.weight.abs().sum() > 0 for layer in hf.timesformer.encoder.layer)
    model = create_model("timesformer", num_classes=5, num_frames=4, image_size=32, pretrained=str(tmp_path), **TINY)
    model.eval()
    clip = torch.randn(2, 3, 4, 32, 32)  # (B, C, T, H, W)
    with torch.no_grad():
        ours = model(clip)
        theirs = hf(pixel_values=clip.transpose(1, 2)).logits  # HF takes (B, T, C, H, W)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert "Hugging Face" in str(model.load_report)
    # A temporal path that mattered: zeroing temporal_fc changes the logits.
    for blk in model.blocks:
        torch.nn.init.zeros_(blk.temporal_fc.weight)
    with torch.no_grad():
        assert (model(clip) - ours).abs().max() > 1e-3


def test_hugging_face_weights_file_alone_and_base_model(tmp_path):
    _hf_model(tmp_path / "cls")
    model = create_model(
        "timesformer",
        num_classes=5,
        num_frames=4,
        image_size=32,
        pretrained=str(tmp_path / "cls" / "model.safetensors"),
        **TINY,
    )
    assert model.load_report.replaced_head == []

    _hf_model(tmp_path / "base", with_head=False)  # TimesformerModel: no classifier
    model = create_model(
        "timesformer", num_classes=5, num_frames=4, image_size=32, pretrained=str(tmp_path / "base"), **TINY
    )
    assert model.load_report.replaced_head == [] and model.load_report.fresh == []
    assert sorted(model.load_report.new_head) == ["head.bias", "head.weight"]
    assert "no head in the source: new head" in str(model.load_report)


def _official(state: dict) -> dict:
    """fervid's keys are the official ones minus the 'model.' prefix (official vit.py)."""
    return {"model_state": {f"model.{k}": v for k, v in state.items()}}


def test_official_checkpoint_loads_strictly_and_gives_identical_logits(tmp_path):
    source = _tiny()
    _perturb(source)
    path = tmp_path / "checkpoint_epoch_00015.pyth"
    torch.save(_official(source.state_dict()), path)
    model = _tiny(pretrained=str(path))
    report = model.load_report
    assert report.loaded == len(source.state_dict()) and not report.replaced_head and not report.fresh
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(clip), source(clip))


def test_official_checkpoint_with_other_classes_replaces_the_head(tmp_path):
    path = tmp_path / "k400.pyth"
    torch.save(_official(_tiny(num_classes=400).state_dict()), path)
    report = _tiny(num_classes=6, pretrained=str(path)).load_report
    assert any(r.startswith("head.weight (400, 64) -> (6, 64)") for r in report.replaced_head)


def test_other_image_size_and_frame_count_are_interpolated(tmp_path):
    source = _tiny(num_frames=8, image_size=32)  # 4x4 patch grid, 8 frames
    _perturb(source)
    path = tmp_path / "ckpt.pyth"
    torch.save(_official(source.state_dict()), path)
    model = _tiny(num_frames=4, image_size=48, pretrained=str(path))  # 6x6 grid, 4 frames
    notes = str(model.load_report)
    assert "pos_embed interpolated from a 4x4 to a 6x6 patch grid" in notes
    assert "time_embed interpolated from 8 to 4 frames" in notes
    # Linear resampling of 8 -> 4 frames averages neighbouring pairs (align_corners=False).
    expected = source.time_embed.detach().reshape(1, 4, 2, -1).mean(2)
    torch.testing.assert_close(model.time_embed.detach(), expected)
    torch.testing.assert_close(model.pos_embed.detach()[:, 0], source.pos_embed.detach()[:, 0])  # CLS kept
    assert model(torch.randn(1, 3, 4, 48, 48)).shape == (1, 5)


def test_wrong_keys_are_rejected_with_their_names(tmp_path):
    state = _official(_tiny().state_dict())
    state["model_state"]["model.blocks.0.spatial_gate.weight"] = torch.zeros(3)
    path = tmp_path / "bad.pyth"
    torch.save(state, path)
    with pytest.raises(PretrainedMismatchError, match="blocks.0.spatial_gate.weight"):
        _tiny(pretrained=str(path))

    state = _official(_tiny().state_dict())
    del state["model_state"]["model.blocks.1.temporal_fc.weight"]
    torch.save(state, path)
    with pytest.raises(PretrainedMismatchError, match="missing.*blocks.1.temporal_fc.weight"):
        _tiny(pretrained=str(path))


def test_temporal_fc_starts_at_zero_in_every_block():
    model = _tiny(depth=3)
    assert all(not blk.temporal_fc.weight.any() and not blk.temporal_fc.bias.any() for blk in model.blocks)


@pytest.mark.parametrize("init_std", [0.02, 0.07])
def test_init_std_sets_the_linear_weights_and_keeps_temporal_fc_at_zero(init_std):
    model = _tiny(embed_dim=128, init_std=init_std)  # 0.02 is the official default
    weights = torch.cat(
        [
            m.weight.flatten()
            for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and "temporal_fc" not in n
        ]
    )
    assert weights.std().item() == pytest.approx(init_std, rel=0.1)
    assert not any(blk.temporal_fc.weight.any() for blk in model.blocks)


def test_input_of_another_size_and_bad_sizes_are_fervid_errors():
    with pytest.raises(FervidError, match="built for 4 frames of 32x32"):
        _tiny()(torch.randn(1, 3, 2, 32, 32))
    with pytest.raises(FervidError, match="image_size 30 is not a multiple of patch_size 8"):
        _tiny(image_size=30)
    with pytest.raises(FervidError, match="embed_dim 64 is not divisible by num_heads 5"):
        _tiny(num_heads=5)


def test_parameter_count_of_timesformer_b():
    # TimeSformer-B/16, 8x224: 121,566,352 parameters with the 400-class Kinetics head
    # (official TimeSformer vit.py; Hugging Face facebook/timesformer-base-finetuned-k400).
    # The head is Linear(768, classes): 6 classes have (400 - 6) * (768 + 1) fewer.
    with torch.device("meta"):
        k400 = create_model("timesformer", num_classes=400)
        six = create_model("timesformer", num_classes=6)
    assert sum(p.numel() for p in k400.parameters()) == 121_566_352
    assert sum(p.numel() for p in six.parameters()) == 121_566_352 - (400 - 6) * (768 + 1)


def test_the_registered_kinetics_weights_load_from_the_hugging_face_cache_offline(tmp_path, monkeypatch):
    # A tiny stand-in staged under the real repo id and file names (config.json + pytorch_model.bin),
    # laid out as huggingface_hub caches it; HF_HUB_OFFLINE=1: nothing but the cache is read.
    import io

    from hub_fixtures import hf_repo_in_cache, use_caches

    _, hf_hub = use_caches(monkeypatch, tmp_path / "cache", offline=True)
    hf = _hf_model(tmp_path / "saved")
    buf = io.BytesIO()
    torch.save(hf.state_dict(), buf)
    hf_repo_in_cache(
        hf_hub,
        "facebook/timesformer-base-finetuned-k400",
        {"config.json": (tmp_path / "saved" / "config.json").read_bytes(), "pytorch_model.bin": buf.getvalue()},
        lfs=("pytorch_model.bin",),
    )
    model = _tiny(pretrained="kinetics400")
    report = model.load_report
    assert report.source == "timesformer/kinetics400 (hf:facebook/timesformer-base-finetuned-k400)"
    assert (report.mean, report.std) == ((0.45,) * 3, (0.225,) * 3)
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), hf(pixel_values=clip.transpose(1, 2)).logits, atol=1e-4, rtol=0)
