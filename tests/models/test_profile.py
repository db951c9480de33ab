"""Compute counting: published figures, and the formula additions for LSTM and attention."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fervid.models import create_model
from fervid.models.profile import count_macs, count_params, profile_model, rnn_macs


def _gmacs_meta(name, num_classes, frames, size):
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, num_frames=frames, image_size=size)
    return count_macs(model, (1, 3, frames, size, size)) / 1e9


@pytest.mark.parametrize(
    "name,frames,size,published",
    [
        ("r2plus1d", 16, 112, 40.52),  # torchvision models/video/resnet.py docs, R2Plus1D_18 K400: 40.52 GFLOPS (MACs)
        ("tsm", 8, 224, 32.88),  # MMAction2 TSM-R50 1x1x8 K400 model zoo: 32.88 G (MACs)
        ("timesformer", 8, 224, 196.05),  # official TimeSformer-B K400, per view (fvcore MACs)
    ],
)
def test_macs_match_published_figures(name, frames, size, published):
    assert _gmacs_meta(name, 400, frames, size) == pytest.approx(published, rel=0.01)


def test_c3d_macs_by_hand():
    # conv MACs = output elements x (C_in x 27); 16x112 clip -> 32x7x55x55 -> 48x3x27x27
    conv1 = 32 * 7 * 55 * 55 * (3 * 27)
    conv2 = 48 * 3 * 27 * 27 * (32 * 27)
    fcs = 104_976 * 256 + 256 * 256 + 256 * 6
    assert _gmacs_meta("c3d", 6, 16, 112) * 1e9 == pytest.approx(conv1 + conv2 + fcs, abs=0.5)


def _vit_block_macs(tokens: int, dim: int, mlp: int) -> int:
    # qkv + output projection + MLP + attention (QK^T and AV: tokens^2 x dim each, summed over heads)
    return tokens * dim * 3 * dim + tokens * dim * dim + 2 * tokens * dim * mlp + 2 * tokens * tokens * dim


def test_clip_macs_by_hand():
    # OpenAI ViT-B/16 per frame (224 px: 196 patches + CLS), 16 frames, 1-layer temporal transformer
    # on the 512-d embeddings (17 tokens, MLP 1024), linear head; norms and additions are not MACs.
    frame = 196 * 768 * (3 * 16 * 16) + 12 * _vit_block_macs(197, 768, 3072) + 768 * 512
    temporal = _vit_block_macs(17, 512, 1024)
    total = 16 * frame + temporal + 512 * 6
    assert _gmacs_meta("clip", 6, 16, 224) * 1e9 == pytest.approx(total, abs=0.5)


def test_videomae_macs_by_hand():
    # ViT-B on 16x224: 8x14x14 = 1568 tubelet tokens of 3x2x16x16 values, mean pooling, linear head.
    tokens = 8 * 14 * 14
    total = tokens * 768 * (3 * 2 * 16 * 16) + 12 * _vit_block_macs(tokens, 768, 3072) + 768 * 6
    assert _gmacs_meta("videomae", 6, 16, 224) * 1e9 == pytest.approx(total, abs=0.5)
    assert _gmacs_meta("videomae", 6, 16, 224) == pytest.approx(180.3, abs=0.1)  # VideoMAE paper: 180 G per view


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 4, batch_first=True)
        self.gru = nn.GRU(4, 3, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):  # x: (B, T, 6)
        h, _ = self.lstm(x)  # (B, T, 4)
        self.gru(h.transpose(0, 1))  # (T, B, 4) in, sequence-first
        return self.fc(h[:, -1])  # (B, 2)


class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, x):  # x: (B, T, 6); only the shapes of q, k, v matter
        q = x.new_ones(2, 3, 5, 4) * self.w  # (B, heads, L, E)
        k = x.new_ones(2, 3, 7, 4)  # (B, heads, S, E)
        v = x.new_ones(2, 3, 7, 6)  # (B, heads, S, Ev)
        return F.scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_recurrent_and_attention_formulas_without_double_counting(device):
    # On the CPU the flop counter sees neither LSTM nor SDPA, on the meta device it sees both:
    # the totals must agree with the hand computation either way.
    lstm = 4 * 4 * (6 + 4) * (2 * 5)  # gates*H*(I+H) per step, B=2, T=5
    gru = 3 * 3 * ((4 + 3) + (3 * 2 + 3)) * 2 * (2 * 5)  # layer 1 in=4, layer 2 in=2*3; 2 directions
    fc = 2 * 4 * 2
    attention = 2 * 3 * 5 * 7 * (4 + 6)  # QK^T and AV
    with torch.device(device):
        rec, att = _Recurrent(), _Attention()
    assert count_macs(rec, (2, 5, 6)) == lstm + gru + fc
    assert rnn_macs(rec.gru, 2, 5) == gru
    assert count_macs(att, (2, 5, 6)) == attention


@pytest.mark.parametrize("name", ["cnn_lstm", "timesformer", "vivit", "clip", "videomae"])
def test_models_with_lstm_or_attention_count_the_same_on_cpu_and_meta(name, tiny):
    # the CPU needs the formulas, the meta device does not: equal totals mean none is missed or doubled
    cfg = tiny[name]
    shape = (1, 3, cfg["num_frames"], cfg["image_size"], cfg["image_size"])
    cpu = create_model(name, num_classes=3, **cfg)
    with torch.device("meta"):
        meta = create_model(name, num_classes=3, **cfg)
    cpu.train()
    assert count_macs(cpu, shape) == count_macs(meta, shape) > 0
    assert cpu.training  # mode restored


def test_count_params_counts_shared_tensors_once():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, lin)
    assert count_params(model) == 12


def test_profile_model_without_timing_reports_size_and_compute():
    row = profile_model("c3d", num_frames=8, image_size=32, timing=False, channels=(4, 8), hidden=16)
    assert row["model"] == "c3d" and (row["num_frames"], row["image_size"]) == (8, 32)
    assert row["params"] == count_params(create_model("c3d", num_frames=8, image_size=32, channels=(4, 8), hidden=16))
    assert row["gmacs_per_clip"] > 0 and "latency_ms" not in row
