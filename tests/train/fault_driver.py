"""`fervid ARGS...` with one fault injected from inside training, at a fixed fold and step, so
the fault lands at the same point on every machine, however fast.

FERVID_FAULT="ACTION:FOLD:STEP" acts in fold FOLD's ``on_train_batch_end`` once the optimiser
step counter reaches STEP:

- ``kill``, ``term``, ``usr1``: send SIGKILL / SIGTERM / SIGUSR1 to this process;
- ``full``: the disk fills up: FERVID_FILLER (a file on a small tmpfs) grows until the
  filesystem is full; without it, the file-size limit drops to 4 KiB (writes fail with EFBIG);
- ``oom``: the model's next forward raises ``torch.OutOfMemoryError``;
- ``hold``: write FERVID_MARKER, then wait (up to a minute) to be killed.
"""

import os
import resource
import signal
import sys
import time
from pathlib import Path

import lightning as L
import torch

from fervid.cli import main
from fervid.train import fold as fold_module


def fill_disk(filler: str) -> None:
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    os.close(fd)


class Fault(L.Callback):
    def __init__(self, fdir, action: str, fold: int, step: int):
        self.fdir, self.action, self.fold, self.step = Path(fdir), action, fold, step

    def on_train_batch_end(self, trainer, pl_module, *args):
        if self.fdir.name != f"fold_{self.fold:02d}" or trainer.global_step != self.step:
            return
        if self.action in ("kill", "term", "usr1"):
            os.kill(os.getpid(), {"kill": signal.SIGKILL, "term": signal.SIGTERM, "usr1": signal.SIGUSR1}[self.action])
        elif self.action == "full":
            if os.environ.get("FERVID_FILLER"):
                fill_disk(os.environ["FERVID_FILLER"])
            else:
                resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        elif self.action == "oom":
            model = pl_module.model

            def forward(*a, **k):
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected by a test)")

            model.forward = forward
        elif self.action == "hold":
            Path(os.environ["FERVID_MARKER"]).write_text(str(os.getpid()))
            time.sleep(60)


def inject(spec: str) -> None:
    """Add a :class:`Fault` (``"ACTION:FOLD:STEP"``) to every Trainer that fervid.train.fold.make_trainer builds."""
    action, fold, step = spec.split(":")
    make_trainer = fold_module.make_trainer
    fold_module.make_trainer = lambda config, fdir, callbacks: make_trainer(
        config, fdir, [*callbacks, Fault(fdir, action, int(fold), int(step))]
    )


if __name__ == "__main__":
    inject(os.environ["FERVID_FAULT"])
    sys.exit(main(sys.argv[1:]))
