"""CLIP for video expressions (the DFER-CLIP family): a CLIP ViT on every frame, a temporal
transformer, and a linear or a text head.

- ``visual``: OpenAI CLIP's image encoder (Radford et al. 2021): bias-free patch projection, a
  CLS token and learned positions, a LayerNorm *before* the blocks (``norm_pre``; Hugging Face
  ``pre_layrnorm``, open_clip ``ln_pre``), pre-norm blocks with quick-GELU and LayerNorm eps
  1e-5, a LayerNorm on the CLS output (``norm``; ``post_layernorm`` / ``ln_post``) and a
  projection without bias (``proj``) to the joint embedding. Shared by all frames.
- ``temporal``: a transformer over the T frame embeddings with its own learnable CLS token and a
  temporal position embedding, depth 1 by default (DFER-CLIP: 1 layer, 8 heads, MLP 1024 on
  the 512-d embeddings). ``temporal_depth=0`` has none: the video embedding is the mean of the
  L2-normalised frame embeddings, which is what zero-shot prediction uses.
- ``head="linear"``: a linear classifier on the video embedding.
- ``head="text"``: logits = ``exp(logit_scale) · cos(video, class text embedding)``. Each class
  embedding comes from CLIP's text tower (``head.text``: causal attention, the EOT token's
  output, ``proj``) run on the class prompts (:mod:`fervid.models.clip_text`): with
  ``n_ctx = 0`` the prompts are ``templates`` filled with ``class_names`` and a class's
  embedding is the normalised mean of its templates' normalised embeddings (CLIP's prompt
  ensembling); with ``n_ctx > 0`` each class has ``n_ctx`` learnable context vectors in place of
  the words ("X X … X happiness.", class-specific contexts as in DFER-CLIP).

The text tower is frozen (``requires_grad`` off), as in DFER-CLIP. So with ``n_ctx = 0`` the class
embeddings are a function of fixed weights: they are computed once, kept in the non-persistent
buffer ``head.class_embeds`` and recomputed whenever weights are loaded into the head (a
``load_state_dict`` post-hook); the forward pass does not run the text tower, and ONNX export
sees a constant. With ``n_ctx > 0`` the context vectors learn, so the class embeddings are
recomputed in every forward pass (its cost is the text tower on C prompts, independent of the
batch). ``logit_scale`` learns in both cases.

Weights: Hugging Face ``CLIPModel`` and open_clip / OpenAI layouts (:mod:`fervid.models.clip_convert`);
by name ``openai`` (ViT-B/16, the default geometry) and ``openai_b32`` (ViT-B/32). Loaded with
``pretrained=``, the model is built with the weights' geometry (``clip_geometry``: ViT-B/32, L/14, …)
and activation (quick-GELU for OpenAI's weights, GELU for most open_clip ones, as their configs say).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from fervid.errors import FervidError
from fervid.hub import HfRepo, Weights
from fervid.models._vit import ACTIVATIONS, Block, PatchEmbed, TemporalTransformer, drop_path_rates, init_vit_weights
from fervid.models.clip_convert import clip_geometry, convert_clip
from fervid.models.clip_text import DEFAULT_TEMPLATES, VOCAB_SIZE, class_prompts, tokenize
from fervid.models.registry import register_model

# OpenAI CLIP's preprocessing (clip/clip.py `_transform`), used by every CLIP checkpoint.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_LN_EPS = 1e-5  # torch's default, which CLIP's LayerNorms use
LOGIT_SCALE_INIT = math.log(1 / 0.07)  # CLIP's initial temperature


def _blocks(
    width: int, depth: int, heads: int, *, causal: bool, act: str, drop_path_rate: float = 0.0
) -> nn.ModuleList:
    if act not in ACTIVATIONS:
        raise FervidError(f"clip act {act!r}: choose {' or '.join(ACTIVATIONS)}")
    return nn.ModuleList(
        Block(width, num_heads=heads, mlp_hidden=4 * width, eps=CLIP_LN_EPS, act=act, causal=causal, drop_path=p)
        for p in drop_path_rates(drop_path_rate, depth)
    )


class VisionTower(nn.Module):
    """CLIP's image encoder. ``(N, 3, H, W)`` → ``(N, E)`` (the projected CLS embedding)."""

    def __init__(
        self,
        *,
        image_size: int,
        patch_size: int,
        width: int,
        depth: int,
        heads: int,
        embed_dim: int,
        drop_path_rate: float,
        act: str,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.patch_embed = PatchEmbed(patch_size=patch_size, embed_dim=width, bias=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + (image_size // patch_size) ** 2, width))
        self.norm_pre = nn.LayerNorm(width, eps=CLIP_LN_EPS)
        self.blocks = _blocks(width, depth, heads, causal=False, act=act, drop_path_rate=drop_path_rate)
        self.norm = nn.LayerNorm(width, eps=CLIP_LN_EPS)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)  # (N, P, W)
        x = torch.cat([self.cls_token.expand(x.shape[0], 1, x.shape[2]), x], dim=1) + self.pos_embed  # (N, 1+P, W)
        x = self.norm_pre(x)
        for blk in self.blocks:
            x = blk(x)
        return self.proj(self.norm(x[:, 0]))


class TextTower(nn.Module):
    """CLIP's text encoder. ``tokens`` long ``(K, L)`` → ``(K, E)``, the EOT token's output projected.

    ``embeds`` ``(K, L, W)`` replaces the token embeddings (learned context vectors spliced in).
    """

    def __init__(self, *, width: int, depth: int, heads: int, context_length: int, embed_dim: int, act: str) -> None:
        super().__init__()
        self.token_embed = nn.Embedding(VOCAB_SIZE, width)
        self.pos_embed = nn.Parameter(torch.zeros(context_length, width))
        self.blocks = _blocks(width, depth, heads, causal=True, act=act)
        self.norm = nn.LayerNorm(width, eps=CLIP_LN_EPS)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        nn.init.normal_(self.token_embed.weight, std=0.02)  # open_clip's init
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward(self, tokens: torch.Tensor, embeds: torch.Tensor | None = None) -> torch.Tensor:
        x = (self.token_embed(tokens) if embeds is None else embeds) + self.pos_embed[: tokens.shape[1]]  # (K, L, W)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        eot = tokens.argmax(dim=-1)  # EOT has the largest id of the vocabulary: (K,)
        x = x.gather(1, eot[:, None, None].expand(-1, 1, x.shape[2])).squeeze(1)  # (K, W) at each EOT
        return self.proj(x)  # (K, E)


def _refresh_after_load(module: TextHead, incompatible_keys) -> None:
    module.refresh()  # new text-tower weights: new class embeddings


class TextHead(nn.Module):
    """Cosine similarity with the class prompts' text embeddings. ``(B, E)`` → ``(B, C)`` logits."""

    def __init__(
        self,
        *,
        prompts: Sequence[Sequence[str]],
        n_ctx: int,
        embed_dim: int,
        width: int,
        depth: int,
        heads: int,
        context_length: int,
        act: str,
    ) -> None:
        super().__init__()
        self.n_classes, self.n_ctx = len(prompts), n_ctx
        self.text = TextTower(
            width=width, depth=depth, heads=heads, context_length=context_length, embed_dim=embed_dim, act=act
        )
        self.text.requires_grad_(False)
        self.logit_scale = nn.Parameter(torch.tensor(LOGIT_SCALE_INIT))
        tokens = tokenize([p for per_class in prompts for p in per_class], context_length, n_ctx=n_ctx)
        self.register_buffer("tokens", tokens, persistent=False)  # (K, L), class-major
        owner = [c for c, per_class in enumerate(prompts) for _ in per_class]
        self.register_buffer("prompt_class", torch.tensor(owner), persistent=False)  # (K,): each prompt's class
        self.ctx = nn.Parameter(torch.empty(self.n_classes, n_ctx, width).normal_(std=0.02)) if n_ctx else None
        self.register_buffer("class_embeds", torch.zeros(self.n_classes, embed_dim), persistent=False)
        self.register_load_state_dict_post_hook(_refresh_after_load)
        self.refresh()

    def class_embeddings(self) -> torch.Tensor:
        """Unit class embeddings ``(C, E)`` from the text tower (template ensemble, or context vectors)."""
        embeds = None
        if self.ctx is not None:
            words = self.text.token_embed(self.tokens)  # (C, L, W)
            embeds = torch.cat([words[:, :1], self.ctx.to(words.dtype), words[:, 1 + self.n_ctx :]], dim=1)
        e = F.normalize(self.text(self.tokens, embeds), dim=-1)  # (K, E)
        if self.ctx is not None:
            return e  # one prompt per class
        # the normalised mean of each class's prompt embeddings (classes may have different prompt counts)
        return F.normalize(e.new_zeros(self.n_classes, e.shape[1]).index_add(0, self.prompt_class, e), dim=-1)

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute the cached class embeddings (fixed prompts only; context vectors need no cache)."""
        if self.ctx is None:
            self.class_embeds.copy_(self.class_embeddings())

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        text = self.class_embeddings() if self.ctx is not None else self.class_embeds  # (C, E)
        return self.logit_scale.exp() * F.normalize(video, dim=-1) @ text.t()


def _class_prompts(class_names, templates, prompts, n_ctx: int) -> list[list[str]]:
    """One list of prompts per class: the context-token prompt, the given prompts, or the templates filled."""
    if prompts is not None and not n_ctx:
        if len(prompts) != len(class_names) or not all(prompts):
            raise FervidError(f"clip's prompts: give a non-empty list for each of the {len(class_names)} classes")
        return [list(p) for p in prompts]
    templates = [] if n_ctx else list(templates or DEFAULT_TEMPLATES)
    flat = class_prompts(list(class_names), templates, n_ctx)
    k = 1 if n_ctx else len(templates)
    return [flat[i * k : (i + 1) * k] for i in range(len(class_names))]


class CLIPVideo(nn.Module):
    """CLIP frames → temporal transformer → head. ``(B, 3, T, H, W)`` → ``(B, num_classes)``.

    The defaults are OpenAI's ViT-B/16 (``patch_size=32``: ViT-B/32, DFER-CLIP's encoder) and
    DFER-CLIP's temporal transformer. ``head="text"`` needs ``class_names`` (``fervid train``
    passes the prepared dataset's, in label order); ``templates`` default to
    :data:`~fervid.models.clip_text.DEFAULT_TEMPLATES`; ``prompts`` (one list per class, any
    text) replace the templates; ``n_ctx`` learnable context tokens per class replace both when
    > 0. ``act``: the MLP activation of both towers, ``"quick_gelu"`` (OpenAI's weights) or
    ``"gelu"`` (most open_clip models); loading weights sets it from them. See the module
    docstring for what is cached.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int,
        image_size: int,
        patch_size: int = 16,
        width: int = 768,
        depth: int = 12,
        heads: int = 12,
        embed_dim: int = 512,
        temporal_depth: int = 1,
        temporal_heads: int = 8,
        temporal_mlp_dim: int = 1024,
        head: str = "linear",
        class_names: Sequence[str] | None = None,
        templates: Sequence[str] | None = None,
        prompts: Sequence[Sequence[str]] | None = None,
        n_ctx: int = 0,
        text_width: int = 512,
        text_depth: int = 12,
        text_heads: int = 8,
        context_length: int = 77,
        drop_path_rate: float = 0.0,
        init_std: float = 0.02,
        act: str = "quick_gelu",
    ) -> None:
        super().__init__()
        self.num_frames, self.image_size = num_frames, image_size
        self.visual = VisionTower(
            image_size=image_size,
            patch_size=patch_size,
            width=width,
            depth=depth,
            heads=heads,
            embed_dim=embed_dim,
            drop_path_rate=drop_path_rate,
            act=act,
        )
        self.temporal = (
            TemporalTransformer(
                num_frames=num_frames,
                dim=embed_dim,
                depth=temporal_depth,
                num_heads=temporal_heads,
                mlp_dim=temporal_mlp_dim,
                drop_rate=0.0,
                drop_path_rate=0.0,
            )
            if temporal_depth > 0
            else None
        )
        if head == "linear":
            self.head = nn.Linear(embed_dim, num_classes)
        elif head == "text":
            if class_names is None or len(class_names) != num_classes:
                got = "none" if class_names is None else f"{len(class_names)}"
                raise FervidError(f"clip's text head needs class_names for its {num_classes} classes (got {got})")
            self.head = TextHead(
                prompts=_class_prompts(class_names, templates, prompts, n_ctx),
                n_ctx=n_ctx,
                embed_dim=embed_dim,
                width=text_width,
                depth=text_depth,
                heads=text_heads,
                context_length=context_length,
                act=act,
            )
        else:
            raise FervidError(f"clip head {head!r}: choose 'linear' or 'text'")
        self.apply(partial(init_vit_weights, std=init_std))
        if isinstance(self.head, TextHead):
            self.head.refresh()  # the init above changed the text tower's Linear weights

    def frame_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` → per-frame CLIP image embeddings ``(B, T, E)`` (shared weights)."""
        b, c, t, h, w = x.shape
        if t != self.num_frames or h != self.image_size or w != self.image_size:
            raise ValueError(
                f"clip was built for {self.num_frames} frames of {self.image_size}x{self.image_size}, "
                f"got {t} frames of {h}x{w}"
            )
        return self.visual(x.transpose(1, 2).reshape(b * t, c, h, w)).reshape(b, t, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = self.frame_embeddings(x)  # (B, T, E)
        video = self.temporal(frames) if self.temporal is not None else F.normalize(frames, dim=-1).mean(dim=1)
        return self.head(video)


# OpenAI's CLIP release is MIT-licensed (github.com/openai/CLIP LICENSE; the Hugging Face ports carry no
# licence tag of their own). Both ports are CLIPModel saves of transformers 4.x: image and text towers.
WEIGHTS = (
    Weights(
        model="clip",
        name="openai",
        description="OpenAI CLIP ViT-B/16 image and text towers (Hugging Face port); temporal transformer, head new",
        source=HfRepo("openai/clip-vit-base-patch16"),
        licence="MIT",
        size=598_482_948,  # CLIPModel's 149,620,737 fp32 parameters
        mean=CLIP_MEAN,
        std=CLIP_STD,
        image_size=224,
    ),
    Weights(
        model="clip",
        name="openai_b32",
        description="OpenAI CLIP ViT-B/32 (DFER-CLIP's) image and text towers; temporal transformer, head new",
        source=HfRepo("openai/clip-vit-base-patch32"),
        licence="MIT",
        size=605_109_252,  # CLIPModel's 151,277,313 fp32 parameters
        mean=CLIP_MEAN,
        std=CLIP_STD,
        image_size=224,
    ),
)

GEOMETRY_KEYS = (
    "patch_size",
    "width",
    "depth",
    "heads",
    "embed_dim",
    "temporal_depth",
    "temporal_heads",
    "temporal_mlp_dim",
    "text_width",
    "text_depth",
    "text_heads",
    "act",
)

register_model(
    "clip",
    description="CLIP ViT-B/16 per frame, 1-layer temporal transformer, linear or text-prompt head",
    num_frames=16,
    image_size=224,
    head=("head.weight", "head.bias", "head.ctx"),
    mean=CLIP_MEAN,
    std=CLIP_STD,
    convert=convert_clip,
    weights=WEIGHTS,
    study_weights="openai",  # not a study model: the start of the DFER-CLIP family (and of zero-shot)
    geometry=clip_geometry,
    geometry_keys=GEOMETRY_KEYS,
    # OpenAI's ViT-L/14 at 224 and 336 px (config shapes checked in tests/models/test_geometry.py)
    known_repos=("hf:openai/clip-vit-large-patch14", "hf:openai/clip-vit-large-patch14-336"),
)(CLIPVideo)
