"""FERV39k and MAFW in their released layouts (REFERENCE sources; row formats in the readers'
docstrings): folds, classes by name, and every skip listed, then prepared end to end."""

import csv
import json

import pytest

from fervid.classes import BASIC6
from fervid.data.prepare import prepare
from fervid.data.readers import read_listing
from fervid.errors import FervidError


def _skips(listing):
    return [reason for _, reason in listing.skipped]


@pytest.fixture
def ferv39k(tmp_path, layouts):
    splits = {
        "train": [
            "Interview/Happy/0118,3",
            "Action/Sad/0010,5",
            "Action/Fear/0002,9",
            "Action/Happy/0003,5",
            "Talk/Neutral/0001,4",
        ],
        "test": ["Action/Angry/0001 Angry", "Interview/Happy/0118 Happy", "Crime/Surprise/0007 surprise"],
    }
    frames = [
        "Interview/Happy/0118",
        "Action/Sad/0010",
        "Action/Fear/0002",
        "Action/Happy/0003",
        "Action/Angry/0001",
        "Crime/Surprise/0007",
    ]
    # the archive unpacked inside a folder of its own name, as some copies are
    root = layouts.make_ferv39k(tmp_path / "FERV39k", splits, frames)
    (root / "2_ClipsforFaceCrop").rename(root / "tmp")
    (root / "2_ClipsforFaceCrop").mkdir()
    (root / "tmp").rename(root / "2_ClipsforFaceCrop" / "2_ClipsforFaceCrop")
    return root


def test_ferv39k_split_classes_and_skips(ferv39k):
    listing = read_listing("ferv39k", ferv39k)
    got = {it.clip_id: (it.label, it.fold, it.subject) for it in listing.items}
    assert got == {
        "Interview__Happy__0118": ("happiness", "train", "Interview__Happy__0118"),
        "Action__Sad__0010": ("sadness", "train", "Action__Sad__0010"),
        "Action__Angry__0001": ("anger", "test", "Action__Angry__0001"),
        "Crime__Surprise__0007": ("surprise", "test", "Crime__Surprise__0007"),
    }
    assert listing.classes == [*BASIC6, "neutral"]
    why = _skips(listing)
    assert len(why) == 4
    assert any("'9' is not one of FERV39k's 7 classes" in r for r in why)
    assert any("'5' (Sad) disagrees with the clip's class folder 'Happy'" in r for r in why)
    assert any("no frames folder" in r for r in why)
    assert any("already listed in train_All.csv" in r for r in why)


def test_ferv39k_header_row_and_missing_list(tmp_path, layouts):
    root = layouts.make_ferv39k(
        tmp_path / "f", {"train": ["Talk/Fear/0001,2"], "test": ["Talk/Fear/0002,2"]}, header="path,label"
    )
    assert [it.fold for it in read_listing("ferv39k", root).items] == ["train", "test"]
    (root / "4_setups" / "All_scenes" / "test_All.csv").unlink()
    with pytest.raises(FervidError, match="test_All.csv: FERV39k split file missing"):
        read_listing("ferv39k", root)


@pytest.fixture
def mafw(tmp_path, layouts):
    sets = {
        1: ["00001.mp4 happiness", "00002.mp4 anxiety"],
        2: ["00003.mp4 helplessness", "00001.mp4 happiness"],
        3: ["00004.mp4 love"],
        4: ["00005.mp4 sadness"],
        5: ["00006.mp4 Disappointment", "00007.mp4 7"],
    }
    clips = ["00001.mp4", "00002.mp4", "00003.mp4", "00004.mp4", "00006.mp4", "00007.mp4"]
    return layouts.make_mafw(tmp_path / "MAFW", sets, clips)


def test_mafw_folds_classes_by_name_and_skips(mafw):
    listing = read_listing("mafw", mafw)
    got = {it.clip_id: (it.label, it.fold) for it in listing.items}
    assert got == {
        "00001": ("happiness", "1"),
        "00002": ("anxiety", "1"),
        "00003": ("helplessness", "2"),
        "00006": ("disappointment", "5"),
    }
    assert listing.classes == [*BASIC6, "neutral", "contempt", "anxiety", "helplessness", "disappointment"]
    why = _skips(listing)
    assert len(why) == 4
    assert any("already in the test list of set 1" in r for r in why)
    assert any("'love' is not one of MAFW's 11" in r for r in why) and any("'7' is not one of" in r for r in why)
    assert any("clip not found" in r for r in why)


def _prepared(out):
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    skipped = list(csv.DictReader((out / "skipped.csv").open()))
    return rows, skipped, json.loads((out / "meta.json").read_text())


def test_prepare_ferv39k_and_mafw(ferv39k, mafw, tmp_path):
    prepare(ferv39k, tmp_path / "f", "ferv39k", size=16, detector="none", progress=False)
    rows, skipped, meta = _prepared(tmp_path / "f")
    assert meta["dataset"] == "ferv39k" and meta["classes"] == [*BASIC6, "neutral"]
    assert sorted((r["clip_id"], r["fold"]) for r in rows) == [
        ("Action__Angry__0001", "test"),
        ("Action__Sad__0010", "train"),
        ("Crime__Surprise__0007", "test"),
        ("Interview__Happy__0118", "train"),
    ]
    assert len(skipped) == 4 and all(int(r["n_frames"]) == 3 for r in rows)

    prepare(mafw, tmp_path / "m", "mafw", size=16, detector="none", progress=False)
    rows, skipped, meta = _prepared(tmp_path / "m")
    assert meta["dataset"] == "mafw" and len(meta["classes"]) == 11
    assert {r["clip_id"]: r["fold"] for r in rows} == {"00001": "1", "00002": "1", "00003": "2", "00006": "5"}
    assert len(skipped) == 4
