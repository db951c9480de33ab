"""CLIP weights in Hugging Face and open_clip / OpenAI layouts, mapped onto fervid's ``clip``.

fervid's names (``visual.*``, ``head.text.*``, ``head.logit_scale``) against the two layouts:

==========================================  ==================================================  ==========================================
fervid                                      Hugging Face ``CLIPModel`` (4.x and 5.x files)      open_clip / OpenAI ``CLIP``
==========================================  ==================================================  ==========================================
visual.cls_token (1, 1, D)                  vision_model.embeddings.class_embedding (D)         visual.class_embedding (D)
visual.pos_embed (1, 1+N, D)                vision_model.embeddings.position_embedding.weight   visual.positional_embedding
visual.patch_embed.proj.weight              vision_model.embeddings.patch_embedding.weight      visual.conv1.weight
visual.norm_pre                             vision_model.pre_layrnorm                           visual.ln_pre
visual.blocks.N.norm1 / norm2               vision_model.encoder.layers.N.layer_norm1 / 2       visual.transformer.resblocks.N.ln_1 / ln_2
visual.blocks.N.attn.qkv (q, k, v stacked)  …self_attn.{q,k,v}_proj (fused here)                 …attn.in_proj_weight / in_proj_bias
visual.blocks.N.attn.proj                   …self_attn.out_proj                                 …attn.out_proj
visual.blocks.N.mlp.fc1 / fc2               …mlp.fc1 / fc2                                      …mlp.c_fc / c_proj
visual.norm                                 vision_model.post_layernorm                         visual.ln_post
visual.proj.weight (E, D)                   visual_projection.weight (E, D)                     visual.proj (D, E), transposed
head.text.token_embed.weight                text_model.embeddings.token_embedding.weight        token_embedding.weight
head.text.pos_embed (L, W)                  text_model.embeddings.position_embedding.weight     positional_embedding
head.text.blocks.N.*                        text_model.encoder.layers.N.* (as above)            transformer.resblocks.N.* (as above)
head.text.norm                              text_model.final_layer_norm                         ln_final
head.text.proj.weight (E, W)                text_projection.weight (E, W)                       text_projection (W, E), transposed
head.logit_scale                            logit_scale                                         logit_scale
==========================================  ==================================================  ==========================================

``CLIPVisionModelWithProjection`` saves (``vision_model.*``, ``visual_projection``) fit a linear
head. Dropped with a note: ``position_ids`` buffers (older Hugging Face saves), OpenAI's
``input_resolution`` / ``context_length`` / ``vocab_size`` entries and ``attn_mask``; the text tower
when the model has a linear head. Not in either layout, so freshly initialised and reported: the
temporal transformer and the classifier (``head.weight``/``bias`` or the context vectors
``head.ctx``). The image position grid is interpolated when the image size differs; the text
positions are cut to a shorter ``context_length``. :func:`clip_geometry` reads the builder
arguments the weights fix (``create_model`` builds them: ``fervid.models.geometry``), the activation
among them: quick-GELU for OpenAI's weights, GELU for most open_clip ones.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from fervid.errors import FervidError
from fervid.models.geometry import Geometry, activation_line, layer_count
from fervid.models.registry import Converted
from fervid.models.weights import fit_pos_embed, strip_prefix

_BLOCK = [  # inside one transformer layer, Hugging Face then open_clip names
    (r"layer_norm1\.", "norm1."),
    (r"layer_norm2\.", "norm2."),
    (r"self_attn\.(q|k|v)_proj\.", r"attn.\1."),
    (r"self_attn\.out_proj\.", "attn.proj."),
    (r"mlp\.fc1\.", "mlp.fc1."),
    (r"mlp\.fc2\.", "mlp.fc2."),
    (r"ln_1\.", "norm1."),
    (r"ln_2\.", "norm2."),
    (r"attn\.in_proj_weight$", "attn.qkv.weight"),
    (r"attn\.in_proj_bias$", "attn.qkv.bias"),
    (r"attn\.out_proj\.", "attn.proj."),
    (r"mlp\.c_fc\.", "mlp.fc1."),
    (r"mlp\.c_proj\.", "mlp.fc2."),
]
_HF = [
    (r"^vision_model\.embeddings\.class_embedding$", "visual.cls_token"),
    (r"^vision_model\.embeddings\.position_embedding\.weight$", "visual.pos_embed"),
    (r"^vision_model\.embeddings\.patch_embedding\.", "visual.patch_embed.proj."),
    (r"^vision_model\.pre_layrnorm\.", "visual.norm_pre."),
    (r"^vision_model\.encoder\.layers\.(\d+)\.", r"visual.blocks.\1."),
    (r"^vision_model\.post_layernorm\.", "visual.norm."),
    (r"^visual_projection\.", "visual.proj."),
    (r"^text_model\.embeddings\.token_embedding\.", "head.text.token_embed."),
    (r"^text_model\.embeddings\.position_embedding\.weight$", "head.text.pos_embed"),
    (r"^text_model\.encoder\.layers\.(\d+)\.", r"head.text.blocks.\1."),
    (r"^text_model\.final_layer_norm\.", "head.text.norm."),
    (r"^text_projection\.", "head.text.proj."),
    (r"^logit_scale$", "head.logit_scale"),
]
_OPEN_CLIP = [
    (r"^visual\.class_embedding$", "visual.cls_token"),
    (r"^visual\.positional_embedding$", "visual.pos_embed"),
    (r"^visual\.conv1\.", "visual.patch_embed.proj."),
    (r"^visual\.ln_pre\.", "visual.norm_pre."),
    (r"^visual\.transformer\.resblocks\.(\d+)\.", r"visual.blocks.\1."),
    (r"^visual\.ln_post\.", "visual.norm."),
    (r"^visual\.proj$", "visual.proj.weight"),
    (r"^token_embedding\.", "head.text.token_embed."),
    (r"^positional_embedding$", "head.text.pos_embed"),
    (r"^transformer\.resblocks\.(\d+)\.", r"head.text.blocks.\1."),
    (r"^ln_final\.", "head.text.norm."),
    (r"^text_projection$", "head.text.proj.weight"),
    (r"^text_projection\.", "head.text.proj."),
    (r"^logit_scale$", "head.logit_scale"),
]
_UNUSED = re.compile(r"(^|\.)position_ids$|^(input_resolution|context_length|vocab_size)$|(^|\.)attn_mask$")


def _rename(key: str, rules) -> str:
    for pattern, repl in rules:
        new, hits = re.subn(pattern, repl, key)
        if hits:
            key = new
            break
    m = re.match(r"^((?:visual|head\.text)\.blocks\.\d+\.)(.*)$", key)
    if m:
        rest = m.group(2)
        for pattern, repl in _BLOCK:
            rest, hits = re.subn(pattern, repl, rest)
            if hits:
                break
        key = m.group(1) + rest
    return key


def _fuse_qkv(state: dict) -> dict:
    """Stack Hugging Face's separate q, k, v projections into the fused ``qkv`` (q, k, v order)."""
    out = {}
    for key, value in state.items():
        m = re.match(r"^(.*\.attn)\.(q|k|v)\.(weight|bias)$", key)
        if m is None:
            out[key] = value
        elif m.group(2) == "q":
            prefix, kind = m.group(1), m.group(3)
            try:
                out[f"{prefix}.qkv.{kind}"] = torch.cat([state[f"{prefix}.{p}.{kind}"] for p in "qkv"], dim=0)
            except KeyError as e:
                raise FervidError(f"Hugging Face CLIP checkpoint lacks the {e.args[0]} part of {prefix}") from None
    return out


def _check_hf_config(config: dict) -> None:
    kind = config.get("model_type", "clip")
    if kind not in ("clip", "clip_vision_model"):
        raise FervidError(f"config.json describes a {kind!r} model, not CLIP")


def convert_clip(state: dict, model: nn.Module, info: dict) -> Converted:
    """Map a Hugging Face ``CLIPModel`` or an open_clip / OpenAI CLIP state dict onto ``model``."""
    state = strip_prefix(state, "module.")
    if any(k.startswith(("vision_model.", "text_model.")) for k in state):
        _check_hf_config(info.get("config") or {})
        rules, kind = _HF, "Hugging Face CLIPModel"
    elif "visual.conv1.weight" in state or "visual.class_embedding" in state:
        rules, kind = _OPEN_CLIP, "open_clip / OpenAI CLIP"
    elif "embeddings.patch_embedding.weight" in state:  # transformers 5 writes CLIPVisionModel unprefixed
        raise FervidError(
            "a Hugging Face CLIPVisionModel has no visual_projection, which fervid's clip needs: "
            "use a CLIPModel or CLIPVisionModelWithProjection save"
        )
    else:
        return Converted(state)  # fervid's own names: the loader checks them
    notes = [f"{kind} checkpoint: keys renamed onto fervid's clip"]
    dropped = sorted(k for k in state if _UNUSED.search(k))
    state = {k: v for k, v in state.items() if k not in dropped}
    for key in ("visual.proj", "text_projection"):  # open_clip's (in, out) matrices, used as x @ proj
        if rules is _OPEN_CLIP and key in state:
            state[key] = state[key].t().contiguous()
    state = _fuse_qkv({_rename(k, rules): v for k, v in state.items()})
    if "visual.cls_token" in state:
        state["visual.cls_token"] = state["visual.cls_token"].reshape(1, 1, -1)
    if state.get("visual.pos_embed") is not None and state["visual.pos_embed"].ndim == 2:
        state["visual.pos_embed"] = state["visual.pos_embed"].unsqueeze(0)
    if dropped:
        notes.append("not used: " + ", ".join(dropped))

    own = model.state_dict()
    text = sorted(k for k in state if k.startswith(("head.text.", "head.logit_scale")))
    if text and "head.text.proj.weight" not in own:
        state = {k: v for k, v in state.items() if k not in text}
        notes.append(f"text tower ({len(text)} tensors) not used: the model has a linear head")
    pos = state.get("head.text.pos_embed")
    if pos is not None and "head.text.pos_embed" in own and pos.shape[0] > own["head.text.pos_embed"].shape[0]:
        state["head.text.pos_embed"] = pos[: own["head.text.pos_embed"].shape[0]]
        notes.append(
            f"text positions cut from {pos.shape[0]} to {own['head.text.pos_embed'].shape[0]} (context_length)"
        )
    fit_pos_embed(state, own, "visual.pos_embed", notes)
    return Converted(state, fresh=("temporal.",), notes=notes)


# open_clip options that make a network other than the plain CLIP fervid builds: (section, key) -> plain value.
_OPEN_CLIP_PLAIN = {
    ("model_cfg", "init_logit_bias"): None,
    ("vision_cfg", "timm_model_name"): None,
    ("vision_cfg", "attentional_pool"): False,
    ("vision_cfg", "final_ln_after_pool"): False,
    ("vision_cfg", "no_ln_pre"): False,
    ("vision_cfg", "pool_type"): "tok",
    ("vision_cfg", "ls_init_value"): None,
    ("text_cfg", "hf_model_name"): None,
    ("text_cfg", "no_causal_mask"): False,
    ("text_cfg", "pool_type"): "argmax",
    ("text_cfg", "embed_cls"): False,
    ("text_cfg", "ls_init_value"): None,
}


def _open_clip_cfg(model_cfg: dict) -> tuple[dict, dict]:
    sections = {"model_cfg": model_cfg, "vision_cfg": model_cfg.get("vision_cfg") or {}}
    sections["text_cfg"] = model_cfg.get("text_cfg") or {}
    for (section, key), plain in _OPEN_CLIP_PLAIN.items():
        if sections[section].get(key, plain) != plain:
            raise FervidError(
                f"open_clip_config.json: {section}.{key} is {sections[section][key]!r}; fervid's clip is the "
                f"plain CLIP ({key}={plain!r})"
            )
    return sections["vision_cfg"], sections["text_cfg"]


def clip_geometry(state: dict, info: dict) -> Geometry:
    """The ``clip`` builder arguments a CLIP checkpoint fixes, and the image size it was made for.

    Widths, depths, patch size and embedding size from the tensors' shapes (both layouts);
    attention heads and the activation from ``config.json`` (Hugging Face: ``hidden_act``,
    transformers' default quick-GELU) or ``open_clip_config.json`` (``quick_gelu``, default GELU;
    heads ``width / head_width``) where one lies beside. A bare open_clip / OpenAI state dict
    records neither: heads are 64 channels each and the activation OpenAI's quick-GELU, both said
    in the report (pass ``act="gelu"`` for weights trained with GELU).
    """
    state = strip_prefix(state, "module.")
    config = info.get("config") or {}
    model_cfg = (info.get("open_clip") or {}).get("model_cfg")
    if any(k.startswith("vision_model.") for k in state):
        kind = config.get("model_type", "clip")
        vcfg = config if kind == "clip_vision_model" else config.get("vision_config") or {}
        tcfg = config.get("text_config") or {}
        names = ("vision_model.embeddings.patch_embedding.weight", "vision_model.embeddings.position_embedding.weight")
        blocks, text_blocks = r"^vision_model\.encoder\.layers\.(\d+)\.", r"^text_model\.encoder\.layers\.(\d+)\."
        text_pos = state.get("text_model.embeddings.position_embedding.weight")
        proj = state.get("visual_projection.weight")
        embed_dim = proj.shape[0] if proj is not None else None
        given_heads, given_text_heads = vcfg.get("num_attention_heads"), tcfg.get("num_attention_heads")
        acts = {vcfg.get("hidden_act", "quick_gelu")} | (
            {tcfg.get("hidden_act", "quick_gelu")} if text_pos is not None else set()
        )
        how = "as config.json's hidden_act says" if config else "assumed: transformers' CLIP default (no config.json)"
        source, act_known = ("config.json and tensor shapes" if config else "tensor shapes"), bool(config)
    elif "visual.conv1.weight" in state:
        names = ("visual.conv1.weight", "visual.positional_embedding")
        blocks, text_blocks = r"^visual\.transformer\.resblocks\.(\d+)\.", r"^transformer\.resblocks\.(\d+)\."
        text_pos = state.get("positional_embedding")
        embed_dim = state["visual.proj"].shape[1] if "visual.proj" in state else None
        if model_cfg is not None:
            vcfg, tcfg = _open_clip_cfg(model_cfg)
            width = state["visual.conv1.weight"].shape[0]
            given_heads, given_text_heads = width // int(vcfg.get("head_width", 64)), tcfg.get("heads", 8)
            acts = {"quick_gelu" if model_cfg.get("quick_gelu") else "gelu"}
            how, source = "as open_clip_config.json's quick_gelu says", "open_clip_config.json and tensor shapes"
            act_known = True
        else:
            given_heads = given_text_heads = None
            acts = {"quick_gelu"}
            how = (
                "assumed: the file records no activation and OpenAI's CLIP, this layout's origin, uses it; "
                "pass act='gelu' for open_clip weights trained with GELU"
            )
            source, act_known = "tensor shapes", False
    else:
        return Geometry()  # fervid's own names or no CLIP: the loader says what does not fit
    if len(acts) != 1:
        raise FervidError(
            f"config.json: the towers use different activations ({', '.join(sorted(acts))}); fervid's clip uses one"
        )
    if not acts <= {"gelu", "quick_gelu"}:
        raise FervidError(f"config.json: hidden_act {next(iter(acts))!r}; fervid's clip takes gelu or quick_gelu")
    patch, pos = (state[n] for n in names)
    width, patch_size = int(patch.shape[0]), int(patch.shape[-1])
    g = Geometry(
        dict(patch_size=patch_size, width=width, depth=layer_count(state, blocks), act=next(iter(acts))),
        {"image_size": round((pos.shape[-2] - 1) ** 0.5) * patch_size},
        source,
        activation_line(next(iter(acts)), how),
    )
    if not act_known:  # an assumed activation is a default only: act= settles it
        g.defaults["act"], g.assumed["act"] = g.kwargs.pop("act"), ""
    g.set_heads("heads", width, given_heads)
    if embed_dim is not None:
        g.kwargs["embed_dim"] = int(embed_dim)
    if text_pos is not None:
        g.kwargs.update(text_width=int(text_pos.shape[1]), text_depth=layer_count(state, text_blocks))
        g.set_heads("text_heads", int(text_pos.shape[1]), given_text_heads)
        g.defaults["context_length"] = int(text_pos.shape[0])  # a shorter context cuts the positions (noted)
    return g
