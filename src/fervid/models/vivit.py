"""ViViT factorised encoder (Arnab et al. 2021, "Model 2"), the study's variant.

A ViT-B/16 encodes every frame with shared weights; each frame's CLS embedding plus a learned
temporal position embedding (without it the temporal transformer could not tell frame order)
goes, after the temporal transformer's own learned CLS token, through a temporal transformer
(3 pre-norm layers, 8 heads, FFN 2048, GELU); an MLP head (768 → 192 → classes) classifies
its CLS output.

Pretrained weights: a torchvision ``vit_b_16`` state dict, a Hugging Face ``ViTModel`` save
(transformers 4.x/5.x file names, and 5.x in-memory names) or a timm ``VisionTransformer``
state dict (whose names fervid's ViT shares) for the spatial encoder. The
temporal transformer and the head are not in an image checkpoint and stay freshly initialised
(the load report lists them). The spatial encoder is built with the checkpoint's geometry
(:func:`vivit_geometry`: ViT-S, ViT-L, /32 patches, …).
"""

from __future__ import annotations

import re
from functools import partial

import torch
from torch import nn
from torchvision.models import ViT_B_16_Weights

from fervid.errors import FervidError
from fervid.hub import TORCHVISION_LICENCE, HfRepo, Weights, from_torchvision
from fervid.models._vit import LN_EPS, Block, PatchEmbed, TemporalTransformer, drop_path_rates, init_vit_weights
from fervid.models.geometry import Geometry, activation_line, layer_count
from fervid.models.registry import Converted, register_model
from fervid.models.weights import fit_pos_embed, strip_prefix

# ImageNet-21k ViT-B/16 (Google's JAX checkpoints, the study's spatial encoder) normalisation.
VIT21K_MEAN = (0.5, 0.5, 0.5)
VIT21K_STD = (0.5, 0.5, 0.5)


class ViTEncoder(nn.Module):
    """A ViT image encoder returning the normalised CLS embedding. ``(N, 3, H, W)`` → ``(N, D)``."""

    def __init__(
        self,
        *,
        image_size: int,
        patch_size: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        drop_rate: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise FervidError(f"vivit: image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.patch_embed = PatchEmbed(patch_size=patch_size, embed_dim=embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + (image_size // patch_size) ** 2, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads=num_heads, mlp_hidden=int(embed_dim * mlp_ratio), drop=drop_rate, drop_path=p)
            for p in drop_path_rates(drop_path_rate, depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)  # (N, P, D)
        x = torch.cat([self.cls_token.expand(x.shape[0], 1, x.shape[2]), x], dim=1) + self.pos_embed  # (N, 1+P, D)
        x = self.pos_drop(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x[:, 0])  # token-wise norm: normalising CLS alone is the same


class ViViT(nn.Module):
    """ViViT factorised encoder. ``(B, 3, T, H, W)`` → ``(B, num_classes)``.

    The defaults are a ViT-B/16 spatial encoder and the study's temporal transformer.
    ``init_std`` is the Linear layers' trunc-normal init (0.02, tuned for 768 channels); 64-channel
    models trained from scratch learn far faster at about 0.07 (docs/history/demo_tuning_2026-11-26.md).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int,
        image_size: int,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        temporal_depth: int = 3,
        temporal_heads: int = 8,
        temporal_mlp_dim: int = 2048,
        head_hidden: int = 192,
        drop_rate: float = 0.0,
        head_dropout: float = 0.5,
        drop_path_rate: float = 0.0,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.image_size = image_size
        self.spatial = ViTEncoder(
            image_size=image_size,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
        )
        self.temporal = TemporalTransformer(
            num_frames=num_frames,
            dim=embed_dim,
            depth=temporal_depth,
            num_heads=temporal_heads,
            mlp_dim=temporal_mlp_dim,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
        )
        self.head = nn.Sequential(
            nn.Linear(embed_dim, head_hidden), nn.GELU(), nn.Dropout(head_dropout), nn.Linear(head_hidden, num_classes)
        )
        self.apply(partial(init_vit_weights, std=init_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        if t != self.num_frames or h != self.image_size or w != self.image_size:
            raise FervidError(
                f"vivit was built for {self.num_frames} frames of {self.image_size}x{self.image_size}, "
                f"got {t} frames of {h}x{w}"
            )
        frames = self.spatial(x.transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, D), shared weights
        return self.head(self.temporal(frames.reshape(b, t, -1)))  # (B, T, D) -> (B, D) -> (B, classes)


# torchvision vit_b_16 (models/vision_transformer.py) names -> ours, without the "spatial." prefix.
_TV_RENAMES = [
    (r"^class_token$", "cls_token"),
    (r"^conv_proj\.", "patch_embed.proj."),
    (r"^encoder\.pos_embedding$", "pos_embed"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.ln_1\.", r"blocks.\1.norm1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.in_proj_(weight|bias)$", r"blocks.\1.attn.qkv.\2"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.out_proj\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.ln_2\.", r"blocks.\1.norm2."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.0\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.3\.", r"blocks.\1.mlp.fc2."),
    (r"^encoder\.ln\.", "norm."),
]
# Hugging Face ViTModel: the file format of 4.x and of 5.x save_pretrained, and 5.x module names.
_HF_RENAMES = [
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^(?:encoder\.layer|layers)\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"^(?:encoder\.layer|layers)\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.", r"blocks.\1.attn.\2."),
    (r"^layers\.(\d+)\.attention\.(q|k|v)_proj\.", r"blocks.\1.attn.\2."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"^layers\.(\d+)\.attention\.o_proj\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"^layers\.(\d+)\.mlp\.(fc1|fc2)\.", r"blocks.\1.mlp.\2."),
    (r"^layernorm\.", "norm."),
]
_QKV_PARTS = (("query", "key", "value"), ("q", "k", "v"))


def _rename(key: str, rules) -> str:
    for pattern, repl in rules:
        new, hits = re.subn(pattern, repl, key)
        if hits:
            return new
    return key  # left as is: the loader names it if it does not fit


def _fuse_qkv(state: dict) -> dict:
    """Stack Hugging Face's separate q, k, v projections into our fused ``qkv`` (q, k, v order)."""
    out = {}
    for key, value in state.items():
        m = re.match(r"^(blocks\.\d+\.attn)\.(query|key|value|q|k|v)\.(weight|bias)$", key)
        if m is None:
            out[key] = value
            continue
        prefix, part, kind = m.groups()
        names = next(p for p in _QKV_PARTS if part in p)
        if part != names[0]:
            continue  # fused once, when its query part comes by
        try:
            out[f"{prefix}.qkv.{kind}"] = torch.cat([state[f"{prefix}.{n}.{kind}"] for n in names], dim=0)
        except KeyError as e:
            raise FervidError(f"Hugging Face ViT checkpoint lacks {e.args[0]} (needed to build {prefix}.qkv)") from None
    return out


# timm VisionTransformer keys that are not the encoder: classifier, and heads of some variants.
_TIMM_EXTRA = ("head.", "fc_norm.", "pre_logits.", "head_drop.")


def convert_vivit(state: dict, model: nn.Module, info: dict) -> Converted:
    """Map a torchvision ``vit_b_16``, a timm ``VisionTransformer`` or a Hugging Face ``ViTModel``
    state dict onto ``spatial.``."""
    state = strip_prefix(state, "module.")
    notes: list[str] = []
    if any(k.startswith("spatial.") for k in state):  # fervid's own keys without metadata
        return Converted(state)
    if "class_token" in state or any(k.startswith("encoder.layers.encoder_layer_") for k in state):
        dropped = sorted(k for k in state if k.startswith("heads."))
        state = {_rename(k, _TV_RENAMES): v for k, v in state.items() if not k.startswith("heads.")}
        notes.append("torchvision ViT checkpoint: keys renamed into the spatial encoder")
    elif "cls_token" in state and any(k.startswith("blocks.") for k in state):
        dropped = sorted(k for k in state if k.startswith(_TIMM_EXTRA))
        state = {k: v for k, v in state.items() if k not in dropped}
        notes.append("timm ViT checkpoint: keys already fervid's, placed into the spatial encoder")
    else:
        config = info.get("config") or {}
        if config.get("model_type", "vit") != "vit":
            raise FervidError(f"config.json describes a {config['model_type']!r} model, not a ViT")
        state = strip_prefix(state, "vit.")  # ViTForImageClassification
        dropped = sorted(k for k in state if k.startswith(("pooler.", "classifier.")))
        state = _fuse_qkv({_rename(k, _HF_RENAMES): v for k, v in state.items() if k not in dropped})
        notes.append("Hugging Face ViT checkpoint: keys renamed into the spatial encoder, q/k/v fused")
        eps = config.get("layer_norm_eps")
        if eps is not None and eps != LN_EPS:
            notes.append(f"the checkpoint's LayerNorm eps is {eps:g}; fervid's ViT uses {LN_EPS:g} (negligible change)")
    if dropped:
        notes.append("image-classifier weights not used: " + ", ".join(dropped))
    state = {f"spatial.{k}": v for k, v in state.items()}

    fit_pos_embed(state, model.state_dict(), "spatial.pos_embed", notes)
    return Converted(state, fresh=("temporal.",), notes=notes)


GEOMETRY_KEYS = (
    "patch_size",
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "temporal_depth",
    "temporal_heads",
    "temporal_mlp_dim",
    "head_hidden",
)
# (patch projection, position table, layer pattern, first MLP layer) of each ViT layout
_VIT_LAYOUTS = (
    (
        "conv_proj.weight",
        "encoder.pos_embedding",
        r"^encoder\.layers\.encoder_layer_(\d+)\.",
        "encoder.layers.encoder_layer_0.mlp.0.weight",
    ),
    ("patch_embed.proj.weight", "pos_embed", r"^blocks\.(\d+)\.", "blocks.0.mlp.fc1.weight"),
    (
        "embeddings.patch_embeddings.projection.weight",
        "embeddings.position_embeddings",
        r"^encoder\.layer\.(\d+)\.",
        "encoder.layer.0.intermediate.dense.weight",
    ),
    (
        "embeddings.patch_embeddings.projection.weight",
        "embeddings.position_embeddings",
        r"^layers\.(\d+)\.",
        "layers.0.mlp.fc1.weight",
    ),
)


def vivit_geometry(state: dict, info: dict) -> Geometry:
    """The spatial encoder's ``vivit`` builder arguments an image ViT checkpoint fixes (torchvision,
    timm, Hugging Face): widths, depth, patch size and image size from the tensors; heads from
    ``config.json`` where one lies beside (else 64 channels each, noted)."""
    state = strip_prefix(strip_prefix(state, "module."), "vit.")
    config = info.get("config") or {}
    layout = next((lay for lay in _VIT_LAYOUTS if all(k in state for k in (lay[0], lay[1], lay[3]))), None)
    if layout is None:
        return Geometry()  # fervid's own keys, or not a ViT: the loader says what does not fit
    proj, pos, layers, fc1 = layout
    width, patch = int(state[proj].shape[0]), int(state[proj].shape[-1])
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise FervidError(f"the Hugging Face ViT uses hidden_act {act!r}; fervid's ViT uses gelu")
    how = "as config.json's hidden_act says" if "hidden_act" in config else "the ViT's"
    grid = round((state[pos].shape[-2] - 1) ** 0.5)  # (1, 1 + grid², D)
    g = Geometry(
        dict(
            patch_size=patch, embed_dim=width, depth=layer_count(state, layers), mlp_ratio=state[fc1].shape[0] / width
        ),
        {"image_size": grid * patch},
        "config.json and tensor shapes" if config else "tensor shapes",
        activation_line("gelu", how),
    )
    g.set_heads("num_heads", width, config.get("num_attention_heads"))
    return g


WEIGHTS = (
    Weights(
        model="vivit",
        name="in21k",
        description="ViT-B/16 ImageNet-21k (Google, Hugging Face) spatial encoder; temporal transformer, head new",
        source=HfRepo("google/vit-base-patch16-224-in21k"),
        licence="Apache-2.0",
        size=345_556_992,  # ViTModel's 86,389,248 fp32 parameters
        mean=VIT21K_MEAN,
        std=VIT21K_STD,
        image_size=224,
    ),
    from_torchvision(
        ViT_B_16_Weights.IMAGENET1K_V1,
        model="vivit",
        name="imagenet",
        licence=TORCHVISION_LICENCE,
        description="torchvision ViT-B/16 ImageNet-1k spatial encoder; temporal transformer, head new",
    ),
)

register_model(
    "vivit",
    description="ViViT factorised encoder: ViT-B/16 per frame, 3-layer temporal transformer",
    num_frames=8,
    image_size=224,
    head=("head.",),
    mean=VIT21K_MEAN,
    std=VIT21K_STD,
    convert=convert_vivit,
    weights=WEIGHTS,
    study_weights="in21k",
    geometry=vivit_geometry,
    geometry_keys=GEOMETRY_KEYS,
    # Google's ViT-L/16 and ViT-B/32 ImageNet-21k encoders (config shapes checked in tests/models/test_geometry.py)
    known_repos=("hf:google/vit-large-patch16-224-in21k", "hf:google/vit-base-patch32-224-in21k"),
)(ViViT)
