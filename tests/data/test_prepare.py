"""`fervid prepare` end to end on small messy trees: manifest, clips, skips, resume, --strict."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fervid.classes import BASIC6
from fervid.cli import main
from fervid.data import prepare as prepare_mod
from fervid.data.faces import FaceCropper
from fervid.data.manifest import MANIFEST_COLUMNS, read_manifest, read_meta
from fervid.data.prepare import prepare
from fervid.data.video import read_video
from fervid.errors import FervidError

DATA = Path(__file__).parent


def skipped_rows(out):
    with open(out / "skipped.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def messy_oulu(tmp_path, layouts):
    strong = layouts.make_oulu(tmp_path / "src", n=5)
    layouts.truncate(strong / "P001" / "Anger" / "002.jpeg")  # one bad frame in a good sequence
    for p in (strong / "P002" / "Fear").iterdir():
        p.unlink()  # an empty sequence folder ...
    (strong / "P002" / "Fear" / ".DS_Store").write_bytes(b"")  # ... holding only OS litter
    happy = strong / "P003" / "Happiness"
    for p in happy.iterdir():
        p.unlink()
    layouts.write_frames(happy, 12, pattern="{}.jpeg")  # 1.jpeg, 10.jpeg, 11.jpeg, 2.jpeg ... as strings
    (strong / "P003" / "Sadness" / "Thumbs.db").write_bytes(b"")
    layouts.write_frames(strong / "P001" / "Contempt", 3)  # not an Oulu-CASIA class
    return tmp_path / "src"


def test_prepare_oulu_messy_tree(messy_oulu, tmp_path, layouts):
    out = tmp_path / "out"
    summary = prepare(messy_oulu, out, "oulu", size=16, detector="none", progress=False)
    assert summary.line == f"17 clips written, 2 skipped (see {out / 'skipped.csv'})"
    assert summary.dropped_frames == 1 and summary.processed == 18

    meta = read_meta(out)
    assert meta["classes"] == list(BASIC6) and meta["size"] == 16
    assert meta["preprocess"] == FaceCropper(detector="none", size=16).config
    assert FaceCropper.from_config(meta["preprocess"]).config == meta["preprocess"]

    header = (out / "manifest.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == MANIFEST_COLUMNS
    records = {r.clip_id: r for r in read_manifest(out)}
    assert len(records) == 17 and "P002_Fear" not in records
    assert {r.subject for r in records.values()} == {"P001", "P002", "P003"}
    assert records["P002_Sadness"].label == "sadness" and records["P002_Sadness"].face_rate == 1.0
    anger = records["P001_Anger"]
    assert (anger.n_frames, anger.dropped_frames) == (4, 1)
    clip = np.load(out / anger.file)
    assert clip.shape == (4, 16, 16, 3) and clip.dtype == np.uint8
    assert layouts.brightness(clip) == [0, 1, 3, 4]
    happy = np.load(out / records["P003_Happiness"].file)
    assert layouts.brightness(happy) == list(range(12))  # numeric, not string, order

    why = {Path(r["item"]).parts[-2:]: r["reason"] for r in skipped_rows(out)}
    assert why[("P002", "Fear")] == "empty sequence folder (no frames)"
    assert "not in the protocol" in why[("P001", "Contempt")]
    assert why[("Fear", ".DS_Store")].startswith("excluded") and why[("Sadness", "Thumbs.db")].startswith("excluded")


def test_resume_redoes_nothing_and_survives_interruption(messy_oulu, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = prepare_mod.process_item
    calls = []

    def interrupted(item, out_dir, cropper):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(item.clip_id)
        return real(item, out_dir, cropper)

    monkeypatch.setattr(prepare_mod, "process_item", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(messy_oulu, out, "oulu", size=16, detector="none", progress=False)
    assert [r.clip_id for r in read_manifest(out)] == calls  # finished clips are kept and listed

    monkeypatch.setattr(prepare_mod, "process_item", real)
    first = prepare(messy_oulu, out, "oulu", size=16, detector="none", progress=False)
    assert first.processed == 18 - 5 and first.written == 17
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "clips").iterdir()}
    again = prepare(messy_oulu, out, "oulu", size=16, detector="none", progress=False)
    assert again.processed == 0 and again.line == first.line
    assert {p.name: p.stat().st_mtime_ns for p in (out / "clips").iterdir()} == mtimes
    (out / "clips" / "P003_Anger.npy").unlink()
    assert prepare(messy_oulu, out, "oulu", size=16, detector="none", progress=False).processed == 1

    with pytest.raises(FervidError, match="different preprocess"):
        prepare(messy_oulu, out, "oulu", size=32, detector="none", progress=False)


def test_two_workers_give_the_same_result(messy_oulu, tmp_path):
    one = prepare(messy_oulu, tmp_path / "w1", "oulu", size=16, detector="none", progress=False)
    two = prepare(messy_oulu, tmp_path / "w2", "oulu", size=16, detector="none", workers=2, progress=False)
    assert one.line.split(" (")[0] == two.line.split(" (")[0]
    assert (tmp_path / "w1" / "manifest.csv").read_text() == (tmp_path / "w2" / "manifest.csv").read_text()
    for r in read_manifest(tmp_path / "w1"):
        assert np.array_equal(np.load(tmp_path / "w1" / r.file), np.load(tmp_path / "w2" / r.file))


def _short_video(src: Path, dst: Path, n: int, width: int) -> Path:
    """The first ``n`` frames of a real video, downscaled, re-encoded (keeps Haar tests fast)."""
    import av

    frames = read_video(src, max_frames=n).frames
    h = round(frames[0].shape[0] * width / frames[0].shape[1]) // 2 * 2
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(dst), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = width, h, "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(cv2.resize(f, (width, h)), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return dst


def test_haar_folders_with_real_faces_no_face_and_broken_video(tmp_path, capsys):
    src = tmp_path / "src"
    _short_video(DATA / "single_face.mp4", src / "happy" / "face.mp4", 8, 320)
    _short_video(DATA / "no_face.mp4", src / "happy" / "wall.mp4", 8, 320)
    (src / "sad").mkdir()
    (src / "sad" / "broken.mp4").write_bytes(b"\x00" * 300)
    out = tmp_path / "out"
    argv = ["prepare", str(src), str(out), "--format", "folders", "--size", "32", "--workers", "1", "--quiet"]
    assert main(argv + ["--strict"]) == 1
    assert f"1 clips written, 2 skipped (see {out / 'skipped.csv'})" in capsys.readouterr().out
    (rec,) = read_manifest(out)
    assert rec.clip_id == "happy__face" and rec.face_rate >= 0.75 and rec.label == "happiness"
    why = {Path(r["item"]).name: r["reason"] for r in skipped_rows(out)}
    assert why["wall.mp4"] == "no face found in any of 8 frames"
    assert why["broken.mp4"].startswith("unreadable video")
    assert read_meta(out)["preprocess"]["detector"] == "haar"


def test_cli_strict_exit_codes(tmp_path, layouts, capsys):
    src = layouts.make_oulu(tmp_path / "src", subjects=("P001",), n=3)
    argv = [
        "prepare",
        str(src),
        str(tmp_path / "out"),
        "--format",
        "oulu",
        "--detector",
        "none",
        "--size",
        "16",
        "--workers",
        "1",
        "--strict",
        "--quiet",
    ]
    assert main(argv) == 0
    assert "6 clips written, 0 skipped" in capsys.readouterr().out
    layouts.write_frames(src / "P001" / "Neutral", 2)
    assert main(argv) == 1
    assert main(argv[:-2] + ["--no-contempt"]) == 2  # a CK+ option with --format oulu
    assert "applies to --format ckplus only" in capsys.readouterr().err
    with pytest.raises(FervidError, match="--strict"):
        prepare(src, tmp_path / "out", "oulu", size=16, detector="none", strict=True, progress=False)


def test_out_must_be_new_or_prepared(tmp_path, layouts):
    src = layouts.make_oulu(tmp_path / "src", subjects=("P001",), n=2)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("x")
    with pytest.raises(FervidError, match="not empty"):
        prepare(src, tmp_path / "busy", "oulu", detector="none", progress=False)


def test_ckplus_dfew_csv_end_to_end(tmp_path, layouts):
    ck = layouts.make_ckplus(tmp_path / "ck", {("S005", "001"): 3.0, ("S010", "002"): 2.0, ("S011", "001"): None})
    s = prepare(ck, tmp_path / "o1", "ckplus", size=16, detector="none", contempt=False, progress=False)
    assert (s.written, s.skipped, s.excluded) == (1, 0, 2)
    assert read_meta(tmp_path / "o1")["classes"] == list(BASIC6)
    assert np.load(tmp_path / "o1" / "clips" / "S005_001.npy").shape == (4, 16, 16, 3)  # grayscale PNG -> RGB

    dfew = layouts.make_dfew(tmp_path / "dfew", {k: [(k, k)] for k in range(1, 6)})
    prepare(dfew, tmp_path / "o2", "dfew", size=16, detector="none", progress=False)
    assert [(r.clip_id, r.fold) for r in read_manifest(tmp_path / "o2")] == [(f"{k:05d}", str(k)) for k in range(1, 6)]

    layouts.write_frames(tmp_path / "list" / "a", 3)
    (tmp_path / "list" / "clips.csv").write_text("path,label,subject,fold\na,Fear,s1,train\n")
    prepare(tmp_path / "list" / "clips.csv", tmp_path / "o3", "csv", size=16, detector="none", progress=False)
    (r,) = read_manifest(tmp_path / "o3")
    assert (r.label, r.subject, r.fold, r.n_frames) == ("fear", "s1", "train", 3)
    assert json.loads((tmp_path / "o3" / "meta.json").read_text())["format"] == "fervid-prepared/1"
