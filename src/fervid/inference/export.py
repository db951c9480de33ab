"""ONNX export of a fervid checkpoint with a dynamic batch axis.

The graph maps input ``clip`` float ``(B, 3, T, S, S)`` (normalised, as in training) to
``logits`` ``(B, C)``; ``T``, ``S`` are fixed by the checkpoint. The checkpoint's classes,
normalisation and preprocessing are stored in the ONNX file's ``metadata_props`` under
``"fervid"`` (the same JSON as the checkpoint's metadata), so a runtime needs nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from fervid.errors import FervidError
from fervid.writes import WriteFailed, atomic_write_bytes, is_write_error, os_error_line

DEFAULT_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "clip", "logits"


def export_onnx(
    checkpoint: str | os.PathLike, out: str | os.PathLike, *, opset: int | None = None, dynamo: bool = False
) -> Path:
    """Export ``checkpoint`` to ``out`` (written atomically); returns ``out``.

    Args:
        opset: ONNX opset (default :data:`DEFAULT_OPSET`).
        dynamo: use the ``torch.export``-based exporter instead of the TorchScript one. Both
            export every fervid model with logits matching PyTorch to 1e-4 (docs/predict.md);
            the TorchScript exporter is the default because it is 3-5x faster to run, though
            torch marks it deprecated.
    """
    import onnx

    from fervid.checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    opset = opset or DEFAULT_OPSET
    # batch 2 so that no exporter specialises the batch axis to 1
    example = torch.randn(2, 3, meta.num_frames, meta.image_size, meta.image_size)
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        try:
            with warnings.catch_warnings():
                # Tracing notes on shape checks and Slice folding: the exported graph's parity with
                # PyTorch is what matters, and tests/inference/test_export.py checks it per model.
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                warnings.filterwarnings("ignore", message="Constant folding")
                warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
                # fervid chooses the TorchScript exporter on purpose (module docstring)
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
                warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
                if dynamo:
                    batch = torch.export.Dim("batch", min=1, max=1024)
                    program = torch.onnx.export(
                        model,
                        (example,),
                        input_names=[INPUT_NAME],
                        output_names=[OUTPUT_NAME],
                        opset_version=opset,
                        dynamo=True,
                        dynamic_shapes=({0: batch},),
                        external_data=False,
                        verbose=False,
                    )
                    program.save(str(tmp_path))
                else:
                    torch.onnx.export(
                        model,
                        (example,),
                        str(tmp_path),
                        input_names=[INPUT_NAME],
                        output_names=[OUTPUT_NAME],
                        opset_version=opset,
                        dynamo=False,
                        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                    )
        except Exception as e:  # an operator the exporter cannot handle: one line, naming the model
            if is_write_error(e):  # the exporter writes into the temporary folder beside OUT
                raise WriteFailed(os_error_line(e, out, "the ONNX file")) from None
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise FervidError(
                f"{checkpoint}: model {meta.model!r} could not be exported to ONNX opset {opset}: {msg}"
            ) from None
        proto = onnx.load(str(tmp_path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "fervid", json.dumps(asdict(meta))
    onnx.checker.check_model(proto)
    atomic_write_bytes(out, proto.SerializeToString(), what="the ONNX file")
    return out
