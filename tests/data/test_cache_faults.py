"""A prepared cache under real faults: a full disk while preparing, clips damaged afterwards."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np

from fervid.cli import main
from fervid.data.manifest import ClipRecord
from fervid.data.prepare import prepare
from fervid.data.verify import clip_problem

PREP = ["--format", "oulu", "--detector", "none", "--size", "32", "--workers", "1", "--quiet"]


def same_tree(a: Path, b: Path) -> None:
    """Same files with the same bytes (prepare's own .prepare records aside)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and ".prepare" not in p.parts)
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and ".prepare" not in p.parts)
    assert files and all(filecmp.cmp(a / f, b / f, shallow=False) for f in files)


def test_prepare_on_a_full_disk_is_one_line_and_the_rerun_gives_the_same_cache(tmp_path, layouts, full_disk):
    src = layouts.make_oulu(tmp_path / "src", subjects=("P001", "P002"), n=4)
    prepare(src, tmp_path / "ref", "oulu", size=32, detector="none", progress=False)
    out = full_disk.dir / "out"
    full_disk.fill(leave=4096)  # a clip is 12 KiB: meta.json fits, no clip does
    proc = full_disk.run(["prepare", str(src), str(out), *PREP])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"fervid prepare: error: cannot write {out}")
    assert ("no space left" if full_disk.tmpfs else "file too large") in line and " free of " in line
    full_disk.free()
    again = full_disk.run(["prepare", str(src), str(out), *PREP])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "12 clips written, 0 skipped" in again.stdout
    same_tree(out, tmp_path / "ref")


def test_damaged_clips_stop_train_before_any_step_and_verify_redoes_only_them(tmp_path, layouts, capsys):
    src = layouts.make_oulu(tmp_path / "src", subjects=("P001", "P002", "P003"), n=4)
    out = tmp_path / "out"
    assert main(["prepare", str(src), str(out), *PREP]) == 0
    clips = out / "clips"
    good = {p.name: p.read_bytes() for p in clips.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in clips.iterdir()}
    layouts.truncate(clips / "P002_Fear.npy", keep=0.7)  # cut inside the data
    (clips / "P003_Anger.npy").write_bytes(b"not an array")  # cut inside the header
    (clips / "P001_Surprise.npy").unlink()
    capsys.readouterr()

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("model: {name: c3d}\n")
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--data", str(out), "--run-dir", str(run), "--folds", "3"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "3 of 18 cached clips are unusable" in line
    assert "clips/P002_Fear.npy (truncated: " in line and "clips/P003_Anger.npy (not a .npy array" in line
    assert "clips/P001_Surprise.npy (missing)" in line and f"fervid prepare {out} --verify" in line
    assert not run.exists()  # stopped before writing anything, let alone training

    assert main(["prepare", str(out), "--verify", "--quiet", "--workers", "1"]) == 0
    said = capsys.readouterr().out
    assert "18 cached clips checked, 3 broken" in said and "redid 3 broken clips" in said
    assert {p.name: p.read_bytes() for p in clips.iterdir()} == good
    redone = {name for name, t in mtimes.items() if (clips / name).stat().st_mtime_ns != t}
    assert redone == {"P002_Fear.npy", "P003_Anger.npy", "P001_Surprise.npy"}
    assert main(["prepare", str(out), "--verify"]) == 0
    assert "18 cached clips checked, 0 broken" in capsys.readouterr().out


def test_clip_problem_reads_headers_only(tmp_path):
    path = tmp_path / "c.npy"
    np.save(path, np.zeros((4, 16, 16, 3), np.uint8))
    assert clip_problem(path, size=16) is None
    record = ClipRecord(clip_id="c", subject="s", label="fear", n_frames=5, source="x", face_rate=1.0)
    assert clip_problem(path, record) == "4 frames, the manifest says 5"
    assert clip_problem(path, size=32) == "frames of 16x16, the cache's size is 32"
    np.save(path, np.zeros((4, 16, 16, 3), np.float32))
    assert clip_problem(path).startswith("expected a uint8 (T, H, W, 3) clip, found float32")
    np.save(path, np.zeros((4, 16, 16, 3), np.uint8))
    with open(path, "ab") as f:
        f.write(b"\0")
    assert clip_problem(path) == f"too long: {path.stat().st_size} of {path.stat().st_size - 1} bytes"
