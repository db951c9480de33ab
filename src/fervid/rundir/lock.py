"""One writer per run directory: lock files that name their holder.

``fervid train`` holds ``RUN/fold_XX/.lock`` while it trains fold XX, and ``RUN/.lock`` for the
seconds it takes to write the run's own files (``config.yaml``, ``folds.json``, and the report,
which ``fervid report`` and ``compare`` rewrite under the same lock). So two trainings of one
fold are refused, while ``--fold`` runs on several machines that share the run directory each
hold their own fold and take turns on the run files.

A lock is an ``fcntl.flock`` on the lock file, which records the holder (PID, host, start time,
command). The kernel drops a flock when its process dies, so what is left of a killed holder is
the record alone:

- recorded on this host (and no flock held): the process is gone; the lock is taken over with a
  one-line note;
- recorded on another host: fervid cannot see that machine's processes, and some network
  filesystems keep flocks local to each machine, so the lock is refused; the message says which
  file to delete once that process is known to be gone;
- a filesystem without locks (``ENOLCK``): the record alone decides (a live PID on this host
  holds it).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shlex
import socket
import sys
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path

from fervid.errors import FervidError
from fervid.writes import writing

LOCK_NAME = ".lock"
RUN_FILES_WAIT_S = 60.0  # run-level writes take seconds; a longer wait means a stuck holder
log = logging.getLogger(__name__)
_held: dict[str, list] = {}  # lock path -> [fd, depth]: re-entrant within one process


class RunBusy(FervidError):
    """Another process holds the lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _try_flock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: the filesystem has no locks."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return None
        raise


def _read_holder(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 65536, 0)
    except OSError:
        return None
    if not data.strip():
        return None
    try:
        holder = json.loads(data)
    except ValueError:
        return {"pid": None, "host": "?", "started": "?", "command": "(unreadable lock record)"}
    return holder if isinstance(holder, dict) else None


def describe(holder: dict | None) -> str:
    if not holder:
        return "another process (no record)"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('started')} "
        f"(`{holder.get('command')}`)"
    )


def _refuse(path: Path, holder: dict | None, other_host: bool = False) -> RunBusy:
    if other_host:
        return RunBusy(
            f"{path}: locked by {describe(holder)}, on another machine, which fervid cannot check; "
            f"if that process is no longer running, delete {path} and run the command again"
        )
    return RunBusy(f"{path.parent} is in use by {describe(holder)}; wait for it to finish, or stop it")


def _acquire_once(path: Path) -> int:
    """Take the lock at ``path`` or raise :class:`RunBusy`; returns the open, locked descriptor."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            state = _try_flock(fd)
            if state and os.fstat(fd).st_ino != getattr(_stat(path), "st_ino", None):
                os.close(fd)  # its holder released (unlinked) it between our open and flock: again
                continue
            holder = _read_holder(fd)
            here = socket.gethostname()
            if state is False:
                raise _refuse(path, holder)
            if holder:
                pid, host = holder.get("pid"), holder.get("host")
                if host != here:
                    raise _refuse(path, holder, other_host=True)
                if state is None and isinstance(pid, int) and _pid_alive(pid):
                    raise _refuse(path, holder)
                log.warning(f"note: {path}: took over the lock of {describe(holder)}, which is no longer running")
            started = datetime.now().astimezone().isoformat(timespec="seconds")
            record = {"pid": os.getpid(), "host": here, "started": started, "command": shlex.join(sys.argv)}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
            os.fsync(fd)
            return fd
        except BaseException:
            os.close(fd)
            raise


def _stat(path: Path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _release(path: Path, fd: int) -> None:
    try:
        if getattr(_stat(path), "st_ino", None) == os.fstat(fd).st_ino:
            path.unlink()
    finally:
        os.close(fd)  # drops the flock


@contextmanager
def lock_dir(folder: str | os.PathLike, *, wait: float = 0.0):
    """Hold ``folder/.lock`` for the block; wait up to ``wait`` seconds for a live holder.

    Only the main process of a distributed run (``RANK`` 0) takes locks.
    """
    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    folder = Path(folder)
    path = folder / LOCK_NAME
    with writing("the run directory's lock file", path):
        folder.mkdir(parents=True, exist_ok=True)
        key = str(path.resolve())
        if key in _held:
            _held[key][1] += 1
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    _held[key] = [_acquire_once(path), 1]
                    break
                except RunBusy:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.2)
    try:
        yield
    finally:
        entry = _held[key]
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            _release(path, entry[0])


def fold_lock(fdir: str | os.PathLike):
    """A fold folder's lock, refused at once when held (a fold trains in one process)."""
    return lock_dir(fdir)


def run_files_lock(run_dir: str | os.PathLike):
    """The run directory's lock for its own files: held for seconds, so a writer waits its turn."""
    return lock_dir(run_dir, wait=RUN_FILES_WAIT_S) if Path(run_dir).is_dir() else nullcontext()
