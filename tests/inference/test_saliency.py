"""Saliency methods: explicit attention equals the fused kernel, relevance bookkeeping against dense
matrices, Grad-CAM localises, and every registered model gives well-formed maps."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from fervid.inference.saliency import (
    METHODS,
    DividedAttention,
    FactorisedAttention,
    JointAttention,
    clip_saliency,
    keep_attention,
)
from fervid.models import create_model, list_models
from fervid.models._vit import Attention, Block, PatchEmbed


def _tiny_configs() -> dict:
    # tests/models/conftest.py's TINY (a conftest is not importable by name across test folders)
    spec = importlib.util.spec_from_file_location("models_tiny", Path(__file__).parents[1] / "models" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TINY


TINY = _tiny_configs()


def _model(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(name, num_classes=3, **TINY[name]).eval()


def _clip(name: str, seed: int = 1) -> torch.Tensor:
    cfg = TINY[name]
    return torch.randn(
        1, 3, cfg["num_frames"], cfg["image_size"], cfg["image_size"], generator=torch.Generator().manual_seed(seed)
    )


def test_every_registered_model_has_a_method():
    assert sorted(METHODS) == list_models()


@pytest.mark.parametrize("name", ["timesformer", "vivit"])
def test_kept_attention_equals_the_fused_kernel(name):
    model, x = _model(name), _clip(name)
    with torch.no_grad():
        fused = model(x)
        with keep_attention(model) as attns:
            explicit = model(x)
            maps = [a.attn_map for a in attns]
    torch.testing.assert_close(explicit, fused, atol=1e-5, rtol=1e-5)
    assert all(m is not None and torch.allclose(m.sum(-1), torch.ones(())) for m in maps)  # softmax rows
    assert all(not a.keep_attn and a.attn_map is None for a in attns)  # restored: the fused kernel again
    with torch.no_grad():
        model(x)
    assert all(a.attn_map is None for a in attns)  # a normal forward keeps nothing


@pytest.mark.parametrize("name", list_models())
def test_maps_and_temporal_curve_are_well_formed(name):
    model, x = _model(name), _clip(name)
    t, s = x.shape[2], x.shape[3]
    out = clip_saliency(model, name, x)
    assert out.maps.shape == (t, s, s) and out.maps.dtype == torch.float32
    assert out.maps.min() >= 0 and out.maps.max() == pytest.approx(1.0)
    assert out.temporal.shape == (t,) and out.temporal.sum() == pytest.approx(1.0) and out.temporal.min() >= 0
    with torch.no_grad():
        torch.testing.assert_close(out.logits, model(x)[0], atol=1e-5, rtol=1e-5)
    assert out.target == int(out.logits.argmax())
    other = clip_saliency(model, name, x, target=(out.target + 1) % 3)
    assert other.target == (out.target + 1) % 3
    assert not torch.equal(other.temporal, out.temporal)  # another class, another attribution


def _unbiased(model: nn.Module) -> nn.Module:
    """Zero conv biases: with BatchNorm at its initial statistics, an all-zero input region then gives
    all-zero activations, so Grad-CAM can only light up where the input has signal."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)) and m.bias is not None:
            nn.init.zeros_(m.bias)
    return model


def _patch(t: int, s: int, row: int, col: int, frames=slice(None)) -> torch.Tensor:
    """Zeros with a noise patch in quadrant (row, col) of the given frames."""
    x = torch.zeros(1, 3, t, s, s)
    y0, x0 = row * s // 2 + s // 8, col * s // 2 + s // 8
    g = torch.Generator().manual_seed(3)
    x[:, :, frames, y0 : y0 + s // 4, x0 : x0 + s // 4] = torch.randn(1, 3, t, s // 4, s // 4, generator=g)[
        :, :, frames
    ]
    return x


@pytest.mark.parametrize("row,col", [(0, 0), (1, 1), (0, 1)])
def test_grad_cam_lights_up_where_the_signal_is(row, col):
    """3-D path (c3d, 11x11 grid at 48 px): the map lands in the right quadrant, axes not swapped."""
    torch.manual_seed(0)
    model = _unbiased(create_model("c3d", num_classes=3, num_frames=8, image_size=48, channels=(8, 16))).eval()
    maps = clip_saliency(model, "c3d", _patch(8, 48, row, col)).maps
    quadrant = maps[:, row * 24 : row * 24 + 24, col * 24 : col * 24 + 24]
    assert quadrant.sum() > 0.95 * maps.sum()


def test_grad_cam_per_frame_keeps_frames_apart():
    """2-D path (cnn_lstm over B*T frames): a blank frame gets no map, a frame with signal does."""
    torch.manual_seed(1)
    # MobileNetV3's convolutions have no bias (its squeeze-excitation only rescales), so zero stays zero
    model = create_model("cnn_lstm", num_classes=3, num_frames=3, image_size=64, width_mult=0.25, hidden=16).eval()
    x = _patch(3, 64, 0, 0, frames=slice(1, 2))
    out = max((clip_saliency(model, "cnn_lstm", x, target=k) for k in range(3)), key=lambda o: o.maps.max())
    assert out.maps[1].max() == 1 and out.maps[0].max() == 0 and out.maps[2].max() == 0


def test_c3d_never_sees_its_last_frame():
    """Two unpadded stride-2 kernel-3 convolutions over 8 frames cover frames 0-6 only."""
    out = clip_saliency(_model("c3d"), "c3d", _clip("c3d"))
    assert out.temporal[-1] == 0 and out.temporal[:-1].min() > 0


def _dense_chefer(attns, grads):
    """Row 0 of R = (I + Ā_L) ... (I + Ā_1), with full matrices."""
    n = attns[0].shape[-1]
    r = torch.eye(n).expand(attns[0].shape[0], n, n)
    for a, g in zip(attns, grads):
        r = r + (a * g).clamp(min=0).mean(1) @ r
    return r[:, 0]


def _attention_and_grads(model, method, x):
    with method.capture(model) as cap:
        y = model(x)[0]
        attns = cap.tensors
        grads = torch.autograd.grad(y[0], attns)
    return [a.detach() for a in attns], [g.detach() for g in grads]


def test_divided_relevance_matches_the_dense_joint_matrices():
    model, x = _model("timesformer"), _clip("timesformer")
    method = DividedAttention()
    attns, grads = _attention_and_grads(model, method, x)
    t, n = x.shape[2], attns[0].shape[0]
    size = 1 + n * t
    idx = 1 + torch.arange(n)[:, None] * t + torch.arange(t)[None, :]  # (N, T) token of patch p, frame t
    r = torch.eye(size)
    for k in range(0, len(attns), 2):
        tm = (attns[k] * grads[k]).clamp(min=0).mean(1)  # (N, T, T)
        m = torch.zeros(size, size)
        m[idx[:, :, None], idx[:, None, :]] = tm
        r = r + m @ r
        sm = (attns[k + 1] * grads[k + 1]).clamp(min=0).mean(1)  # (T, 1+N, 1+N)
        m = torch.zeros(size, size)
        rows = idx.T  # (T, N)
        m[rows[:, :, None], rows[:, None, :]] = sm[:, 1:, 1:]
        m[rows, 0] = sm[:, 1:, 0]
        m[0, rows] = sm[:, 0, 1:] / t
        m[0, 0] = sm[:, 0, 0].mean()
        r = r + m @ r
    expected = r[0, idx].T.reshape(t, 4, 4)  # 32 px, 8-px patches
    torch.testing.assert_close(method.coarse(model, attns, grads, x.shape[2:]), expected, atol=1e-6, rtol=1e-5)


def test_factorised_relevance_matches_dense_rollout():
    model, x = _model("vivit"), _clip("vivit")
    method = FactorisedAttention(spatial="spatial", temporal="temporal")
    attns, grads = _attention_and_grads(model, method, x)
    n_sp = len(model.spatial.blocks)
    frames = _dense_chefer(attns[:n_sp], grads[:n_sp])[:, 1:]  # (T, P)
    weight = _dense_chefer(attns[n_sp:], grads[n_sp:])[0, 1:]  # (T,)
    expected = (weight[:, None] * frames).reshape(-1, 4, 4)
    torch.testing.assert_close(method.coarse(model, attns, grads, x.shape[2:]), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("temporal_depth", [1, 0])
def test_clip_relevance_matches_dense_rollout(temporal_depth):
    """clip: per-frame CLIP ViT (CLS first), then the temporal transformer's CLS, or (depth 0, the
    zero-shot model) the mean of the frame embeddings: every frame weighs 1."""
    torch.manual_seed(0)
    cfg = dict(TINY["clip"], depth=2, temporal_depth=temporal_depth)
    model, x = create_model("clip", num_classes=3, **cfg).eval(), _clip("clip")
    method = METHODS["clip"]
    attns, grads = _attention_and_grads(model, method, x)
    n_sp = len(model.visual.blocks)
    assert len(attns) == n_sp + temporal_depth  # the text tower's attention is not captured
    frames = _dense_chefer(attns[:n_sp], grads[:n_sp])[:, 1:]  # (T, P)
    weight = _dense_chefer(attns[n_sp:], grads[n_sp:])[0, 1:] if temporal_depth else torch.ones(x.shape[2])
    expected = (weight[:, None] * frames).reshape(-1, 4, 4)
    torch.testing.assert_close(method.coarse(model, attns, grads, x.shape[2:]), expected, atol=1e-6, rtol=1e-5)
    out = clip_saliency(model, "clip", x)
    assert out.maps.shape == x.shape[2:] and out.maps.max() == pytest.approx(1.0)


def test_videomae_relevance_matches_dense_rollout():
    """videomae: one stack over the (t, h, w)-ordered tubelet tokens, no CLS: the output is the
    token mean, so the relevance is the mean of the rows of R; tubelets span 2 frames."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(2))
    model = create_model("videomae", num_classes=3, **dict(TINY["videomae"], num_frames=4)).eval()
    attns, grads = _attention_and_grads(model, METHODS["videomae"], x)
    n = attns[0].shape[-1]
    assert n == 2 * 4 * 4
    dense = torch.eye(n)
    for a, g in zip(attns, grads):
        dense = dense + (a * g).clamp(min=0).mean(1)[0] @ dense
    expected = dense.mean(0).reshape(2, 4, 4)  # (t', h', w')
    coarse = METHODS["videomae"].coarse(model, attns, grads, x.shape[2:])
    torch.testing.assert_close(coarse, expected, atol=1e-6, rtol=1e-5)
    assert clip_saliency(model, "videomae", x).maps.shape == (4, 32, 32)  # two tubelets back onto four frames


class _Tubelets(nn.Module):
    """A joint space-time ViT from fervid's pieces, tubelets of 2 frames, mean-pooled (VideoMAE's shape)."""

    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size=8, embed_dim=32)
        self.patch_embed.proj = nn.Conv3d(3, 32, kernel_size=(2, 8, 8), stride=(2, 8, 8))
        self.blocks = nn.ModuleList(Block(32, num_heads=4, mlp_hidden=64) for _ in range(2))
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, T/2 * h * w, D), time-major
        for blk in self.blocks:
            x = blk(x)
        return self.head(x.mean(1))


def test_joint_attention_plugs_in_with_one_line(monkeypatch):
    torch.manual_seed(0)
    model = _Tubelets().eval()
    monkeypatch.setitem(METHODS, "tubelets", JointAttention(blocks="blocks", patch="patch_embed.proj"))
    x = torch.randn(1, 3, 4, 16, 16)
    out = clip_saliency(model, "tubelets", x)
    assert out.maps.shape == (4, 16, 16) and out.maps.max() == pytest.approx(1.0)
    attns, grads = _attention_and_grads(model, METHODS["tubelets"], x)
    n = attns[0].shape[-1]
    dense = torch.eye(n)
    for a, g in zip(attns, grads):
        dense = dense + (a * g).clamp(min=0).mean(1)[0] @ dense
    expected = dense.mean(0).reshape(2, 2, 2)  # mean-pooled output: the mean of the rows
    torch.testing.assert_close(
        METHODS["tubelets"].coarse(model, attns, grads, (4, 16, 16)), expected, atol=1e-6, rtol=1e-5
    )


def test_unknown_model_and_bad_input_are_one_line_errors():
    from fervid.errors import FervidError

    with pytest.raises(FervidError, match="no saliency method for model 'nope'"):
        clip_saliency(nn.Linear(2, 2), "nope", torch.zeros(1, 3, 2, 8, 8))
    with pytest.raises(FervidError, match="one clip"):
        clip_saliency(_model("c3d"), "c3d", torch.zeros(2, 3, 8, 32, 32))
    assert isinstance(METHODS["vivit"], FactorisedAttention) and Attention  # the contract's pieces
