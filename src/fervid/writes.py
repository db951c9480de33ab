"""Writing files: atomically, and with one clear line when the disk is full or refuses the write.

Every file that fervid trusts later is written by :func:`atomic_write_bytes`: a temporary file
in the same folder, flushed to disk, then renamed over the target, so a reader (or a later run)
sees the old file or the new one, never a truncated one.

A full disk (``ENOSPC``), an exhausted quota (``EDQUOT``), a file-size limit (``EFBIG``: ``ulimit
-f``, or the largest file of FAT/exFAT) or a refused write (``EACCES``, ``EPERM``, ``EROFS``) is
turned into :class:`WriteFailed`, a :class:`~fervid.errors.FervidError` whose one line names the
path, what was being written and the free space there. :func:`writing` does that for any block
of code; :func:`os_error_line` formats an ``OSError`` caught anywhere else (``fervid.cli`` uses it
for errors raised outside such a block).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from fervid.errors import FervidError

SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
ACCESS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
_PROBLEM = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file-size limit, `ulimit -f`, or the filesystem's largest file)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


class WriteFailed(FervidError):
    """A write refused by the filesystem: no space, quota, size limit, permission, read-only."""


def is_write_error(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in SPACE_ERRNOS | ACCESS_ERRNOS


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def free_space(path: str | os.PathLike) -> str:
    """``"1.2 GiB free of 50.0 GiB"`` on the filesystem of ``path`` (or of its nearest existing parent)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        usage = shutil.disk_usage(p)
    except OSError:
        return "free space unknown"
    return f"{_size(usage.free)} free of {_size(usage.total)}"


def os_error_line(e: OSError, path: str | os.PathLike | None = None, what: str | None = None) -> str:
    """One line for a failed write: path, what was being written, the problem, the free space.

    Without ``path`` or ``what`` (an error caught far from its cause), a permission error is not
    called a write: it may have been a read.
    """
    where = path if path is not None else e.filename
    problem = _PROBLEM.get(e.errno, e.strerror or str(e))
    name = where if where is not None else "(unknown file)"
    if path is None and what is None and e.errno not in SPACE_ERRNOS:
        return f"{name}: {problem}"
    line = f"cannot write {name}" + (f" ({what})" if what else "") + f": {problem}"
    if e.errno in SPACE_ERRNOS and where is not None:
        remedy = "raise the limit or write elsewhere" if e.errno == errno.EFBIG else "free some space"
        line += f"; {free_space(where)} there; {remedy} and run the command again"
    return line


@contextmanager
def writing(what: str | None, path: str | os.PathLike | None = None):
    """Turn a full-disk or refused-write ``OSError`` inside the block into :class:`WriteFailed`.

    ``what`` says what was being written (``"the fold's resumable checkpoint"``); ``path`` is
    named in the line (else the error's own file name: a failed ``write`` carries none).
    """
    try:
        yield
    except OSError as e:
        if not is_write_error(e):
            raise
        raise WriteFailed(os_error_line(e, path, what)) from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, what: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync, rename.

    On failure the target is untouched and the temporary file removed; a full disk or a refused
    write raises :class:`WriteFailed` naming ``path`` (and ``what``, when given).
    """
    path = Path(path)
    with writing(what, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            # mkstemp creates 0600; results and checkpoints should get the usual permissions.
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
