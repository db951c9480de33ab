"""videomae: parity with Hugging Face ``VideoMAEModel`` / ``VideoMAEForVideoClassification`` and the
q/v-bias checks.

transformers 5.x keeps ``query.bias``/``value.bias`` in memory and writes ``q_bias``/``v_bias`` to
files (its ``conversion_mapping.py``, the 4.x file names), with ``qv_bias`` in config.json where
4.x wrote ``qkv_bias``: all of these are read. Tiny configurations invented here, every
parameter perturbed from its initialisation.
"""

import json

import pytest
import torch
from hub_fixtures import perturb, tiny_hf_videomae_config
from safetensors.torch import save_file

from fervid.errors import PretrainedMismatchError
from fervid.models import create_model
from fervid.models.videomae import sinusoid_table

TINY = dict(num_frames=4, image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, mlp_ratio=2.0)


@pytest.fixture(scope="module")
def hf_classifier(tmp_path_factory):
    from transformers import VideoMAEForVideoClassification

    torch.manual_seed(0)
    model = perturb(VideoMAEForVideoClassification(tiny_hf_videomae_config()))
    path = tmp_path_factory.mktemp("hf_videomae")
    model.save_pretrained(path)
    return model, path


def _save(tmp_path, state, config=None):
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_classifier_save_matches_sequence_output_and_logits(hf_classifier):
    hf, path = hf_classifier
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), "pt") as f:
        assert any(k.endswith("attention.attention.q_bias") for k in f.keys())  # the file keeps 4.x names
    ours = create_model("videomae", num_classes=3, pretrained=str(path), **TINY).eval()
    assert ours.load_report.loaded == len(ours.state_dict()) and not ours.load_report.fresh
    x = torch.randn(2, 3, 4, 32, 32)  # fervid (B, C, T, H, W); Hugging Face takes (B, T, C, H, W)
    with torch.no_grad():
        seq = hf.videomae(pixel_values=x.transpose(1, 2)).last_hidden_state  # (2, 2*4*4, 32)
        torch.testing.assert_close(ours.tokens(x), seq, atol=1e-4, rtol=0)
        # Hugging Face's fc_norm has torch's default eps 1e-5, the official one 1e-6: within 1e-4
        torch.testing.assert_close(ours(x), hf(pixel_values=x.transpose(1, 2)).logits, atol=1e-4, rtol=0)
    assert "pos_embed" not in ours.state_dict()
    torch.testing.assert_close(ours.pos_embed, hf.videomae.embeddings.position_embeddings, atol=1e-7, rtol=0)


def test_in_memory_v5_names_and_bare_encoder_load(hf_classifier, tmp_path):
    hf, _ = hf_classifier
    encoder = {k.removeprefix("videomae."): v for k, v in hf.state_dict().items() if k.startswith("videomae.")}
    assert any(k.endswith("attention.attention.query.bias") for k in encoder)  # 5.x module names
    ours = create_model("videomae", num_classes=3, pretrained=str(_save(tmp_path, encoder)), **TINY).eval()
    assert ours.load_report.fresh == ["fc_norm."] and set(ours.load_report.new_head) == {"head.weight", "head.bias"}
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            ours.tokens(x), hf.videomae(pixel_values=x.transpose(1, 2)).last_hidden_state, atol=1e-4, rtol=0
        )


def test_pretraining_save_drops_the_decoder(tmp_path):
    from transformers import VideoMAEForPreTraining

    torch.manual_seed(0)
    hf = perturb(
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
    hf.save_pretrained(tmp_path)
    ours = create_model("videomae", num_classes=3, pretrained=str(tmp_path), **TINY).eval()
    notes = "\n".join(ours.load_report.notes)
    assert "decoder." in notes and "layernorm." in notes and ours.load_report.fresh == ["fc_norm."]
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():  # the pre-training encoder's own final norm is not part of fine-tuning
        expected = hf.videomae.encoder(hf.videomae.embeddings(x.transpose(1, 2), None)).last_hidden_state
        torch.testing.assert_close(ours.tokens(x), expected, atol=1e-4, rtol=0)


def test_missing_or_zero_qv_biases_are_refused(hf_classifier, tmp_path):
    hf, path = hf_classifier
    config = json.loads((path / "config.json").read_text())
    state = hf.state_dict()
    missing = {k: v for k, v in state.items() if not k.endswith(("query.bias", "value.bias"))}
    with pytest.raises(PretrainedMismatchError, match="lacks 4 of 4 q/v biases .* config.json says qkv_bias: true"):
        create_model("videomae", num_classes=3, pretrained=str(_save(tmp_path, missing, config)), **TINY)
    zeros = {k: torch.zeros_like(v) if k.endswith(("query.bias", "value.bias")) else v for k, v in state.items()}
    with pytest.raises(PretrainedMismatchError, match="all 4 q/v biases are zero"):
        create_model("videomae", num_classes=3, pretrained=str(_save(tmp_path, zeros, config)), **TINY)


def test_config_without_qv_biases_loads_as_zero_biases(tmp_path):
    from transformers import VideoMAEModel

    torch.manual_seed(0)
    hf = perturb(VideoMAEModel(tiny_hf_videomae_config(qkv_bias=False)))
    hf.save_pretrained(tmp_path)
    ours = create_model("videomae", num_classes=3, pretrained=str(tmp_path), **TINY).eval()
    assert any("q/v biases set to zero" in n for n in ours.load_report.notes)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            ours.tokens(x), hf(pixel_values=x.transpose(1, 2)).last_hidden_state, atol=1e-4, rtol=0
        )


def test_sinusoid_table_by_hand():
    table = sinusoid_table(3, 4)[0]  # channels: sin(p), cos(p), sin(p/100), cos(p/100)
    p = torch.arange(3.0)
    expected = torch.stack([torch.sin(p), torch.cos(p), torch.sin(p / 100), torch.cos(p / 100)], dim=1)
    torch.testing.assert_close(table, expected)
