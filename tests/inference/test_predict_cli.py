"""`fervid predict` / `fervid export` as a user runs them."""

import csv
import json
import shutil

import pytest

from fervid.cli import main

from .conftest import CLASSES, NO_FACE, SINGLE_FACE

WINDOW_KEYS = {"start_s", "end_s", "face_rate", "label", "probs"}
VIDEO_KEYS = {"video", "fps", "frames", "face_rate", "windows", "label", "probs"}  # --faces largest: as ever
TRACKS_KEYS = {"video", "fps", "frames", "face_rate", "tracks", "dropped_tracks"}  # --faces all (the default)
TRACK_KEYS = {"id", "first_s", "last_s", "face_rate", "windows", "overall"}


def check_windows(windows: list, duration: float) -> None:
    assert windows
    for w in windows:
        assert set(w) == WINDOW_KEYS
        assert 0 <= w["start_s"] < w["end_s"] <= duration + 1e-3
        if w["label"] is None:
            assert w["probs"] is None
        else:
            assert set(w["probs"]) == set(CLASSES) and sum(w["probs"].values()) == pytest.approx(1, abs=1e-4)


def check_schema(doc: dict) -> None:
    assert set(doc) == VIDEO_KEYS
    assert isinstance(doc["video"], str) and isinstance(doc["frames"], int)
    assert doc["fps"] > 0 and 0 <= doc["face_rate"] <= 1
    assert doc["label"] in CLASSES
    assert set(doc["probs"]) == set(CLASSES)
    check_windows(doc["windows"], doc["frames"] / doc["fps"])


def check_tracks_schema(doc: dict) -> None:
    assert set(doc) == TRACKS_KEYS
    assert isinstance(doc["frames"], int) and doc["fps"] > 0 and 0 <= doc["face_rate"] <= 1
    assert doc["tracks"] and [t["id"] for t in doc["tracks"]] == list(range(1, len(doc["tracks"]) + 1))
    for t in doc["tracks"]:
        assert set(t) == TRACK_KEYS and set(t["overall"]) == {"label", "probs"}
        assert 0 <= t["first_s"] < t["last_s"] <= doc["frames"] / doc["fps"] + 1e-3
        check_windows(t["windows"], doc["frames"] / doc["fps"])
        assert all(t["first_s"] - 1e-3 <= w["start_s"] and w["end_s"] <= t["last_s"] + 1e-3 for w in t["windows"])


def test_predict_outputs_and_partial_failure(tmp_path, face_ckpt, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "missing.mp4"
    code = main(
        [
            "predict",
            str(SINGLE_FACE),
            str(NO_FACE),
            str(missing),
            "--checkpoint",
            str(face_ckpt),
            "--json",
            str(out / "pred.json"),
            "--csv",
            str(out / "pred.csv"),
            "--plot",
            str(out / "t.png"),
            "--faces",
            "largest",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1  # some inputs failed, the good one still ran
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 2
    assert any("no_face.mp4: no face" in e for e in errors) and any("missing.mp4" in e for e in errors)
    assert "1 of 3 inputs predicted, 2 failed" in captured.err
    assert "single_face.mp4" in captured.out and "overall:" in captured.out

    doc = json.loads((out / "pred.json").read_text())  # one video predicted: one object
    check_schema(doc)  # --faces largest: the one-face form of earlier versions, exactly
    assert doc["video"].endswith("single_face.mp4") and doc["frames"] == 72
    rows = list(csv.DictReader((out / "pred.csv").open()))
    assert len(rows) == len(doc["windows"])
    assert set(rows[0]) == {"video", "start_s", "end_s", "face_rate", "label"} | {f"p_{c}" for c in CLASSES}
    assert (out / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_folder_of_videos(tmp_path, face_ckpt, capsys):
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(SINGLE_FACE, folder / "a.mp4")
    shutil.copy(SINGLE_FACE, folder / "sub" / "b.MOV")
    (folder / "notes.txt").write_text("not a video")
    code = main(
        [
            "predict",
            str(folder),
            "--checkpoint",
            str(face_ckpt),
            "--json",
            str(tmp_path / "p.json"),
            "--plot",
            str(tmp_path / "plot.png"),
            "--window",
            "16",
            "--stride",
            "16",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    docs = json.loads((tmp_path / "p.json").read_text())
    assert [d["video"].rsplit("/", 1)[-1] for d in docs] == ["a.mp4", "b.MOV"]
    for d in docs:
        check_tracks_schema(d)  # every face, by default
        assert len(d["tracks"]) == 1 and d["tracks"][0]["first_s"] == 0 and d["tracks"][0]["last_s"] == 2.4
        assert len(d["tracks"][0]["windows"]) == 72 // 16 + 1  # 4 windows + one aligned to the end
    assert (tmp_path / "plot-a.png").is_file() and (tmp_path / "plot-b.png").is_file()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_predict_with_a_checkpoint_that_is_not_fervids(tmp_path, content, capsys):
    bad = tmp_path / "other.safetensors"
    bad.write_bytes(content)
    assert main(["predict", str(SINGLE_FACE), "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other.safetensors" in err[0]


def test_export_with_a_missing_checkpoint(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.safetensors"), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert "nope.safetensors: no such checkpoint file" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
