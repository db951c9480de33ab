"""Fixtures shared by every test folder (session-wide where they are built once)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def multi_face(tmp_path_factory) -> dict[str, Path]:
    """The multi-face test videos (tests/data/multi_face.py: the real single-face video pasted twice
    onto real frames, 320x180), built once: ``{scene: path}``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("multi_face", Path(__file__).parent / "data" / "multi_face.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path_factory.mktemp("multi_face"))


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """A tiny synthetic study in ``fervid demo``'s layout (tests/tiny_study.py); built once."""
    import tiny_study

    return tiny_study.build(tmp_path_factory.mktemp("tiny_study"))


class FullDisk:
    """A folder whose filesystem runs out of space on demand, for commands run as subprocesses.

    Where the test may mount a filesystem (root, as in CI) it is a small tmpfs that
    :meth:`fill` fills with a filler file (writes then fail with ENOSPC) and :meth:`free` empties.
    Elsewhere, or with FERVID_TEST_NO_TMPFS=1, :meth:`fill` caps the file size of the commands
    run afterwards with RLIMIT_FSIZE (Python ignores SIGXFSZ, so writes fail with EFBIG).
    """

    def __init__(self, root: Path, tmpfs: bool) -> None:
        self.dir, self.tmpfs = root, tmpfs
        self.filler = root / ".filler"
        self.limit: int | None = None

    def fill(self, leave: int = 0) -> None:
        """No room left but ``leave`` bytes (tmpfs: rounded to its pages; else the file-size cap)."""
        if not self.tmpfs:
            self.limit = max(1, leave)
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for block in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError:
                pass
        os.close(fd)
        if leave:
            os.truncate(self.filler, max(0, self.filler.stat().st_size - leave))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
        self.limit = None

    def env(self) -> dict:
        """For commands that fill the disk themselves (tests/train/fault_driver.py)."""
        return {"FERVID_FILLER": str(self.filler)} if self.tmpfs else {}

    def run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        """``python -m fervid ARGS`` (or ``python ARGS`` when ARGS[0] is a script) under the limit."""
        limit = self.limit

        def cap() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        cmd = [sys.executable, *([] if args[0].endswith(".py") else ["-m", "fervid"]), *args]
        return subprocess.run(cmd, capture_output=True, text=True, preexec_fn=cap, check=False, **kw)


@pytest.fixture
def full_disk(tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    tmpfs = False
    if os.environ.get("FERVID_TEST_NO_TMPFS") != "1" and os.geteuid() == 0:
        try:
            tmpfs = (
                subprocess.run(
                    ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], capture_output=True, check=False
                ).returncode
                == 0
            )
        except OSError:  # no mount(8) here
            tmpfs = False
    try:
        yield FullDisk(root, tmpfs)
    finally:
        if tmpfs:
            subprocess.run(["umount", "-l", str(root)], check=False)
