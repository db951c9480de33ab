"""Vision-transformer pieces shared by ``timesformer`` and ``vivit``.

Parameter names follow the official TimeSformer / timm ``vit.py`` (``patch_embed.proj``,
``attn.qkv``, ``attn.proj``, ``mlp.fc1``, ``mlp.fc2``, ``norm1``, ``norm2``), so foreign
checkpoints map onto them by renaming alone. Attention is
``torch.nn.functional.scaled_dot_product_attention``; :attr:`Attention.keep_attn` switches one
module to an explicit softmax that keeps its weights for saliency (``fervid.inference.saliency``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

LN_EPS = 1e-6  # official TimeSformer, timm and torchvision ViTs


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` patches of one image, linearly embedded.

    ``(N, C, H, W)`` → ``(N, (H/p)·(W/p), D)``, patches in row-major order.
    """

    def __init__(self, *, patch_size: int, in_chans: int = 3, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (N, D, h, w) -> (N, h*w, D)


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection laid out ``(3, heads, head_dim)``.

    That layout is the official TimeSformer's, timm's, Hugging Face TimeSformer's and
    torchvision's ``in_proj_weight`` (q, k, v stacked, heads contiguous inside each).
    ``(N, L, D)`` → ``(N, L, D)``.

    Saliency: with ``keep_attn`` set (``fervid.inference.saliency.keep_attention`` sets it for a
    whole model) the weights are computed explicitly as ``softmax(q k^T / sqrt(hd))`` and the last
    forward's ``(N, heads, L, L)`` weights are kept in ``attn_map`` (part of the autograd graph).
    Subclasses that build q, k, v differently call :meth:`attend` so they keep this.
    """

    def __init__(self, dim: int, *, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.keep_attn = False
        self.attn_map: torch.Tensor | None = None

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``(N, heads, L, hd)`` each → ``(N, heads, L, hd)``: fused kernel, or explicit when keeping weights."""
        p = self.attn_drop if self.training else 0.0
        if not self.keep_attn:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        attn = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)  # (N, heads, L, L)
        self.attn_map = attn
        return F.dropout(attn, p, self.training) @ v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, l, d = x.shape
        # (N, L, 3D) -> (N, L, 3, heads, hd) -> (3, N, heads, L, hd): views, no copy
        q, k, v = self.qkv(x).reshape(n, l, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        x = self.attend(q, k, v).transpose(1, 2).reshape(n, l, d)  # (N, heads, L, hd) -> (N, L, D)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    """``fc1`` → GELU → ``fc2`` (dropout after each), token-wise."""

    def __init__(self, dim: int, hidden: int, *, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm ViT block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``. ``(N, L, D)``."""

    def __init__(self, dim: int, *, num_heads: int, mlp_hidden: int, qkv_bias: bool = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = StochasticDepth(drop_path, mode="row")
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, mlp_hidden, drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def init_vit_weights(module: nn.Module, std: float = 0.02) -> None:
    """timm / official TimeSformer init: Linear weights trunc-normal(``std``, 0.02 there), biases 0, LayerNorm 1/0.

    0.02 suits ViT-B's 768 channels; narrow from-scratch models need larger (docs/BENCHMARKS.md, the demo).
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
