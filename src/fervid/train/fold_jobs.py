"""Train the folds of several runs side by side: one process per CPU, one torch thread each.

Tiny models do not keep two threads busy: on a 2-core CPU one 2-thread process trained the
demo's cnn_lstm 1.5x and its transformers 1.6x faster than one thread, not 2x, and whenever
anything else ran on the machine its OpenMP threads waited on each other at every operation
(steps 3-10x slower). Two 1-thread processes each keep their 1-thread speed: 2x the throughput,
and a share of the CPU lost to another job costs only that share (docs/BENCHMARKS.md).

A fold computes the same numbers in whichever worker, alone or beside others, and in whatever
order, because each job is one thread and every random draw of a fold is seeded by its position
(:mod:`fervid.train.resumable`). Folds of one run share its directory safely: ``train_run``
locks the run's files and each fold's folder (:mod:`fervid.rundir.lock`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _exit_with(parent: int) -> None:
    """Exit when process ``parent`` is gone: a worker left behind by a killed demo would sit on
    its memory (a gigabyte or more) for ever, or train on with nobody to collect its fold."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(2)
            try:
                os.kill(parent, 0)
            except (ProcessLookupError, PermissionError):  # gone, or a new process under its PID
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="fervid-parent-watch").start()


def _init_worker(threads: int, parent: int) -> None:
    import logging
    import warnings

    _exit_with(parent)

    import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO on import: import first)
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    # A worker's output goes to the terminal directly: keep it to the caller's per-fold lines.
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


def _train_fold(config: dict, run_dir: str, fold: int) -> tuple[list[str], float]:
    from fervid.train.run import train_run

    lines: list[str] = []
    t = time.perf_counter()
    train_run(config, run_dir, folds=[fold], resume=True, report=False, log=lines.append)
    return lines, time.perf_counter() - t


def run_fold_jobs(
    jobs: Iterable[tuple[str, dict, str, int]],
    *,
    processes: int,
    threads: int = 1,
    on_done: Callable[[str, int, list[str], float], None] = lambda *a: None,
) -> None:
    """Train every ``(name, config, run_dir, fold)`` of ``jobs`` in ``processes`` worker processes
    with ``threads`` torch threads each, in the order given (put the longest first).

    Finished folds are skipped (``resume``), unfinished ones continue from ``last.ckpt``.
    ``on_done(name, fold, log_lines, seconds)`` runs in this process as each fold finishes; the
    runs' reports are the caller's to write (``train_run(..., resume=True)`` once all are done).
    A failing fold raises its error here after the others running have finished.
    """
    import multiprocessing

    jobs = list(jobs)
    if not jobs:
        return
    # forkserver, not fork: a forked child can deadlock in a thread pool (OpenMP, OpenCV) the
    # parent had started (the same choice as fervid.data.prepare).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(
        max_workers=max(1, min(processes, len(jobs))),
        mp_context=context,
        initializer=_init_worker,
        initargs=(threads, os.getpid()),
    ) as pool:
        futures = {
            pool.submit(_train_fold, config, str(run_dir), fold): (name, fold) for name, config, run_dir, fold in jobs
        }
        try:
            for future in as_completed(futures):
                lines, seconds = future.result()
                on_done(*futures[future], lines, seconds)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
