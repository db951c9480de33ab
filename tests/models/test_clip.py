"""clip: parity with Hugging Face ``CLIPModel`` and open_clip through the converters, text-head caching.

Tiny configurations invented here; every parameter is perturbed from its initialisation so that
zero-initialised biases and unit LayerNorms carry information. Layouts: REFERENCE sources,
Hugging Face ``modeling_clip.py`` and open_clip ``model.py`` (both installed here).
"""

import json

import pytest
import torch
import torch.nn.functional as F
from hub_fixtures import perturb, tiny_hf_clip
from safetensors.torch import save_file

from fervid.errors import FervidError
from fervid.models import create_model
from fervid.models.clip_text import DEFAULT_TEMPLATES, tokenize

NAMES = ["anger", "happiness", "neutral"]
TEMPLATES = ["a photo of a face showing {}.", "a face with an expression of {}."]
TOWERS = dict(
    patch_size=8, width=32, depth=2, heads=4, embed_dim=16, text_width=32, text_depth=2, text_heads=4, context_length=16
)


@pytest.fixture(scope="module")
def hf_clip(tmp_path_factory):
    """A tiny perturbed transformers CLIPModel saved with save_pretrained, plus a copy with a 4.x-style
    persisted ``position_ids`` buffer."""
    model = tiny_hf_clip(layers=2, heads=4)
    path = tmp_path_factory.mktemp("hf_clip")
    model.save_pretrained(path)
    old = tmp_path_factory.mktemp("hf_clip_4x")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["vision_model.embeddings.position_ids"] = torch.arange(17)[None]
    save_file(state, str(old / "model.safetensors"))
    (old / "config.json").write_text((path / "config.json").read_text())
    return model, path, old


def _zero_shot(path, templates=TEMPLATES):
    return create_model(
        "clip",
        num_classes=3,
        num_frames=2,
        image_size=32,
        temporal_depth=0,
        head="text",
        class_names=NAMES,
        templates=templates,
        pretrained=str(path),
        **TOWERS,
    ).eval()


def test_hf_clip_image_text_and_zero_shot_logits_match(hf_clip):
    hf, path, old = hf_clip
    ours = _zero_shot(path)
    assert not ours.load_report.fresh and not ours.load_report.replaced_head
    images = torch.randn(4, 3, 32, 32)
    prompts = [t.format(n) for n in NAMES for t in TEMPLATES]
    tokens = tokenize(prompts, 16)
    with torch.no_grad():
        hf_img = hf.get_image_features(pixel_values=images).pooler_output  # (4, 16)
        hf_txt = hf.get_text_features(input_ids=tokens).pooler_output  # (6, 16)
        torch.testing.assert_close(ours.visual(images), hf_img, atol=1e-4, rtol=0)
        torch.testing.assert_close(ours.head.text(tokens), hf_txt, atol=1e-4, rtol=0)
        # zero-shot logits of one image against each class's template ensemble
        ens = F.normalize(F.normalize(hf_txt, dim=-1).reshape(3, 2, -1).mean(1), dim=-1)
        expected = hf.logit_scale.exp() * F.normalize(hf_img, dim=-1) @ ens.t()
        clip = images[:, :, None].expand(4, 3, 2, 32, 32)  # a 2-frame clip of each image
        torch.testing.assert_close(ours(clip), expected, atol=1e-4, rtol=0)
        # and CLIPModel's own logits for single prompts
        single = _zero_shot(path, templates=TEMPLATES[:1])
        got = single(clip)
        want = hf(input_ids=tokenize([TEMPLATES[0].format(n) for n in NAMES], 16), pixel_values=images).logits_per_image
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    again = _zero_shot(old)  # the older file with a persisted position_ids buffer
    assert any("position_ids" in n for n in again.load_report.notes)
    with torch.no_grad():
        torch.testing.assert_close(again(clip), ours(clip), atol=0, rtol=0)


def test_open_clip_layout_matches_open_clip(tmp_path):
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(0)
    oc = perturb(
        CLIP(
            embed_dim=16,
            quick_gelu=True,
            vision_cfg=CLIPVisionCfg(layers=2, width=32, head_width=8, image_size=32, patch_size=8),
            text_cfg=CLIPTextCfg(context_length=16, vocab_size=49408, width=32, heads=4, layers=2),
        )
    )
    torch.save(oc.state_dict(), tmp_path / "open_clip.pt")
    ours = _zero_shot(tmp_path / "open_clip.pt")
    images, tokens = torch.randn(3, 3, 32, 32), tokenize(["a photo of a face showing fear.", "sad"], 16)
    with torch.no_grad():
        torch.testing.assert_close(ours.visual(images), oc.encode_image(images), atol=1e-4, rtol=0)
        torch.testing.assert_close(ours.head.text(tokens), oc.encode_text(tokens), atol=1e-4, rtol=0)
        assert float(ours.head.logit_scale) == pytest.approx(float(oc.logit_scale))


def test_linear_head_and_temporal_model_report_what_is_new(hf_clip):
    _, path, _ = hf_clip
    model = create_model(
        "clip",
        num_classes=5,
        num_frames=4,
        image_size=48,
        pretrained=str(path),
        **{k: v for k, v in TOWERS.items() if not k.startswith(("text", "context"))},
        temporal_heads=2,
        temporal_mlp_dim=32,
    )
    report = model.load_report
    assert report.fresh == ["temporal."] and {"head.weight", "head.bias"} <= set(report.new_head)
    text = "\n".join(report.notes)
    assert "text tower" in text and "linear head" in text and "4x4 to a 6x6" in text  # 32 -> 48 px
    assert model(torch.randn(2, 3, 4, 48, 48)).shape == (2, 5)


@pytest.mark.parametrize(
    "vision, text, message",
    [("gelu", "quick_gelu", "towers use different activations"), ("relu", "relu", "hidden_act 'relu'")],
)
def test_hf_config_with_an_activation_fervid_lacks_is_refused(hf_clip, tmp_path, vision, text, message):
    _, path, _ = hf_clip
    cfg = json.loads((path / "config.json").read_text())
    cfg["vision_config"]["hidden_act"], cfg["text_config"]["hidden_act"] = vision, text
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "model.safetensors").write_bytes((path / "model.safetensors").read_bytes())
    with pytest.raises(FervidError, match=message) as e:
        _zero_shot(tmp_path)
    assert "\n" not in str(e.value)


def test_cached_class_embeddings_follow_loaded_weights():
    kw = dict(num_classes=3, num_frames=2, image_size=32, head="text", class_names=NAMES, **TOWERS)
    torch.manual_seed(0)
    a = create_model("clip", **kw).eval()
    torch.manual_seed(1)
    b = create_model("clip", **kw).eval()
    assert not torch.allclose(a.head.class_embeds, b.head.class_embeds)
    assert "head.class_embeds" not in a.state_dict() and "head.tokens" not in a.state_dict()
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.head.class_embeds, a.head.class_embeds, atol=0, rtol=0)
    assert a.head.tokens.shape == (3 * len(DEFAULT_TEMPLATES), 16)
    assert not any(p.requires_grad for p in a.head.text.parameters())  # the text tower is frozen
    with torch.no_grad():
        torch.testing.assert_close(a.head.class_embeds, a.head.class_embeddings(), atol=0, rtol=0)


def test_context_tokens_learn_and_are_not_cached():
    torch.manual_seed(0)
    model = create_model(
        "clip", num_classes=3, num_frames=2, image_size=32, head="text", class_names=NAMES, n_ctx=3, **TOWERS
    )
    assert model.head.ctx.shape == (3, 3, 32) and model.head.tokens.shape == (3, 16)
    model(torch.randn(2, 3, 2, 32, 32)).sum().backward()
    assert model.head.ctx.grad is not None and model.head.ctx.grad.abs().sum() > 0
    assert model.head.logit_scale.grad is not None


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(head="text"), "needs class_names for its 3 classes"),
        (dict(head="text", class_names=["a", "b"]), "needs class_names for its 3 classes"),
        (dict(head="text", class_names=NAMES, templates=["no slot"]), "exactly one '{}'"),
        (dict(head="text", class_names=NAMES, context_length=6), "tokens long; the text tower takes 6"),
        (dict(head="mlp"), "choose 'linear' or 'text'"),
    ],
)
def test_bad_head_settings_are_one_line_errors(kw, message):
    with pytest.raises(FervidError, match=message):
        create_model("clip", num_classes=3, num_frames=2, image_size=32, **{**TOWERS, **kw})


def test_without_open_clip_the_text_head_says_what_to_install(monkeypatch):
    import importlib.util

    from fervid.models import clip_text

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "open_clip" else real(name, *a))
    clip_text._tokenizer.cache_clear()
    try:
        with pytest.raises(FervidError, match="pip install open_clip_torch"):
            tokenize(["a face"], 8)
    finally:
        clip_text._tokenizer.cache_clear()


def test_vision_only_saves(tmp_path):
    from transformers import CLIPVisionConfig, CLIPVisionModel, CLIPVisionModelWithProjection

    cfg = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=16,
    )
    torch.manual_seed(0)
    hf = perturb(CLIPVisionModelWithProjection(cfg))
    hf.save_pretrained(tmp_path / "proj")
    vision = {k: v for k, v in TOWERS.items() if not k.startswith(("text", "context"))}
    ours = create_model(
        "clip", num_classes=3, num_frames=2, image_size=32, pretrained=str(tmp_path / "proj"), **vision
    ).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours.visual(images), hf(pixel_values=images).image_embeds, atol=1e-4, rtol=0)
    CLIPVisionModel(cfg).save_pretrained(tmp_path / "bare")  # transformers 5 writes it without "vision_model."
    with pytest.raises(FervidError, match="no visual_projection"):
        create_model("clip", num_classes=3, num_frames=2, image_size=32, pretrained=str(tmp_path / "bare"), **vision)
