"""TimeSformer (Bertasius et al. 2021) with divided space-time attention.

Follows the official code (facebookresearch/TimeSformer, ``timesformer/models/vit.py``): tokens
are one CLS plus the patches of every frame, ordered patch-major, frame-minor (``b (n t) d``).
Each block runs temporal attention over each patch's T tokens (CLS not involved), projects it
with ``temporal_fc`` (zero-initialised, so training starts from the image model) and adds it;
then spatial attention within each frame with the CLS token repeated per frame and its T outputs
averaged; then the MLP. Parameter names are the official ones without its ``model.`` prefix.

Pretrained weights: an official checkpoint (``model_state``, ``model.…`` keys) or a Hugging Face
``TimesformerForVideoClassification`` / ``TimesformerModel`` save; position and time embeddings
are interpolated when the checkpoint's image size or frame count differs.
"""

from __future__ import annotations

import re
from functools import partial

import torch
from torch import nn
from torchvision.ops import StochasticDepth

from fervid.errors import FervidError
from fervid.hub import HfRepo, Weights
from fervid.models._vit import LN_EPS, Attention, Mlp, PatchEmbed, drop_path_rates, init_vit_weights
from fervid.models.registry import Converted, register_model
from fervid.models.weights import fit_pos_embed, resize_time_embed, strip_prefix

# Official configs (configs/Kinetics/TimeSformer_divST_8x32_224.yaml, DATA.MEAN / DATA.STD).
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


class DividedBlock(nn.Module):
    """One divided space-time block on ``(B, 1 + N·T, D)`` tokens (CLS first, then patch-major)."""

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        mlp_hidden: int,
        qkv_bias: bool,
        drop: float,
        attn_drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        att = dict(num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.temporal_norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.temporal_attn = Attention(dim, **att)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, **att)
        self.drop_path = StochasticDepth(drop_path, mode="row")
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, mlp_hidden, drop=drop)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        b, l, d = x.shape
        t = num_frames
        n = (l - 1) // t
        cls, xt = x[:, :1], x[:, 1:]  # (B, 1, D), (B, N*T, D)

        # Temporal attention: each patch's T tokens are contiguous, so (B, N*T, D) -> (B*N, T, D) is a view.
        res = self.temporal_attn(self.temporal_norm1(xt).reshape(b * n, t, d))  # (B*N, T, D)
        xt = xt + self.temporal_fc(self.drop_path(res).reshape(b, n * t, d))  # (B, N*T, D)

        # Spatial attention per frame; the CLS token joins every frame.
        xs = xt.reshape(b, n, t, d).transpose(1, 2)  # (B, T, N, D)
        xs = torch.cat([cls.unsqueeze(1).expand(b, t, 1, d), xs], dim=2).reshape(b * t, 1 + n, d)  # (B*T, 1+N, D)
        res = self.drop_path(self.attn(self.norm1(xs))).reshape(b, t, 1 + n, d)  # (B, T, 1+N, D)
        cls = cls + res[:, :, :1].mean(dim=1)  # T per-frame CLS outputs averaged: (B, 1, D)
        # Adding the frame-major residual to the patch-major xt (first operand) yields patch-major
        # memory directly, which saves a copy.
        xt = (xt.reshape(b, n, t, d) + res[:, :, 1:].transpose(1, 2)).reshape(b, n * t, d)  # (B, N*T, D)

        x = torch.cat([cls, xt], dim=1)  # (B, 1 + N*T, D)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TimeSformer(nn.Module):
    """TimeSformer, divided space-time attention. ``(B, 3, T, H, W)`` → ``(B, num_classes)``.

    The defaults are ViT-B/16 with the official ``drop_path_rate`` 0.1.
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
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise FervidError(f"timesformer: image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.num_frames = num_frames
        self.image_size = image_size
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbed(patch_size=patch_size, embed_dim=embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + num_patches, embed_dim))  # per frame, CLS included
        self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dim))  # per patch, CLS excluded
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList(
            DividedBlock(
                embed_dim,
                num_heads=num_heads,
                mlp_hidden=int(embed_dim * mlp_ratio),
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=p,
            )
            for p in drop_path_rates(drop_path_rate, depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS)
        self.head = nn.Linear(embed_dim, num_classes)

        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(partial(init_vit_weights, std=init_std))
        for blk in self.blocks:  # the official code zero-initialises temporal_fc in every block
            nn.init.zeros_(blk.temporal_fc.weight)
            nn.init.zeros_(blk.temporal_fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        if t != self.num_frames or h != self.image_size or w != self.image_size:
            raise FervidError(
                f"timesformer was built for {self.num_frames} frames of {self.image_size}x{self.image_size}, "
                f"got {t} frames of {h}x{w}"
            )
        x = self.patch_embed(x.transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, N, D)
        n, d = x.shape[1], x.shape[2]
        # Patch p of frame f gets pos_embed[p] + time_embed[f]; summing the small tables first and
        # adding them to the (B, T, N, D) -> (B, N, T, D) view makes the patch-major tokens in one pass.
        emb = self.pos_embed[:, 1:].unsqueeze(2) + self.time_embed.unsqueeze(1)  # (1, N, T, D)
        x = emb + x.reshape(b, t, n, d).transpose(1, 2)  # (B, N, T, D)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(b, 1, d)  # (B, 1, D)
        x = self.pos_drop(torch.cat([cls, x.reshape(b, n * t, d)], dim=1))  # (B, 1 + N*T, D)
        for blk in self.blocks:
            x = blk(x, t)
        return self.head(self.norm(x[:, 0]))  # norm is token-wise: normalising CLS alone is the same


# Hugging Face TimesformerModel names -> ours (after the optional "timesformer." prefix).
_HF_RENAMES = [
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^embeddings\.time_embeddings$", "time_embed"),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.qkv\.", r"blocks.\1.attn.qkv."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.temporal_attention\.attention\.qkv\.", r"blocks.\1.temporal_attn.qkv."),
    (r"^encoder\.layer\.(\d+)\.temporal_attention\.output\.dense\.", r"blocks.\1.temporal_attn.proj."),
    (r"^encoder\.layer\.(\d+)\.temporal_layernorm\.", r"blocks.\1.temporal_norm1."),
    (r"^encoder\.layer\.(\d+)\.temporal_dense\.", r"blocks.\1.temporal_fc."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"^layernorm\.", "norm."),
    (r"^classifier\.", "head."),
]


def _rename_hf(key: str) -> str:
    key = key.removeprefix("timesformer.")
    for pattern, repl in _HF_RENAMES:
        new, hits = re.subn(pattern, repl, key)
        if hits:
            return new
    return key  # left as is: the loader names it if it does not fit


def _check_hf_config(config: dict, source_kind: str) -> None:
    if config.get("model_type", "timesformer") != "timesformer":
        raise FervidError(f"config.json describes a {config['model_type']!r} model, not a TimeSformer")
    if config.get("attention_type", "divided_space_time") != "divided_space_time":
        raise FervidError(
            f"{source_kind} uses attention_type {config['attention_type']!r}; fervid's timesformer is divided_space_time"
        )
    if config.get("hidden_act", "gelu") != "gelu":
        raise FervidError(f"{source_kind} uses hidden_act {config['hidden_act']!r}; fervid's timesformer uses gelu")


def convert_timesformer(state: dict, model: nn.Module, info: dict) -> Converted:
    """Map an official TimeSformer or a Hugging Face TimeSformer state dict to fervid's keys."""
    state = strip_prefix(state, "module.")
    notes: list[str] = []
    if any(k.startswith("model.") for k in state):
        state = strip_prefix(state, "model.")
        notes.append("official TimeSformer checkpoint: 'model.' prefix removed")
    elif any(k.startswith(("timesformer.", "embeddings.", "encoder.layer.")) for k in state):
        _check_hf_config(info.get("config") or {}, "the Hugging Face checkpoint")
        state = {_rename_hf(k): v for k, v in state.items()}
        notes.append("Hugging Face TimeSformer checkpoint: keys renamed to the official names")

    own = model.state_dict()
    fit_pos_embed(state, own, "pos_embed", notes)
    tim = state.get("time_embed")
    if tim is not None and tim.ndim == 3 and tim.shape[1] != own["time_embed"].shape[1]:
        state["time_embed"] = resize_time_embed(tim, own["time_embed"].shape[1])
        notes.append(f"time_embed interpolated from {tim.shape[1]} to {own['time_embed'].shape[1]} frames (linear)")
    return Converted(state, notes=notes)


WEIGHTS = (
    Weights(
        model="timesformer",
        name="kinetics400",
        description="TimeSformer-B/16 divided space-time, Kinetics-400, 8x224 (Hugging Face port of the official)",
        source=HfRepo("facebook/timesformer-base-finetuned-k400"),
        licence="CC-BY-NC-4.0",
        size=486_265_408,  # 121,566,352 fp32 parameters
        mean=KINETICS_MEAN,
        std=KINETICS_STD,
        image_size=224,
        num_frames=8,
    ),
)

register_model(
    "timesformer",
    description="TimeSformer-B/16, divided space-time attention (official vit.py layout)",
    num_frames=8,
    image_size=224,
    head=("head.",),
    mean=KINETICS_MEAN,
    std=KINETICS_STD,
    convert=convert_timesformer,
    weights=WEIGHTS,
    study_weights="kinetics400",
    geometry_keys=("patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias"),
)(TimeSformer)
