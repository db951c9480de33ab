"""Where a run directory keeps each fold (docs/ARCHITECTURE.md, "Run directory").

One seed (the default, and every run made before seeds existed): ``RUN/fold_XX/``. Several
seeds (``protocol.seeds`` with two or more): ``RUN/seed_S/fold_XX/``, the same fold folder
once per seed. Everything a fold writes (checkpoints, ``result.json``, ``predictions.csv``,
logs) lives in its folder, so folds and seeds trained on different machines merge by copying
folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from fervid.errors import FervidError

_FOLD = re.compile(r"fold_(\d+)")
_SEED = re.compile(r"seed_(\d+)")


def fold_dir(run_dir: Path, fold: int, seed: int | None = None) -> Path:
    """``RUN/fold_XX`` (one seed: ``seed=None``) or ``RUN/seed_S/fold_XX``."""
    base = Path(run_dir) if seed is None else Path(run_dir) / f"seed_{seed}"
    return base / f"fold_{fold:02d}"


def fold_dirs(run_dir: Path) -> list[tuple[int | None, int, Path]]:
    """Existing fold folders as ``(seed or None, fold, path)``, sorted; a run holding both
    layouts is an error (folders of a one-seed and a several-seed run copied together)."""
    run_dir = Path(run_dir)
    found = []
    for path in run_dir.glob("fold_*"):
        if path.is_dir() and (m := _FOLD.fullmatch(path.name)):
            found.append((None, int(m.group(1)), path))
    for path in run_dir.glob("seed_*/fold_*"):
        s, f = _SEED.fullmatch(path.parent.name), _FOLD.fullmatch(path.name)
        if path.is_dir() and s and f:
            found.append((int(s.group(1)), int(f.group(1)), path))
    if len({seed is None for seed, _, _ in found}) > 1:
        raise FervidError(
            f"{run_dir}: holds both fold_XX/ and seed_S/fold_XX/ folders; "
            "folds of a one-seed and a several-seed run are mixed"
        )
    return sorted(found, key=lambda t: (t[0] or 0, t[1]))


def files(run_dir: Path, name: str) -> list[Path]:
    """Every fold's ``name`` (e.g. ``predictions.csv``) that exists, in (seed, fold) order."""
    return [path / name for _, _, path in fold_dirs(run_dir) if (path / name).is_file()]


def run_dir_of(path: Path) -> Path | None:
    """The run directory holding a fold file (``RUN/fold_XX/x`` or ``RUN/seed_S/fold_XX/x``)."""
    for parent in list(Path(path).resolve().parents)[1:3]:
        if (parent / "folds.json").is_file():
            return parent
    return None
