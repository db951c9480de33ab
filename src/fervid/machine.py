"""The machine a timing was taken on, and a reference speed measured in the same sitting.

Training times move by 2x and more between CPUs of the same nominal size (and with the load
other jobs put on them), so a time means little without a figure that scales it. The figure
used across fervid is the fp32 GEMM rate: :func:`gemm_gflops` times ``n x n @ n x n`` matrix
products on the CPU (torch's BLAS, the threads torch uses), about a second at ``n = 2048``.
``fervid demo`` prints it with :func:`describe`; ``benchmarks/gemm.py`` runs it alone.
"""

from __future__ import annotations

import os
import platform
import time


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gemm_gflops(n: int = 2048, *, seconds: float = 1.0) -> float:
    """Best fp32 GFLOP/s of ``(n, n) @ (n, n)`` products (``2 n^3`` FLOPs each) on the CPU.

    One warm-up product, then repeats for about ``seconds`` (at least three); the best repeat is
    reported, the usual convention for a peak figure (it is the least disturbed by other jobs).
    """
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    best, spent, runs = float("inf"), 0.0, 0
    while runs < 3 or spent < seconds:
        t = time.perf_counter()
        torch.mm(a, b, out=out)
        dt = time.perf_counter() - t
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return 2 * n**3 / best / 1e9


def describe(*, gemm: bool = True) -> dict:
    """CPU model, logical CPUs, torch version, its threads and CPU kernel level, the load average
    and (``gemm``) the 2048² fp32 GEMM rate measured now."""
    import torch

    info = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if gemm:
        info["gemm_gflops"] = round(gemm_gflops(), 1)
    return info


def describe_line(info: dict) -> str:
    """``describe()``'s dict as one line for logs."""
    parts = [
        f"{info['cpu']}, {info['logical_cpus']} logical CPUs, torch {info['torch']} "
        f"({info['torch_threads']} threads, {info['cpu_capability']})"
    ]
    if "load_average" in info:
        parts.append("load average " + " ".join(f"{x:.2f}" for x in info["load_average"]))
    if "gemm_gflops" in info:
        parts.append(f"2048² fp32 GEMM {info['gemm_gflops']:.0f} GFLOP/s")
    return "; ".join(parts)
