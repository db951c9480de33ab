"""Geometry from the checkpoint: saves of sizes invented here load with ``pretrained=`` alone and equal
the reference implementations; a contradicting argument is refused by name; the activation follows
the source (quick-GELU for OpenAI's CLIP, GELU where an open_clip or Hugging Face config says so);
the Hugging Face repos ``fervid weights list`` names load at their published config sizes.

The reference outputs are transformers' (VideoMAE, CLIP, ViT) and open_clip's own modules, built
with random weights perturbed from their initialisation (open_clip_torch wheel: CLIP's quick-GELU
per Radford et al. 2021 and OpenAI's release; GELU for open_clip models without ``-quickgelu``).
"""

from __future__ import annotations

import json

import pytest
import torch
from hub_fixtures import perturb, tiny_hf_videomae_config

from fervid.errors import PretrainedMismatchError
from fervid.models import create_model, get_model_info, list_models
from fervid.models.clip_text import tokenize
from fervid.models.geometry import fit
from fervid.models.weights import load_converted

NAMES = ["happiness", "sadness"]


def test_videomae_save_of_another_size_loads_by_its_config_alone(tmp_path):
    """The review's case: a Hugging Face VideoMAE save with 3 layers of width 72 (6 heads, which
    the 64-channel rule would get wrong: config.json says it)."""
    from transformers import VideoMAEForVideoClassification

    torch.manual_seed(0)
    config = tiny_hf_videomae_config(hidden_size=72, num_hidden_layers=3, num_attention_heads=6, intermediate_size=144)
    hf = perturb(VideoMAEForVideoClassification(config))
    hf.save_pretrained(tmp_path)
    model = create_model("videomae", num_classes=3, pretrained=str(tmp_path)).eval()  # no geometry arguments
    report = model.load_report
    assert report.geometry == dict(patch_size=8, tubelet_size=2, embed_dim=72, depth=3, num_heads=6, mlp_ratio=2.0)
    assert report.architecture["num_frames"] == 4 and report.architecture["image_size"] == 32  # config's clip
    assert "built with the weights' geometry (config.json and tensor shapes)" in str(report)
    assert "activation: GELU (exact, erf), as config.json's hidden_act says" in str(report)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(pixel_values=x.transpose(1, 2)).logits, atol=1e-4, rtol=0)

    same = create_model("videomae", num_classes=3, pretrained=str(tmp_path), depth=3)  # agreeing: fine
    assert same.load_report.geometry["depth"] == 3
    with pytest.raises(PretrainedMismatchError) as e:
        create_model("videomae", num_classes=3, pretrained=str(tmp_path), depth=12, num_heads=6)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{tmp_path}: the weights have depth=3 (config.json")
    assert "but depth=12 was asked for; leave depth out" in message


@pytest.mark.parametrize("act", ["gelu", "quick_gelu"])
def test_clip_save_of_another_size_loads_by_its_config_alone(tmp_path, act):
    """48-wide towers with 3 heads (16 channels each) and 8-px patches; hidden_act as config.json says."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    tower = dict(hidden_size=48, intermediate_size=192, num_hidden_layers=2, num_attention_heads=3, hidden_act=act)
    config = CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=16, **tower),
        vision_config=dict(image_size=32, patch_size=8, **tower),
        projection_dim=24,
    )
    hf = perturb(CLIPModel(config))
    hf.save_pretrained(tmp_path)
    model = create_model(
        "clip", num_classes=2, num_frames=1, temporal_depth=0, head="text", class_names=NAMES, pretrained=str(tmp_path)
    ).eval()
    g = model.load_report.geometry
    assert (g["width"], g["heads"], g["patch_size"], g["embed_dim"], g["act"]) == (48, 3, 8, 24, act)
    assert model.load_report.architecture["image_size"] == 32 and not model.load_report.fresh
    images, tokens = torch.randn(3, 3, 32, 32), tokenize(["a photo of a happy looking face.", "sad"], 16)
    with torch.no_grad():
        img = hf.get_image_features(pixel_values=images).pooler_output
        txt = hf.get_text_features(input_ids=tokens, attention_mask=(tokens > 0).long()).pooler_output
        torch.testing.assert_close(model.visual(images), img, atol=1e-4, rtol=0)
        torch.testing.assert_close(model.head.text(tokens), txt, atol=1e-4, rtol=0)


def test_vit_save_of_another_size_loads_by_its_config_alone(tmp_path):
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=96,
        image_size=32,
        patch_size=8,
        layer_norm_eps=1e-6,
    )
    hf = perturb(ViTModel(config, add_pooling_layer=False))
    hf.save_pretrained(tmp_path)
    model = create_model(
        "vivit", num_frames=2, pretrained=str(tmp_path), temporal_depth=1, temporal_mlp_dim=32, head_hidden=8
    ).eval()
    assert model.load_report.geometry == dict(patch_size=8, embed_dim=48, depth=2, mlp_ratio=2.0, num_heads=3)
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.spatial(images), hf(images).last_hidden_state[:, 0], atol=1e-4, rtol=0)


def _open_clip(quick_gelu: bool):
    """A tiny open_clip CLIP and the model_cfg open_clip_config.json records for it."""
    from open_clip.model import CLIP

    cfg = dict(
        embed_dim=16,
        vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=8),
        text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=4, layers=2),
        **({"quick_gelu": True} if quick_gelu else {}),
    )
    torch.manual_seed(0)
    return perturb(CLIP(**cfg)), cfg


@pytest.mark.parametrize("quick_gelu", [False, True])
def test_open_clip_gelu_and_quick_gelu_models_equal_open_clip(tmp_path, quick_gelu):
    """A saved open_clip model as its hub repos hold it (open_clip_config.json beside the weights)."""
    oc, cfg = _open_clip(quick_gelu)
    torch.save(oc.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    prompts = [["a photo of a happy looking face.", "they look happy."], ["a photo of a sad looking face."]]
    model = create_model(
        "clip",
        num_classes=2,
        num_frames=1,
        temporal_depth=0,
        head="text",
        class_names=NAMES,
        prompts=prompts,
        pretrained=str(tmp_path),
    ).eval()
    act = "quick_gelu" if quick_gelu else "gelu"
    assert model.load_report.geometry["act"] == act and model.load_report.geometry["heads"] == 4
    assert "as open_clip_config.json's quick_gelu says" in model.load_report.activation
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.visual(images), oc.encode_image(images), atol=1e-4, rtol=0)
        text = torch.nn.functional.normalize(oc.encode_text(tokenize([p for ps in prompts for p in ps], 16)), dim=-1)
        classes = torch.nn.functional.normalize(torch.stack([text[:2].mean(0), text[2]]), dim=-1)
        image = torch.nn.functional.normalize(oc.encode_image(images), dim=-1)
        expected = (oc.logit_scale.exp() * image @ classes.t()).softmax(-1)
        torch.testing.assert_close(model(images[:, :, None]).softmax(-1), expected, atol=1e-5, rtol=0)


def test_a_bare_open_clip_file_says_its_activation_is_assumed(tmp_path):
    oc, _ = _open_clip(quick_gelu=False)
    torch.save(oc.state_dict(), tmp_path / "gelu.pt")  # no config: nothing records the activation
    kw = dict(
        num_classes=2,
        num_frames=1,
        temporal_depth=0,
        head="text",
        class_names=NAMES,
        pretrained=str(tmp_path / "gelu.pt"),
    )
    assumed = create_model("clip", heads=4, text_heads=4, **kw).eval()
    assert assumed.load_report.architecture["act"] == "quick_gelu" and "assumed" in assumed.load_report.activation
    told = create_model("clip", heads=4, text_heads=4, act="gelu", **kw).eval()  # the user says what it is
    assert told.load_report.activation == "GELU (exact, erf), as asked (act='gelu')"
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(told.visual(images), oc.encode_image(images), atol=1e-4, rtol=0)
        assert (assumed.visual(images) - oc.encode_image(images)).abs().max() > 1e-3  # the wrong activation shows


# The published configs of the repos `fervid weights list` names (sizes from the repos' config.json
# files: VideoMAE-S/L as in MCG-NJU's ports, CLIP ViT-L/14 as in openai's, ViT-L/16 and B/32 as in
# google's), built by transformers on the meta device and loaded shape by shape, without weights.
VIDEOMAE_S = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536)
VIDEOMAE_L = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
CLIP_L = dict(
    text_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
    vision_config=dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14
    ),
    projection_dim=768,
)
KNOWN = {
    "hf:MCG-NJU/videomae-small-finetuned-kinetics": ("videomae", "VideoMAEForVideoClassification", VIDEOMAE_S),
    "hf:MCG-NJU/videomae-large": ("videomae", "VideoMAEForPreTraining", VIDEOMAE_L),
    "hf:MCG-NJU/videomae-large-finetuned-kinetics": ("videomae", "VideoMAEForVideoClassification", VIDEOMAE_L),
    "hf:openai/clip-vit-large-patch14": ("clip", "CLIPModel", CLIP_L),
    "hf:openai/clip-vit-large-patch14-336": (
        "clip",
        "CLIPModel",
        {**CLIP_L, "vision_config": {**CLIP_L["vision_config"], "image_size": 336}},
    ),
    "hf:google/vit-large-patch16-224-in21k": (
        "vivit",
        "ViTModel",
        dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, patch_size=16),
    ),
    "hf:google/vit-base-patch32-224-in21k": ("vivit", "ViTModel", dict(patch_size=32)),
}


def test_the_known_repos_listed_are_the_ones_checked_here():
    listed = {repo for name in list_models() for repo in get_model_info(name).known_repos}
    assert listed == set(KNOWN)


@pytest.mark.slow  # full-size configs on the meta device
@pytest.mark.filterwarnings("ignore:.*copying from a non-meta parameter")  # the q/v biases, on the meta device
@pytest.mark.parametrize("repo", sorted(KNOWN))
def test_known_repos_load_at_their_published_config_sizes(repo):
    import transformers

    name, cls, sizes = KNOWN[repo]
    config_cls = {"CLIPModel": transformers.CLIPConfig, "ViTModel": transformers.ViTConfig}.get(
        cls, transformers.VideoMAEConfig
    )
    config = config_cls(**sizes)
    with torch.device("meta"):
        hf = getattr(transformers, cls)(config)
    # Meta tensors: shapes without memory; the q/v biases, whose values are checked, non-zero of no memory
    qv = ("q_bias", "v_bias", "query.bias", "value.bias")
    state = {k: torch.ones(()).expand(v.shape) if k.endswith(qv) else v for k, v in hf.state_dict().items()}
    info, side = get_model_info(name), {"config": config.to_dict()}
    extra = dict(head="text", class_names=["a", "b", "c"], temporal_depth=0) if name == "clip" else {}
    kwargs, frames, size = fit(info.geometry(state, side), extra, None, None, label=repo)
    with torch.device("meta"):
        model = info.builder(num_classes=3, num_frames=frames or info.num_frames, image_size=size, **kwargs)
    report = load_converted(model, info.convert(state, model, side), head=info.head, source=repo)
    assert report.loaded > 0 and not any("interpolated" in n for n in report.notes)  # built at the weights' size
    width = sizes.get("hidden_size") or sizes.get("vision_config", {}).get("hidden_size") or 768
    assert kwargs.get("width", kwargs.get("embed_dim")) == width
    assert size == (336 if "336" in repo else 224)
