"""Checking a prepared cache before it is trusted: every clip file present, whole, of the right kind.

Reads only each ``.npy`` header (a few hundred bytes) and the file size, so a cache of tens of
thousands of clips is checked in seconds, before training spends any time on it. A clip whose
file is shorter than its header says (a copy or a disk that gave out), whose header does not
parse, or whose array is not the uint8 ``(T, H, W, 3)`` clip the manifest describes is listed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fervid.data.manifest import ClipRecord
from fervid.errors import FervidError


def clip_problem(path: Path, record: ClipRecord | None = None, size: int | None = None) -> str | None:
    """What is wrong with the cached clip at ``path`` (``None``: nothing), from its header alone.

    ``record``: its manifest row (frame count checked); ``size``: the cache's crop side.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in read:
                return f"unsupported .npy version {version}"
            shape, fortran, dtype = read[version](f, max_header_size=100_000)
            offset = f.tell()
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    except ValueError as e:  # bad magic or header: not a .npy file, or cut inside the header
        return f"not a .npy array ({str(e).splitlines()[0]})"
    if dtype != np.uint8 or len(shape) != 4 or shape[-1] != 3 or shape[0] == 0 or fortran:
        return f"expected a uint8 (T, H, W, 3) clip, found {dtype} {shape}"
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    actual = os.stat(path).st_size
    if actual != expected:
        return f"{'truncated' if actual < expected else 'too long'}: {actual} of {expected} bytes"
    if record is not None and record.n_frames and shape[0] != record.n_frames:
        return f"{shape[0]} frames, the manifest says {record.n_frames}"
    if size is not None and shape[1:3] != (size, size):
        return f"frames of {shape[2]}x{shape[1]}, the cache's size is {size}"
    return None


def find_bad_clips(
    prepared_dir: str | os.PathLike, records: Iterable[ClipRecord], size: int | None = None
) -> list[tuple[ClipRecord, Path, str]]:
    """``(record, path, problem)`` for every clip of ``records`` that :func:`clip_problem` rejects."""
    root = Path(prepared_dir)
    bad = []
    for r in records:
        path = root / (r.file or f"clips/{r.clip_id}.npy")
        problem = clip_problem(path, r, size)
        if problem is not None:
            bad.append((r, path, problem))
    return bad


def check_clips(prepared_dir: str | os.PathLike, records: list[ClipRecord], size: int | None = None) -> None:
    """Raise one :class:`FervidError` listing every bad clip (all of them, not the first)."""
    bad = find_bad_clips(prepared_dir, records, size)
    if not bad:
        return
    listed = "; ".join(
        f"{path.relative_to(prepared_dir) if path.is_relative_to(prepared_dir) else path} ({problem})"
        for _, path, problem in bad
    )
    raise FervidError(
        f"{prepared_dir}: {len(bad)} of {len(records)} cached clips are unusable: {listed}. "
        f"Redo them with `fervid prepare {prepared_dir} --verify`"
    )


def reprepare_options(meta: dict, fmt: str) -> dict:
    """``prepare`` keyword arguments that redo clips exactly as ``meta.json`` says they were made."""
    import inspect

    from fervid.data.readers import READERS

    module = __import__(f"fervid.data.readers.{READERS[fmt]}", fromlist=["read"])
    accepted = set(inspect.signature(module.read).parameters) - {"src"}
    p = meta.get("preprocess") or {}
    kwargs = {k: p[k] for k in ("detector", "detector_model", "margin", "align", "smoothing") if k in p}
    kwargs["size"] = meta.get("size", p.get("size"))
    # Only the options the reader takes (some record what they found, e.g. DFEW's frame folder).
    kwargs.update({k: v for k, v in (meta.get("options") or {}).items() if k in accepted})
    return kwargs
