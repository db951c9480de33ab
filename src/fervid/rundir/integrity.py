"""What a report reads is what was scored, on the data the run says: hashes and fingerprints.

Recorded at training time (docs/ARCHITECTURE.md):

- each fold's ``result.json``: ``predictions_sha256``, the SHA-256 of its ``predictions.csv``
  (the metrics are computed from that file, so an edited file no longer matches them), and
  ``data_fingerprint``, that of the prepared data it was trained and scored on;
- ``folds.json``'s ``prepared``: ``fingerprint`` (:func:`data_fingerprint`: every clip's ID,
  subject, label and file content) and ``subject_ids`` (:func:`subject_ids_known`: whether the
  subjects name people, or each clip is its own subject, as the DFEW, FERV39k and MAFW readers
  set them because those datasets publish no identities).

:func:`check_run` checks a run directory's folds against them wherever results are read
(``fervid report``, ``fervid compare``, their HTML pages). A fold whose predictions changed
after its metrics were written, or that was trained on other data than its run, is refused in
one line naming the file; ``force`` turns the refusal into a recorded override. Runs made
before these records existed are read as before, with a note that they could not be checked.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fervid.errors import FervidError

FORCE_HINT = "pass --force to use it anyway (the report then says so)"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(prepared_dir: str | os.PathLike, records, *, threads: int = 4) -> str:
    """SHA-256 over every clip's ``(clip_id, subject, label, SHA-256 of its .npy file)``, in
    clip-ID order: the same for a copy of the prepared data on any machine, different for other
    data under the same IDs (another generator seed, labels edited, a clip re-cut).

    Reads every clip once (hashlib releases the GIL, so ``threads`` files are hashed at once;
    about 1 GB/s per core where the CPU has SHA instructions).
    """
    from concurrent.futures import ThreadPoolExecutor

    root = Path(prepared_dir)
    records = sorted(records, key=lambda r: r.clip_id)
    paths = [root / (r.file or f"clips/{r.clip_id}.npy") for r in records]
    try:
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            digests = list(pool.map(sha256_file, paths))
    except OSError as e:
        raise FervidError(f"{e.filename}: unreadable clip ({e.strerror or e})") from None
    h = hashlib.sha256()
    for r, digest in zip(records, digests):
        h.update(json.dumps([r.clip_id, r.subject, r.label, digest]).encode() + b"\n")
    return h.hexdigest()


def subject_ids_known(pairs: Iterable[tuple[str, str]]) -> bool:
    """Whether ``(clip_id, subject)`` pairs carry real subject identities: False when every clip
    is its own subject (how readers mark data that publish no identities)."""
    return any(str(clip) != str(subject) for clip, subject in pairs)


def check_same_data(folds_path: Path, old: dict, new: dict) -> None:
    """Refuse to train into a run (its folds.json ``old``) from data whose fingerprint differs
    from the one it was trained on (``new``: this training's folds.json document)."""
    was, now = (old.get("prepared") or {}).get("fingerprint"), new["prepared"]["fingerprint"]
    if was and was != now:
        raise FervidError(
            f"{folds_path}: this run was trained on other data (fingerprint {was[:12]}, these are "
            f"{now[:12]}: the same clip IDs with other labels or clip content); use another --run-dir"
        )


@dataclass
class RunChecks:
    """What :func:`check_run` found in one run directory (paths as strings)."""

    force: bool = False
    checked: int = 0  # folds whose predictions hash was verified
    unchecked: list[str] = field(default_factory=list)  # files made before the records existed
    forced: list[str] = field(default_factory=list)  # refusals overridden with force
    missing: list[str] = field(default_factory=list)  # folds with a result but no predictions.csv
    empty: list[str] = field(default_factory=list)  # predictions.csv with a header and no row

    def problem(self, message: str) -> None:
        """Refuse (one line), or with ``force`` record the override."""
        if not self.force:
            raise FervidError(f"{message}; {FORCE_HINT}")
        self.forced.append(message)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("force")
        return out


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def check_run(run_dir: str | os.PathLike, *, force: bool = False) -> RunChecks:
    """Check every finished fold of ``run_dir`` (both layouts, fervid.rundir.layout): its
    ``predictions.csv`` against ``result.json``'s hash, and ``result.json``'s data fingerprint
    against ``folds.json``'s. Refuses (FervidError naming the file) unless ``force``."""
    from fervid.rundir import layout

    run_dir = Path(run_dir)
    checks = RunChecks(force=force)
    try:
        doc = json.loads((run_dir / "folds.json").read_text())
    except (OSError, ValueError):
        doc = {}
    want = (doc.get("prepared") or {}).get("fingerprint") if isinstance(doc, dict) else None
    old_hash, old_data = [], []
    for _, _, fdir in layout.fold_dirs(run_dir):
        result_path, preds = fdir / "result.json", fdir / "predictions.csv"
        if not result_path.is_file():
            continue  # an unfinished fold: result.json is written last
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError) as e:
            raise FervidError(f"{result_path}: unreadable JSON ({e})") from None
        got = result.get("data_fingerprint")
        if got and want and got != want:
            checks.problem(
                f"{result_path}: trained on other data (fingerprint {got[:12]}) than its run's folds.json "
                f"({want[:12]}); this fold comes from a run on another dataset"
            )
        elif not (got and want):
            old_data.append(str(result_path))
        if not preds.is_file():
            checks.missing.append(str(preds))
            continue
        recorded = result.get("predictions_sha256")
        if recorded is None:
            old_hash.append(str(preds))
        elif sha256_file(preds) != recorded:
            checks.problem(
                f"{preds}: changed after its metrics were written (its SHA-256 differs from the one in "
                "result.json); re-score the fold, or restore the file"
            )
        else:
            checks.checked += 1
        if _lines(preds) <= 1:
            checks.empty.append(str(preds))
    if old_hash:
        checks.unchecked.append(f"{len(old_hash)} predictions.csv without a hash in result.json")
    if old_data:
        checks.unchecked.append(f"{len(old_data)} fold result(s) without a data fingerprint to match")
    return checks


def integrity_notes(label: str, checks: dict | None, *, predictions: bool = True) -> list[str]:
    """One-line notes for a report or a comparison: overrides, files not checked and (with
    ``predictions``) predictions missing or empty (``checks``: :meth:`RunChecks.as_dict`, as
    results.json keeps it)."""
    if not checks:
        return [f"{label}: made before fervid recorded prediction hashes and data fingerprints; not checked."]
    notes = []
    if checks.get("forced"):
        notes.append(f"**Warning** ({label}, checks overridden with --force): {' | '.join(checks['forced'])}.")
    if checks.get("unchecked"):
        notes.append(f"{label}: not checked ({'; '.join(checks['unchecked'])}: made before fervid recorded them).")
    for key, what in (("missing", "missing"), ("empty", "empty (a header, no row)")):
        if predictions and checks.get(key):
            notes.append(f"{label}: predictions {what}: {', '.join(checks[key])}.")
    return notes
