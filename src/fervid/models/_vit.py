"""Vision-transformer pieces shared by ``timesformer``, ``vivit``, ``clip`` and ``videomae``.

Parameter names follow the official TimeSformer / timm ``vit.py`` (``patch_embed.proj``,
``attn.qkv``, ``attn.proj``, ``mlp.fc1``, ``mlp.fc2``, ``norm1``, ``norm2``), so foreign
checkpoints map onto them by renaming alone. Attention is
``torch.nn.functional.scaled_dot_product_attention``. The options the other families need are
arguments, not copies: CLIP's quick-GELU, LayerNorm eps 1e-5, bias-free patch projection and
causal (text) attention; VideoMAE's q and v biases without a k bias. :attr:`Attention.keep_attn`
switches one module to an explicit softmax that keeps its weights for saliency
(``fervid.inference.saliency``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

from fervid.errors import FervidError

LN_EPS = 1e-6  # official TimeSformer, timm and torchvision ViTs


class QuickGELU(nn.Module):
    """``x · sigmoid(1.702 x)``: the GELU approximation OpenAI's CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"gelu": nn.GELU, "quick_gelu": QuickGELU}


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` patches of one image, linearly embedded.

    ``(N, C, H, W)`` → ``(N, (H/p)·(W/p), D)``, patches in row-major order.
    """

    def __init__(self, *, patch_size: int, in_chans: int = 3, embed_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (N, D, h, w) -> (N, h*w, D)


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection laid out ``(3, heads, head_dim)``.

    That layout is the official TimeSformer's, timm's, Hugging Face TimeSformer's and
    torchvision's / CLIP's ``in_proj_weight`` (q, k, v stacked, heads contiguous inside each).
    ``qv_bias`` (VideoMAE) replaces the fused bias by separate ``q_bias`` and ``v_bias``
    parameters, k having none; ``causal`` masks attention to earlier tokens (CLIP's text).
    ``(N, L, D)`` → ``(N, L, D)``.

    Saliency: with ``keep_attn`` set (``fervid.inference.saliency.keep_attention`` sets it for a
    whole model) the weights are computed explicitly as ``softmax(q k^T / sqrt(hd))`` and the last
    forward's ``(N, heads, L, L)`` weights are kept in ``attn_map`` (part of the autograd graph).
    Subclasses that build q, k, v differently call :meth:`attend` so they keep this.
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        qkv_bias: bool = True,
        qv_bias: bool = False,
        causal: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise FervidError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.causal = causal
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias and not qv_bias)
        self.q_bias = nn.Parameter(torch.zeros(dim)) if qv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if qv_bias else None
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.keep_attn = False
        self.attn_map: torch.Tensor | None = None

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``(N, heads, L, hd)`` each → ``(N, heads, L, hd)``: fused kernel, or explicit when keeping weights."""
        p = self.attn_drop if self.training else 0.0
        if not self.keep_attn:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)
        scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5  # (N, heads, L, L)
        if self.causal:
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
        attn = scores.softmax(dim=-1)
        self.attn_map = attn
        return F.dropout(attn, p, self.training) @ v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, l, d = x.shape
        if self.q_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])  # k has no bias
            qkv = F.linear(x, self.qkv.weight, bias)
        else:
            qkv = self.qkv(x)
        # (N, L, 3D) -> (N, L, 3, heads, hd) -> (3, N, heads, L, hd): views, no copy
        q, k, v = qkv.reshape(n, l, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        x = self.attend(q, k, v).transpose(1, 2).reshape(n, l, d)  # (N, heads, L, hd) -> (N, L, D)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    """``fc1`` → activation (``"gelu"`` or ``"quick_gelu"``) → ``fc2`` (dropout after each), token-wise."""

    def __init__(self, dim: int, hidden: int, *, drop: float = 0.0, act: str = "gelu") -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = ACTIVATIONS[act]()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm ViT block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``. ``(N, L, D)``.

    ``eps``, ``act``, ``qv_bias`` and ``causal`` are the variants of CLIP and VideoMAE (module docstring).
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        mlp_hidden: int,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        eps: float = LN_EPS,
        act: str = "gelu",
        qv_bias: bool = False,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qv_bias=qv_bias,
            causal=causal,
            attn_drop=attn_drop,
            proj_drop=drop,
        )
        self.drop_path = StochasticDepth(drop_path, mode="row")
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden, drop=drop, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TemporalTransformer(nn.Module):
    """Frame embeddings ``(B, T, D)`` + position embedding, own CLS prepended → CLS output ``(B, D)``."""

    def __init__(
        self,
        *,
        num_frames: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_dim: int,
        drop_rate: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList(
            Block(dim, num_heads=num_heads, mlp_hidden=mlp_dim, drop=drop_rate, drop_path=p)
            for p in drop_path_rates(drop_path_rate, depth)
        )
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, d = x.shape
        x = torch.cat([self.cls_token.expand(b, 1, d), x + self.pos_embed], dim=1)  # (B, 1+T, D)
        x = self.drop(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x[:, 0])


def init_vit_weights(module: nn.Module, std: float = 0.02) -> None:
    """timm / official TimeSformer init: Linear weights trunc-normal(``std``, 0.02 there), biases 0, LayerNorm 1/0.

    0.02 suits ViT-B's 768 channels; narrow from-scratch models need larger (docs/history/demo_tuning_2026-11-26.md).
    """
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def drop_path_rates(rate: float, depth: int) -> list[float]:
    """Stochastic depth rising linearly from 0 to ``rate`` over the blocks (timm's rule)."""
    return [rate * i / max(depth - 1, 1) for i in range(depth)]
