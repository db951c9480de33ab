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
positions are cut to a shorter ``context_length``. Weights of another geometry (ViT-B/32 into the
default B/16) are refused in one line naming the builder arguments that fit them.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from fervid.errors import FervidError, PretrainedMismatchError
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
    towers = {"vision": config.get("vision_config") or {}, "text": config.get("text_config") or {}}
    if kind == "clip_vision_model":
        towers = {"vision": config}
    for tower, cfg in towers.items():
        act = cfg.get("hidden_act", "quick_gelu")
        if act != "quick_gelu":
            raise FervidError(f"config.json: the {tower} tower uses {act!r}; fervid's clip uses quick_gelu")


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
    _check_geometry(state, own, info.get("config") or {})
    pos = state.get("head.text.pos_embed")
    if pos is not None and "head.text.pos_embed" in own and pos.shape[0] > own["head.text.pos_embed"].shape[0]:
        state["head.text.pos_embed"] = pos[: own["head.text.pos_embed"].shape[0]]
        notes.append(
            f"text positions cut from {pos.shape[0]} to {own['head.text.pos_embed'].shape[0]} (context_length)"
        )
    fit_pos_embed(state, own, "visual.pos_embed", notes)
    return Converted(state, fresh=("temporal.",), notes=notes)


def _layers(state: dict, pattern: str) -> int:
    return len({m.group(1) for k in state if (m := re.match(pattern, k))})


def _geometry(state: dict) -> dict:
    """The ``clip`` builder arguments that fervid-named tensors fix by their shapes."""
    g = {}
    if "visual.patch_embed.proj.weight" in state:
        w = state["visual.patch_embed.proj.weight"]  # (width, 3, patch, patch)
        g.update(patch_size=w.shape[-1], width=w.shape[0], depth=_layers(state, r"^visual\.blocks\.(\d+)\."))
    if "visual.proj.weight" in state:
        g["embed_dim"] = state["visual.proj.weight"].shape[0]
    if "head.text.pos_embed" in state:
        g.update(
            text_width=state["head.text.pos_embed"].shape[1], text_depth=_layers(state, r"^head\.text\.blocks\.(\d+)\.")
        )
    return g


def _check_geometry(state: dict, own: dict, config: dict) -> None:
    """Weights of another CLIP geometry (ViT-B/32 into the default B/16) are refused in one line that
    names the builder arguments that fit them; the model is never rebuilt behind the caller's back,
    because its kwargs are what checkpoints and configs record."""
    theirs, mine = _geometry(state), _geometry(own)
    wrong = {k: v for k, v in theirs.items() if k in mine and mine[k] != v}
    if not wrong:
        return
    for width, heads, cfg in (("width", "heads", "vision_config"), ("text_width", "text_heads", "text_config")):
        if width in wrong:  # heads are not in the shapes: config.json's, else OpenAI's 64 channels per head
            wrong[heads] = (config.get(cfg) or {}).get("num_attention_heads") or wrong[width] // 64
    have = ", ".join(f"{k}={mine[k]}" for k in wrong if k in mine)
    args = ", ".join(f"{k}={v}" for k, v in wrong.items())
    sets = " ".join(f"--set model.kwargs.{k}={v}" for k, v in wrong.items())
    raise PretrainedMismatchError(
        f"the weights are a CLIP with {args}, the model was built with {have}: build clip with "
        f"{args} (config model.kwargs, or {sets})"
    )


def clip_architecture(state: dict, config: dict | None = None) -> tuple[dict, int]:
    """``clip`` builder arguments that fit a CLIP checkpoint, and the image size it was trained at.

    Read from the tensors' shapes (both layouts); attention heads from config.json where one lies
    beside, else OpenAI's rule of 64 channels per head. A state dict that is neither layout, or
    holds no text tower, is a :class:`FervidError`.
    """
    state = strip_prefix(state, "module.")
    config = config or {}
    try:
        if any(k.startswith("vision_model.") for k in state):
            patch = state["vision_model.embeddings.patch_embedding.weight"]
            pos = state["vision_model.embeddings.position_embedding.weight"]
            depth = _layers(state, r"^vision_model\.encoder\.layers\.(\d+)\.")
            text_pos = state["text_model.embeddings.position_embedding.weight"]
            text_depth = _layers(state, r"^text_model\.encoder\.layers\.(\d+)\.")
            embed_dim = state["visual_projection.weight"].shape[0]
        else:
            patch = state["visual.conv1.weight"]
            pos = state["visual.positional_embedding"]
            depth = _layers(state, r"^visual\.transformer\.resblocks\.(\d+)\.")
            text_pos = state["positional_embedding"]
            text_depth = _layers(state, r"^transformer\.resblocks\.(\d+)\.")
            embed_dim = state["visual.proj"].shape[1]
    except KeyError as e:
        raise FervidError(f"not a CLIP checkpoint with image and text towers (no {e.args[0]})") from None
    width, patch_size = patch.shape[0], patch.shape[-1]
    text_width = text_pos.shape[1]
    heads = (config.get("vision_config") or {}).get("num_attention_heads") or width // 64
    text_heads = (config.get("text_config") or {}).get("num_attention_heads") or text_width // 64
    image_size = round((pos.shape[-2] - 1) ** 0.5) * patch_size
    kwargs = dict(
        patch_size=patch_size,
        width=width,
        depth=depth,
        heads=heads,
        embed_dim=embed_dim,
        text_width=text_width,
        text_depth=text_depth,
        text_heads=text_heads,
        context_length=text_pos.shape[0],
    )
    return kwargs, image_size
