"""`fervid export --onnx`: every registered model (tiny configuration) runs in onnxruntime with
a dynamic batch and matches PyTorch's logits to 1e-4."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fervid.cli import main
from fervid.models import list_models

from .conftest import CLASSES, make_checkpoint


def _tiny_configs() -> dict:
    # The models helper's shared tiny configurations; loaded by path because `conftest` is an
    # ambiguous module name across test folders.
    path = Path(__file__).resolve().parents[1] / "models" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fervid_tests_models_tiny", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TINY


TINY = _tiny_configs()


def _export_and_compare(tmp_path, name: str, extra_args=(), **override) -> None:
    import onnxruntime as ort

    from fervid.checkpoint import load_checkpoint

    assert name in TINY, f"no tiny configuration for {name!r} in tests/models/conftest.py"
    kwargs = {**TINY[name], **override}
    frames, size = kwargs.pop("num_frames"), kwargs.pop("image_size")
    ckpt = make_checkpoint(
        tmp_path / f"{name}.safetensors",
        model=name,
        kwargs=kwargs,
        num_frames=frames,
        image_size=size,
        preprocess={"detector": "none", "size": size},
        classes=kwargs.get("class_names") or CLASSES,
    )
    out = tmp_path / f"{name}.onnx"
    assert main(["export", str(ckpt), "--onnx", str(out), *extra_args]) == 0

    model, meta = load_checkpoint(ckpt)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, outp.name) == ("clip", "logits")
    assert inp.shape[1:] == [3, frames, size, size] and not isinstance(inp.shape[0], int)  # batch is dynamic
    torch.manual_seed(1)
    for batch in (1, 3):
        x = torch.randn(batch, 3, frames, size, size)
        with torch.inference_mode():
            expected = model(x).numpy()
        (got,) = session.run(None, {"clip": x.numpy()})
        assert got.shape == (batch, len(meta.classes))
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    stored = json.loads(session.get_modelmeta().custom_metadata_map["fervid"])
    assert stored["classes"] == meta.classes and stored["model"] == name


@pytest.mark.slow  # ONNX export of every model
@pytest.mark.parametrize("name", list_models())
def test_onnx_matches_pytorch(tmp_path, name, capsys):
    _export_and_compare(tmp_path, name)
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / (name + '.onnx')}"


def test_clip_zero_shot_head_exports(tmp_path, capsys):
    # The tiny clip in TINY runs its text tower in the graph (context tokens); the zero-shot form has
    # no temporal transformer and a cached text embedding, which the exporter sees as a constant.
    _export_and_compare(tmp_path, "clip", n_ctx=0, temporal_depth=0, context_length=16)
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'clip.onnx'}"


@pytest.mark.slow  # ONNX export
def test_dynamo_exporter_option(tmp_path, capsys):
    _export_and_compare(tmp_path, "c3d", ["--dynamo", "--opset", "18"])
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'c3d.onnx'}"  # no exporter chatter
