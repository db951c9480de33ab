"""Behaviour every registered model must show, checked on its tiny configuration (conftest.TINY)."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from fervid.checkpoint import CheckpointMeta, save_checkpoint
from fervid.errors import PretrainedMismatchError
from fervid.models import create_model, get_model_info, list_models

NAMES = list_models()
NUM_CLASSES = 3


def _build(name, tiny, seed=0):
    if name not in tiny:
        pytest.fail(f"no tiny configuration for registered model {name!r} in tests/models/conftest.py")
    torch.manual_seed(seed)
    return create_model(name, num_classes=NUM_CLASSES, **tiny[name])


def _clip(tiny, name, batch=2, seed=1):
    cfg = tiny[name]
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, cfg["num_frames"], cfg["image_size"], cfg["image_size"], generator=g)


def _first_layer(model: nn.Module) -> nn.Module:
    return next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)))


def test_registry_names_the_models():
    assert NAMES == ["c3d", "clip", "cnn_lstm", "r2plus1d", "timesformer", "tsm", "videomae", "vivit"]


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_gradient_reaches_first_layer(name, tiny):
    model = _build(name, tiny)
    logits = model(_clip(tiny, name))
    assert logits.shape == (2, NUM_CLASSES)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    grad = _first_layer(model).weight.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_tiny_config_fits_a_fixed_batch(name, tiny):
    model = _build(name, tiny)
    x = _clip(tiny, name, batch=4)
    y = torch.tensor([0, 1, 2, 0])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("name", NAMES)
def test_fervid_checkpoint_round_trip(name, tiny, tmp_path):
    info = get_model_info(name)
    model = _build(name, tiny).eval()
    cfg = dict(tiny[name])
    t, s = cfg.pop("num_frames"), cfg.pop("image_size")
    meta = CheckpointMeta(
        model=name,
        num_classes=NUM_CLASSES,
        num_frames=t,
        image_size=s,
        classes=["a", "b", "c"],
        mean=list(info.mean),
        std=list(info.std),
        model_kwargs=cfg,
    )
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, model, meta)
    torch.manual_seed(123)  # a different initialisation, so only the load can make them equal
    again = create_model(name, num_classes=NUM_CLASSES, num_frames=t, image_size=s, pretrained=str(path), **cfg).eval()
    assert again.load_report.loaded == len(model.state_dict())
    assert not again.load_report.replaced_head and not again.load_report.fresh
    x = _clip(tiny, name)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


@pytest.mark.parametrize("name", NAMES)
def test_weights_with_wrong_keys_are_rejected_naming_them(name, tiny, tmp_path):
    state = {k: v.contiguous() for k, v in _build(name, tiny).state_dict().items()}
    victim = sorted(state)[len(state) // 2]
    state["bogus_" + victim.replace(".", "_")] = state.pop(victim)
    path = tmp_path / "foreign.safetensors"  # no fervid metadata: goes through the model's converter
    save_file(state, str(path))
    with pytest.raises(PretrainedMismatchError, match="bogus_"):
        create_model(name, num_classes=NUM_CLASSES, pretrained=str(path), **tiny[name])
