"""Saliency of fervid's video models: Grad-CAM for the CNNs, gradient-weighted attention for the transformers.

One forward and one backward pass of a single clip give, for the explained class ``k``:

- **maps** ``(T, H, W)`` in [0, 1], one per input frame, divided by the clip's largest value
  (so frames stay comparable);
- **temporal importance** ``(T,)``, summing to 1: each frame's share of the gradient × input
  attribution ``sum_{c,h,w} |x * d y_k / d x|`` (the same definition for every model);
- the clip's logits.

Methods (:data:`METHODS`, keyed by registered model name):

- :class:`GradCAM` (Selvaraju et al. 2017) on the last spatial stage. 3-D CNNs (``c3d``,
  ``r2plus1d``): one weight per channel, averaged over ``(T', h, w)``, and the ``(T', h, w)`` map
  is upsampled trilinearly to the input frames. 2-D backbones over ``B*T`` frames (``tsm``,
  ``cnn_lstm``): weights per frame, one map per frame.
- Gradient-weighted attention (Chefer et al. 2021, "Generic Attention-model Explainability"):
  per attention layer ``Ā = mean_heads (dA ⊙ A)^+``, relevance ``R ← R + Ā R`` from the identity;
  the map is the row of the output token (CLS, or the mean over tokens without one). Only that
  row is needed, so it is carried as a vector from the last layer back to the first.
  :class:`FactorisedAttention` (``vivit``; per-frame ViT, temporal transformer),
  :class:`DividedAttention` (``timesformer``'s alternating time and space attention over one
  token set), :class:`JointAttention` (one stack over all space-time tokens, e.g. tubelets).
  The weights come from ``fervid.models._vit.Attention`` with ``keep_attn`` set
  (:func:`keep_attention`); normal forward passes keep the fused kernel.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fervid.errors import FervidError
from fervid.models._vit import Attention


@contextlib.contextmanager
def keep_attention(module: nn.Module):
    """Within the block, every :class:`~fervid.models._vit.Attention` in ``module`` keeps its
    weights (``attn_map``); they are dropped, and the fused kernel restored, on exit."""
    attns = [m for m in module.modules() if isinstance(m, Attention)]
    for m in attns:
        m.keep_attn = True
    try:
        yield attns
    finally:
        for m in attns:
            m.keep_attn, m.attn_map = False, None


def _attentions(model: nn.Module, path: str) -> list[Attention]:
    """The ``Attention`` modules under ``path``, in forward order (module registration order)."""
    found = [m for m in model.get_submodule(path).modules() if isinstance(m, Attention)]
    if not found:
        raise FervidError(f"saliency: {type(model).__name__}.{path} holds no fervid Attention modules")
    return found


def _relevance_row(start: torch.Tensor, attns: list[torch.Tensor], grads: list[torch.Tensor]) -> torch.Tensor:
    """Chefer's relevance, one row: ``start (N, L) · (I + Ā_L) ··· (I + Ā_1)`` for one stack of layers.

    ``attns``/``grads``: ``(N, heads, L, L)`` per layer, first layer first. Returns ``(N, L)``.
    """
    v = start
    for a, g in zip(reversed(attns), reversed(grads)):
        cam = (a * g).clamp(min=0).mean(dim=1)  # (N, L, L)
        v = v + torch.einsum("nl,nlm->nm", v, cam)
    return v


def _square(n: int, what: str) -> int:
    side = math.isqrt(n)
    if side * side != n:
        raise FervidError(f"saliency: {what} has {n} patch tokens, not a square grid")
    return side


@dataclass(frozen=True)
class GradCAM:
    """Grad-CAM on the output of module ``layer``: ``(B, C, T', h, w)`` (3-D) or ``(B*T, C, h, w)`` (per frame)."""

    layer: str

    def capture(self, model: nn.Module) -> _Capture:
        return _OutputHook(model.get_submodule(self.layer))

    def coarse(self, model: nn.Module, acts: list[torch.Tensor], grads: list[torch.Tensor], shape) -> torch.Tensor:
        (a,), (g,), t = acts, grads, shape[0]
        if a.ndim == 5:  # (1, C, T', h, w): one weight per channel over the whole clip
            w = g.mean(dim=(2, 3, 4))[:, :, None, None, None]
            return F.relu((w * a).sum(dim=1))[0]  # (T', h, w)
        if a.ndim == 4 and a.shape[0] == t:  # (T, C, h, w): one weight per channel and frame
            w = g.mean(dim=(2, 3))[:, :, None, None]
            return F.relu((w * a).sum(dim=1))  # (T, h, w)
        raise FervidError(
            f"saliency: Grad-CAM layer {self.layer!r} gave activations {tuple(a.shape)}, "
            f"expected (1, C, T', h, w) or ({t}, C, h, w)"
        )


@dataclass(frozen=True)
class FactorisedAttention:
    """A ViT with a CLS token on every frame (``spatial``), then a temporal transformer whose
    token ``1 + t`` is frame ``t`` and whose CLS is the output (``temporal``). Without one
    (``temporal`` is ``None``, or names an attribute the model set to ``None``: ``clip`` with
    ``temporal_depth=0``) the frame embeddings are pooled with equal weights. Map of frame ``t``:
    the temporal relevance of frame ``t`` times the spatial relevance of its patches."""

    spatial: str
    temporal: str | None = None

    def _temporal(self, model: nn.Module) -> str | None:
        if self.temporal is None:
            return None
        parent, _, name = self.temporal.rpartition(".")
        return None if getattr(model.get_submodule(parent), name) is None else self.temporal

    def capture(self, model: nn.Module) -> _Capture:
        paths = [self.spatial] + ([self.temporal] if self._temporal(model) else [])
        return _AttentionMaps(model, [a for p in paths for a in _attentions(model, p)])

    def coarse(self, model: nn.Module, attns: list[torch.Tensor], grads: list[torch.Tensor], shape) -> torch.Tensor:
        t = shape[0]
        n = len(_attentions(model, self.spatial))
        patches = _relevance_row(_onehot(t, attns[0].shape[-1], attns[0]), attns[:n], grads[:n])[:, 1:]  # (T, P)
        weight = torch.ones(t, dtype=patches.dtype, device=patches.device)
        if self._temporal(model):
            weight = _relevance_row(_onehot(1, t + 1, attns[n]), attns[n:], grads[n:])[0, 1:]  # (T,)
        side = _square(patches.shape[1], "a frame")
        return (weight[:, None] * patches).reshape(t, side, side)


@dataclass(frozen=True)
class DividedAttention:
    """TimeSformer's divided space-time blocks (``blocks[i].temporal_attn`` then ``.attn``) over
    one token set: CLS, then patch ``p`` of frame ``t`` at ``1 + p*T + t``. Temporal attention
    mixes a patch's T tokens; spatial attention mixes one frame's patches with the CLS token,
    whose T per-frame outputs are averaged."""

    blocks: str = "blocks"

    def capture(self, model: nn.Module) -> _Capture:
        return _AttentionMaps(
            model, [a for blk in model.get_submodule(self.blocks) for a in (blk.temporal_attn, blk.attn)]
        )

    def coarse(self, model: nn.Module, attns: list[torch.Tensor], grads: list[torch.Tensor], shape) -> torch.Tensor:
        t, n = shape[0], attns[0].shape[0]  # temporal attention runs on B*N = N patch sequences
        cls = torch.ones((), dtype=attns[0].dtype, device=attns[0].device)  # the row of the CLS output
        u = torch.zeros(t, n, dtype=cls.dtype, device=cls.device)  # (T, N): patch p of frame t
        layers = [(a * g).clamp(min=0).mean(dim=1) for a, g in zip(attns, grads)]  # Ā per layer
        for tm, sm in reversed(list(zip(layers[0::2], layers[1::2]))):  # tm (N, T, T), sm (T, 1+N, 1+N)
            y = torch.einsum(
                "tj,tjk->tk", torch.cat([(cls / t).expand(t, 1), u], dim=1), sm
            )  # CLS joins each frame at 1/T
            cls, u = cls + y[:, 0].sum(), u + y[:, 1:]
            u = u + torch.einsum("ip,pij->jp", u, tm)
        return u.reshape(t, _square(n, "a frame"), -1)


@dataclass(frozen=True)
class JointAttention:
    """One stack of attention over all space-time tokens under ``blocks``, ordered time, row,
    column after an optional CLS token; the grid follows from the kernel of the patch embedding
    ``patch`` (a Conv3d ``(kt, kh, kw)`` tubelet or a Conv2d). Without CLS the output is the mean
    over tokens."""

    blocks: str
    patch: str
    cls: bool = False

    def capture(self, model: nn.Module) -> _Capture:
        return _AttentionMaps(model, _attentions(model, self.blocks))

    def coarse(self, model: nn.Module, attns: list[torch.Tensor], grads: list[torch.Tensor], shape) -> torch.Tensor:
        k = tuple(model.get_submodule(self.patch).kernel_size)
        kt, kh, kw = (1, *k) if len(k) == 2 else k
        n_tok = attns[0].shape[-1]
        first = _onehot(1, n_tok, attns[0]) if self.cls else torch.full_like(attns[0][:1, 0, 0], 1 / n_tok)
        row = _relevance_row(first, attns, grads)[0, int(self.cls) :]
        return row.reshape(shape[0] // kt, shape[1] // kh, shape[2] // kw)


def _onehot(n: int, length: int, like: torch.Tensor) -> torch.Tensor:
    """``(n, length)`` rows selecting token 0 (the CLS token)."""
    out = torch.zeros(n, length, dtype=like.dtype, device=like.device)
    out[:, 0] = 1
    return out


class _Capture(contextlib.AbstractContextManager):
    tensors: list[torch.Tensor]


class _OutputHook(_Capture):
    """Keeps the output of one module during a forward pass."""

    def __init__(self, module: nn.Module):
        self.module, self.tensors = module, []

    def __enter__(self):
        self._handle = self.module.register_forward_hook(lambda m, i, out: self.tensors.append(out))
        return self

    def __exit__(self, *exc):
        self._handle.remove()


class _AttentionMaps(_Capture):
    """Keeps the attention weights of ``attns`` (in that order) during a forward pass."""

    def __init__(self, model: nn.Module, attns: list[Attention]):
        self.attns, self._keep = attns, keep_attention(model)

    def __enter__(self):
        self._keep.__enter__()
        return self

    @property
    def tensors(self) -> list[torch.Tensor]:
        return [m.attn_map for m in self.attns]

    def __exit__(self, *exc):
        self._keep.__exit__(*exc)


# Model name -> method: a new model adds one line (the layer of its last spatial stage, or where
# its attention stacks are). See docs/explain.md.
METHODS = {
    "c3d": GradCAM("features"),
    "r2plus1d": GradCAM("layer4"),
    "tsm": GradCAM("layer4"),
    "cnn_lstm": GradCAM("features"),
    "timesformer": DividedAttention("blocks"),
    "vivit": FactorisedAttention(spatial="spatial", temporal="temporal"),
    "clip": FactorisedAttention(spatial="visual", temporal="temporal"),  # the text head's tower is not explained
    "videomae": JointAttention(blocks="blocks", patch="patch_embed.proj"),
}


def method_name(model_name: str) -> str:
    """How ``model_name``'s maps are made, in words (for reports and JSON)."""
    if isinstance(METHODS.get(model_name), GradCAM):
        return f"Grad-CAM on {METHODS[model_name].layer}"
    return "gradient-weighted attention relevance (Chefer et al. 2021)"


@dataclass
class ClipSaliency:
    maps: torch.Tensor  # (T, H, W) float32 in [0, 1]
    temporal: torch.Tensor  # (T,) sums to 1
    logits: torch.Tensor  # (C,)
    target: int


def clip_saliency(model: nn.Module, model_name: str, x: torch.Tensor, target: int | None = None) -> ClipSaliency:
    """Saliency of one normalised clip ``x`` ``(1, 3, T, H, W)`` for class ``target`` (default: the
    predicted one) with the method of ``model_name`` in :data:`METHODS`. ``model`` must be in eval mode."""
    if model_name not in METHODS:
        raise FervidError(f"no saliency method for model {model_name!r}; known: {', '.join(sorted(METHODS))}")
    if x.ndim != 5 or x.shape[0] != 1:
        raise FervidError(f"saliency explains one clip (1, 3, T, H, W); got {tuple(x.shape)}")
    method = METHODS[model_name]
    _, _, t, h, w = x.shape
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad(), method.capture(model) as cap:
        logits = model(x)[0]  # (C,)
        k = int(logits.argmax()) if target is None else int(target)
        if not 0 <= k < logits.numel():
            raise FervidError(f"saliency: target class {k} out of range for {logits.numel()} classes")
        captured = cap.tensors
        grads = torch.autograd.grad(logits[k], [x, *captured])
    coarse = method.coarse(model, [a.detach() for a in captured], [g.detach() for g in grads[1:]], (t, h, w)).float()
    maps = F.interpolate(coarse[None, None], size=(t, h, w), mode="trilinear", align_corners=False)[0, 0]
    maps = maps.clamp(min=0)
    peak = maps.max()
    maps = maps / peak if peak > 0 else maps
    attribution = (x.detach() * grads[0]).abs().sum(dim=(0, 1, 3, 4))  # (T,)
    total = attribution.sum()
    temporal = attribution / total if total > 0 else torch.full_like(attribution, 1 / t)
    return ClipSaliency(maps=maps, temporal=temporal.float(), logits=logits.detach(), target=k)
