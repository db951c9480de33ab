"""Weights files on disk: where the caches are, what a file must hash to, and atomic downloads.

Whenever a file's SHA-256 is known it is checked before the file is used, whether it was cached,
downloaded or given as a path. A hash is known from (first match wins):

- a registered entry's ``sha256`` (``fervid.hub.fetch`` passes it in);
- torchvision's file-name convention ``<name>-<first 8+ hex digits of the SHA-256>.<ext>``
  (``resnet50-0676ba61.pth``; torch.hub's ``check_hash`` reads the same part);
- a Hugging Face cache blob, which the hub names by its full SHA-256 (``blobs/<sha256>``; the
  snapshot entry is a link to it).

A file is hashed once per process: :func:`file_sha256` remembers the digest under the file's
resolved path, size and modification time, so loading the same weights again costs a ``stat``.

Downloads (:func:`download`) go to ``<final name>.<random>.partial`` in the cache directory, are
checked against the server's Content-Length and the known hash, and only then renamed to the final
name: an interrupted or corrupted download leaves nothing under the final name, so the next run
fetches it again. ``torch.hub.download_url_to_file`` writes a temporary file too, but it moves a
short file into place when the server closes the connection early (it never compares the
Content-Length), which is how a cut connection used to leave half a file in the cache for good.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import uuid
from pathlib import Path

_HEX_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.")  # torchvision's "<name>-<sha256 prefix>.<ext>"
_BLOB_NAME = re.compile(r"[0-9a-f]{64}")  # the Hugging Face cache's blobs/<sha256>
_CHUNK = 1 << 20
_DIGESTS: dict[tuple[str, int, int], str] = {}  # (resolved path, size, mtime_ns) -> SHA-256 hex


class Unavailable(Exception):
    """A source that cannot be reached, or a file not in the cache while offline (one-line reason)."""


class Refused(Exception):
    """A file that fails its hash or length check (one-line reason)."""


def offline() -> bool:
    """``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set: every source is read from the caches only."""
    return any(
        os.environ.get(v, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def torch_hub_checkpoints() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_cache_dir() -> Path:
    # Read now, not when huggingface_hub was imported, so HF_HOME set later still counts.
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def first_line(e: BaseException) -> str:
    text = str(getattr(e, "reason", None) or e).strip()
    return (text.splitlines() or [type(e).__name__])[0]


def name_hash(file_name: str) -> str | None:
    """The SHA-256 prefix in a torchvision-style file name (``resnet50-0676ba61.pth``), if any."""
    m = _HEX_IN_NAME.search(file_name)
    return m.group(1) if m else None


def known_hash(path: Path, registered: str | None = None) -> tuple[str, str] | None:
    """``(expected SHA-256 or its prefix, where that comes from)`` for ``path``, or ``None``."""
    if registered:
        return registered.lower(), "the registered SHA-256"
    if prefix := name_hash(path.name):
        return prefix, f"the hash prefix in its name (torchvision's convention, {path.name})"
    target = path.resolve()
    if _BLOB_NAME.fullmatch(target.name):
        return target.name, "the Hugging Face cache's blob name"
    return None


def file_sha256(path: Path) -> str:
    """The file's SHA-256, computed once per process for each (path, size, mtime)."""
    target = path.resolve()
    st = target.stat()
    key = (str(target), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(target, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def _remember(path: Path, digest: str) -> None:
    st = path.stat()
    _DIGESTS[(str(path.resolve()), st.st_size, st.st_mtime_ns)] = digest


def mismatch(path: Path, registered: str | None = None) -> str | None:
    """``None`` when ``path`` has no known hash or matches it; else a one-line description."""
    known = known_hash(path, registered)
    if known is None:
        return None
    expected, why = known
    actual = file_sha256(path)
    if actual.startswith(expected):
        return None
    shown = expected if len(expected) <= 16 else expected[:16] + "…"
    return f"{path} fails its SHA-256 check: expected {shown} ({why}), got {actual[:16]}…"


def download(url: str, dst: Path, *, sha256: str | None, progress: bool = True) -> None:
    """Fetch ``url`` into ``dst`` atomically (module docstring); ``sha256`` may be a prefix.

    Raises :class:`Unavailable` (unreachable, cut short) or :class:`Refused` (wrong hash); in
    both cases nothing is left under ``dst`` and no partial file stays beside it.
    """
    import http.client
    import urllib.error
    from urllib.request import Request, urlopen

    from tqdm import tqdm

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}.{uuid.uuid4().hex}.partial")
    digest, received = hashlib.sha256(), 0
    try:
        with urlopen(Request(url, headers={"User-Agent": "fervid"}), timeout=60) as response, open(tmp, "wb") as f:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=not progress):
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
        if total is not None and received != total:
            raise Unavailable(
                f"the download from {url} stopped after {received:,} of {total:,} bytes; nothing was cached"
            )
        if sha256 and not digest.hexdigest().startswith(sha256.lower()):
            raise Refused(
                f"the download from {url} fails its SHA-256 check (expected {sha256[:16]}, got "
                f"{digest.hexdigest()[:16]}…); nothing was cached"
            )
        os.replace(tmp, dst)
        _remember(dst, digest.hexdigest())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        if received:
            raise Unavailable(f"cut off after {received:,} bytes ({first_line(e)}); nothing was cached") from None
        raise Unavailable(first_line(e)) from None
    finally:
        tmp.unlink(missing_ok=True)


def url_file(url: str, cache_name: str, sha256: str | None, *, download_ok: bool, fix: str) -> Path:
    """The torch.hub cache's ``cache_name``, checked when its hash is known; downloaded when it is
    missing, or when it fails its check and we are online (then it is replaced)."""
    dst = torch_hub_checkpoints() / cache_name
    sha256 = sha256 or name_hash(cache_name)  # as torch.hub's check_hash does
    if dst.is_file():
        bad = mismatch(dst, sha256)
        if bad is None:
            return dst
        if not download_ok or offline():
            raise Refused(f"{bad}; {fix}")
        dst.unlink()  # online: replaced by a fresh download below
    elif not download_ok or offline():
        raise Unavailable(f"{dst.name} is not in {dst.parent}" + ("; HF_HUB_OFFLINE is set" if offline() else ""))
    download(url, dst, sha256=sha256)
    return dst
