"""clip's and videomae's named weights through the real Hugging Face cache code, offline.

Tiny transformers models (invented here, perturbed from their init) stand in for the real files,
staged under the real repo ids and file names (``config.json`` + ``pytorch_model.bin``) in a
temporary HF_HOME with HF_HUB_OFFLINE=1, as ``fervid weights download`` leaves them.
"""

import pytest
import torch
from hub_fixtures import as_hub_files, hf_repo_in_cache, perturb, tiny_hf_clip, tiny_hf_videomae_config, use_caches

from fervid import hub
from fervid.errors import FervidError, PretrainedMismatchError
from fervid.models import create_model, get_model_info, register_all
from fervid.models.clip import CLIP_MEAN, CLIP_STD

CLIP_TINY = dict(
    num_frames=2, image_size=32, width=32, depth=1, heads=2, embed_dim=16, temporal_heads=2, temporal_mlp_dim=32
)
VIDEOMAE_TINY = dict(num_frames=4, image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_ratio=2.0)


def _files(model, folder):
    model.save_pretrained(folder)
    return as_hub_files(folder)


def test_the_registered_entries():
    register_all()
    entries = {w.key: w for w in hub.all_weights() if w.model in ("clip", "videomae")}
    assert sorted(entries) == ["clip/openai", "clip/openai_b32", "videomae/kinetics400", "videomae/kinetics400_ssl"]
    assert [entries[k].source.repo_id for k in sorted(entries)] == [
        "openai/clip-vit-base-patch16",
        "openai/clip-vit-base-patch32",
        "MCG-NJU/videomae-base-finetuned-kinetics",
        "MCG-NJU/videomae-base",
    ]
    for w in entries.values():  # no pinned file: model.safetensors where the repo (or the cache) has it
        assert w.source.files == () and w.image_size == 224
        assert w.licence == ("MIT" if w.model == "clip" else "CC-BY-NC-4.0")
    assert entries["clip/openai"].mean == CLIP_MEAN and entries["videomae/kinetics400"].num_frames == 16
    assert (get_model_info("clip").study_weights, get_model_info("videomae").study_weights) == (
        "openai",
        "kinetics400_ssl",
    )


def test_clip_openai_loads_from_the_cache_and_b32_builds_its_own_geometry(tmp_path, monkeypatch):
    _, hf_hub = use_caches(monkeypatch, tmp_path, offline=True)
    b16, b32 = (
        tiny_hf_clip(patch_size=16),
        tiny_hf_clip(patch_size=8),
    )  # tiny stand-ins: "B/16" has 16-px patches, "B/32" 8-px ones
    hf_repo_in_cache(hf_hub, "openai/clip-vit-base-patch16", _files(b16, tmp_path / "b16"), lfs=("pytorch_model.bin",))
    hf_repo_in_cache(hf_hub, "openai/clip-vit-base-patch32", _files(b32, tmp_path / "b32"), lfs=("pytorch_model.bin",))
    model = create_model("clip", num_classes=3, pretrained="openai", patch_size=16, **CLIP_TINY).eval()
    report = model.load_report
    assert report.source == "clip/openai (hf:openai/clip-vit-base-patch16)"
    assert (report.mean, report.std) == (CLIP_MEAN, CLIP_STD) and report.fresh == ["temporal."]
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model.visual(x), b16.get_image_features(pixel_values=x).pooler_output, atol=1e-4, rtol=0
        )

    with pytest.raises(PretrainedMismatchError) as e:  # the B/32 entry, asked for with B/16's patches
        create_model("clip", num_classes=3, pretrained="openai_b32", patch_size=16, **CLIP_TINY)
    message = str(e.value)
    assert "\n" not in message and message.startswith("clip/openai_b32 (hf:openai/clip-vit-base-patch32): ")
    assert "the weights have patch_size=8 (config.json and tensor shapes), but patch_size=16 was asked" in message
    fits = create_model("clip", num_classes=3, pretrained="openai_b32", **CLIP_TINY).eval()  # its own patches
    assert fits.load_report.geometry["patch_size"] == 8
    with torch.no_grad():
        torch.testing.assert_close(
            fits.visual(x), b32.get_image_features(pixel_values=x).pooler_output, atol=1e-4, rtol=0
        )


def test_clip_openai_offline_without_the_cache_is_one_line(tmp_path, monkeypatch):
    use_caches(monkeypatch, tmp_path, offline=True)
    with pytest.raises(FervidError) as e, torch.device("meta"):  # the full-size model, built without memory
        create_model("clip", pretrained="openai")
    message = str(e.value)
    assert "\n" not in message and message.startswith(
        "clip/openai: cannot get the weights from hf:openai/clip-vit-base-patch16"
    )
    assert "HF_HUB_OFFLINE is set" in message and "`fervid weights download clip/openai`" in message


def test_videomae_named_weights_load_and_their_qv_biases_are_checked(tmp_path, monkeypatch):
    from transformers import VideoMAEForPreTraining, VideoMAEForVideoClassification

    _, hf_hub = use_caches(monkeypatch, tmp_path, offline=True)
    torch.manual_seed(0)
    ssl = perturb(
        VideoMAEForPreTraining(
            tiny_hf_videomae_config(
                use_mean_pooling=False,
                decoder_num_hidden_layers=1,
                decoder_hidden_size=16,
                decoder_num_attention_heads=2,
                decoder_intermediate_size=32,
            )
        )
    )
    files = _files(ssl, tmp_path / "ssl")
    hf_repo_in_cache(hf_hub, "MCG-NJU/videomae-base", files, lfs=("pytorch_model.bin",))
    model = create_model("videomae", num_classes=3, pretrained="kinetics400_ssl", **VIDEOMAE_TINY).eval()
    report = model.load_report
    assert report.source == "videomae/kinetics400_ssl (hf:MCG-NJU/videomae-base)" and report.fresh == ["fc_norm."]
    assert report.mean == (0.485, 0.456, 0.406) and any("decoder." in n for n in report.notes)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():  # q/v biases arrived: the encoder's tokens are the pre-trained model's
        expected = ssl.videomae.encoder(ssl.videomae.embeddings(x.transpose(1, 2), None)).last_hidden_state
        torch.testing.assert_close(model.tokens(x), expected, atol=1e-4, rtol=0)

    # The fine-tuned entry, staged from a file whose q/v biases were lost (all zero, as a v5 round trip leaves them)
    ft = perturb(VideoMAEForVideoClassification(tiny_hf_videomae_config(num_labels=5)))
    with torch.no_grad():
        for name, p in ft.named_parameters():
            if name.endswith(("query.bias", "value.bias")):
                p.zero_()
    hf_repo_in_cache(
        hf_hub, "MCG-NJU/videomae-base-finetuned-kinetics", _files(ft, tmp_path / "ft"), lfs=("pytorch_model.bin",)
    )
    with pytest.raises(PretrainedMismatchError) as e:
        create_model("videomae", num_classes=3, pretrained="kinetics400", **VIDEOMAE_TINY)
    assert str(e.value).startswith("videomae/kinetics400 (hf:MCG-NJU/videomae-base-finetuned-kinetics): ")
    assert "all 4 q/v biases are zero" in str(e.value) and "\n" not in str(e.value)
