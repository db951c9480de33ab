"""Parameters, compute, latency and memory of the zoo's models.

Compute is reported in MACs (multiply-accumulates), the convention of torchvision's and
MMAction2's published figures (fvcore): conv, linear and matmul work only. It is counted with
``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per MAC), which counts nothing for
recurrent layers on a real device and, on the CPU, nothing for
``F.scaled_dot_product_attention``; those are added by formula where — and only where — the
counter saw no work, so nothing is counted twice (on the meta device, for instance, the counter
does see both). Latency and peak memory are measured in a fresh subprocess, so one model's
allocations cannot hide another's.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from fervid.errors import FervidError

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not); shared tensors are counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def rnn_macs(rnn: nn.RNNBase, batch: int, steps: int) -> int:
    """MACs of an ``nn.LSTM``/``GRU``/``RNN`` over ``steps`` time steps of ``batch`` sequences.

    Per step, layer and direction: ``gates * H * (I + H_out)`` for the input and recurrent
    matrix products (4 gates for an LSTM: the ``4H(I+H)`` of the literature), plus ``H * P`` for
    the projection when ``proj_size = P > 0``. Biases and gate nonlinearities are not MACs.
    """
    gates, hidden, proj = _GATES[rnn.mode], rnn.hidden_size, rnn.proj_size
    h_out = proj or hidden
    dirs = 2 if rnn.bidirectional else 1
    total = 0
    for layer in range(rnn.num_layers):
        inp = rnn.input_size if layer == 0 else h_out * dirs
        total += gates * hidden * (inp + h_out) + hidden * proj
    return total * dirs * batch * steps


def sdpa_macs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> int:
    """MACs of ``scaled_dot_product_attention``: ``Q Kᵀ`` plus ``softmax(·) V``.

    ``q``: ``(..., L, E)``, ``k``: ``(..., S, E)``, ``v``: ``(..., S, Ev)``; the leading axes
    (batch, heads) are those of ``q``.
    """
    *lead, length, e = q.shape
    s, ev = k.shape[-2], v.shape[-1]
    return math.prod(lead) * length * s * (e + ev)


class _AttentionCounter(TorchFunctionMode):
    """Adds SDPA's MACs by formula whenever the active flop counter saw none for the call."""

    def __init__(self, counter: FlopCounterMode):
        super().__init__()
        self.counter, self.extra = counter, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not F.scaled_dot_product_attention:
            return func(*args, **kwargs)
        before = self.counter.get_total_flops()
        out = func(*args, **kwargs)
        if self.counter.get_total_flops() == before:
            q = kwargs.get("query", args[0] if args else None)
            k = kwargs.get("key", args[1] if len(args) > 1 else None)
            v = kwargs.get("value", args[2] if len(args) > 2 else None)
            self.extra += sdpa_macs(q, k, v)
        return out


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> float:
    """MACs of one forward pass of ``model`` on a zero tensor of ``input_shape``.

    The input lives on the model's device; on the meta device nothing is computed, so a
    full-size model built under ``with torch.device("meta"):`` is counted in milliseconds.
    Recurrent layers and attention are included (see the module docstring). The model is run
    in eval mode without gradients and its mode is restored afterwards.
    """
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    x = torch.zeros(tuple(input_shape), device=device, dtype=dtype)
    extra = 0
    counter = FlopCounterMode(display=False)
    attention = _AttentionCounter(counter)

    def before_rnn(module, args):
        module._fervid_flops_before = counter.get_total_flops()

    def after_rnn(module, args, output):
        nonlocal extra
        if counter.get_total_flops() == module._fervid_flops_before:
            seq = args[0]  # (B, T, I) if batch_first else (T, B, I); (T, I) unbatched
            if seq.dim() == 2:
                batch, steps = 1, seq.shape[0]
            elif module.batch_first:
                batch, steps = seq.shape[0], seq.shape[1]
            else:
                batch, steps = seq.shape[1], seq.shape[0]
            extra += rnn_macs(module, batch, steps)
        del module._fervid_flops_before

    rnns = [m for m in model.modules() if isinstance(m, nn.RNNBase)]
    hooks = [h for m in rnns for h in (m.register_forward_pre_hook(before_rnn), m.register_forward_hook(after_rnn))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter, attention:
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return counter.get_total_flops() / 2 + extra + attention.extra


def _rss_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise FervidError(f"/proc/self/status: no {field} field")


def _measure(
    name: str,
    *,
    num_frames: int,
    image_size: int,
    batch: int,
    num_classes: int,
    repeats: int,
    warmup: int,
    device: str,
    kwargs: dict,
) -> dict:
    """Latency and forward peak memory of a real model; run in a fresh process (see ``_worker``)."""
    from fervid.models import create_model

    dev = torch.device(device)
    model = create_model(name, num_classes=num_classes, num_frames=num_frames, image_size=image_size, **kwargs)
    model = model.to(dev).eval()
    x = torch.randn(batch, 3, num_frames, image_size, image_size, device=dev)  # (B, 3, T, H, W)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    with torch.no_grad():
        # Peak memory of the first forward above what is already resident (weights, input).
        if dev.type == "cuda":
            sync()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            model(x)
            sync()
            peak, method = torch.cuda.max_memory_allocated(dev) - base, "cuda max_memory_allocated"
        else:
            try:  # writing 5 resets the RSS high-water mark (Linux >= 4.0)
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                method = "RSS high-water mark, reset before the forward"
            except OSError:
                method = "RSS high-water mark since process start (could not reset it)"
            base = _rss_bytes("VmRSS")
            model(x)
            peak = _rss_bytes("VmHWM") - base
        for _ in range(warmup):
            model(x)
        sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            sync()
            times.append(time.perf_counter() - t0)
    latency = statistics.median(times)
    return {
        "latency_ms": latency * 1e3,
        "clips_per_s": batch / latency,
        "peak_mem_mb": max(peak, 0) / 2**20,
        "memory_method": method,
        "threads": torch.get_num_threads(),
    }


def _worker() -> None:
    """``python -m fervid.models.profile JSON``: print ``_measure``'s result as one JSON line."""
    spec = json.loads(sys.argv[1])
    try:
        result = _measure(**spec)
    except FervidError as e:
        result = {"error": str(e)}
    print(json.dumps(result))


def profile_model(
    name: str,
    *,
    num_frames: int | None = None,
    image_size: int | None = None,
    batch: int = 1,
    num_classes: int = 6,
    repeats: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    timing: bool = True,
    **kwargs,
) -> dict:
    """Profile a registered model at its defaults unless ``num_frames``/``image_size`` are given.

    Returns a dict: ``model``, ``num_frames``, ``image_size``, ``batch``, ``params``,
    ``gmacs_per_clip`` (MACs of one clip ``(1, 3, T, S, S)``, from a meta-device model) and,
    when ``timing``, ``latency_ms`` (median of ``repeats`` forward passes of the batch after
    ``warmup``), ``clips_per_s``, ``peak_mem_mb`` (peak extra memory of a forward pass over
    the resident weights and input) with ``memory_method``, ``device`` and ``threads``, measured
    in a fresh subprocess. ``kwargs`` go to the builder.
    """
    from fervid.models import create_model, get_model_info

    info = get_model_info(name)
    t, s = num_frames or info.num_frames, image_size or info.image_size
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, num_frames=t, image_size=s, **kwargs)
    row = {
        "model": name,
        "num_frames": t,
        "image_size": s,
        "batch": batch,
        "params": count_params(model),
        "gmacs_per_clip": count_macs(model, (1, 3, t, s, s)) / 1e9,
    }
    del model
    if timing:
        spec = dict(
            name=name,
            num_frames=t,
            image_size=s,
            batch=batch,
            num_classes=num_classes,
            repeats=repeats,
            warmup=warmup,
            device=device,
            kwargs=kwargs,
        )
        proc = subprocess.run(
            [sys.executable, "-m", "fervid.models.profile", json.dumps(spec)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise FervidError(f"profiling {name} failed in its subprocess: {tail}")
        measured = json.loads(lines[-1])
        if "error" in measured:
            raise FervidError(measured["error"])
        row.update(measured, device=device)
    return row


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`profile_model` rows (rows with ``error`` shown as such)."""
    head = (
        f"{'model':<12} {'clip':>10} {'params (M)':>10} {'GMACs/clip':>11} "
        f"{'latency ms':>11} {'clips/s':>8} {'peak MB':>8}"
    )
    out = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            out.append(f"{r['model']:<12} error: {r['error']}")
            continue
        clip = f"{r['num_frames']}x{r['image_size']}"
        timed = (
            f"{r['latency_ms']:>11.1f} {r['clips_per_s']:>8.2f} {r['peak_mem_mb']:>8.0f}"
            if "latency_ms" in r
            else f"{'-':>11} {'-':>8} {'-':>8}"
        )
        out.append(f"{r['model']:<12} {clip:>10} {r['params'] / 1e6:>10.2f} {r['gmacs_per_clip']:>11.3f} {timed}")
    return "\n".join(out)


if __name__ == "__main__":
    _worker()
