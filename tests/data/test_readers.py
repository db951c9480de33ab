"""Readers on small trees built in each dataset's real layout (see conftest.py), mess included."""

import pytest

from fervid.classes import BASIC6
from fervid.data.readers import read_listing
from fervid.errors import FervidError


def reasons(listing):
    return {str(item).split("/")[-1]: reason for item, reason in listing.skipped}


# --- Oulu-CASIA: OriginalImg/{VL,NI}/{Strong,Weak,Dark}/P001/<Expression>/000.jpeg ---------------


@pytest.fixture
def oulu(tmp_path, layouts):
    strong = layouts.make_oulu(tmp_path / "release", n=3)
    layouts.make_oulu(tmp_path / "release", subjects=("P001",), n=2, illumination="Weak")
    layouts.make_oulu(tmp_path / "release", subjects=("P001",), n=2, modality="NI")
    (strong / ".DS_Store").write_bytes(b"\x00")
    (strong / "P002" / "Thumbs.db").write_bytes(b"\x00")
    layouts.write_frames(strong / "P002" / "Neutral", 2)  # not one of the six expressions
    (strong / "notes").mkdir()
    return tmp_path / "release", strong


@pytest.mark.parametrize(
    "level",
    [
        "",
        "B_OriginalImg",
        "B_OriginalImg/OriginalImg",
        "B_OriginalImg/OriginalImg/VL",
        "B_OriginalImg/OriginalImg/VL/Strong",
    ],
)
def test_oulu_src_at_any_level(oulu, level):
    root, _ = oulu
    listing = read_listing("oulu", root / level if level else root)
    assert len(listing.items) == 3 * 6
    assert listing.classes == list(BASIC6)
    assert listing.options == {"modality": "VL", "illumination": "Strong", "variant": "original"}
    assert {it.subject for it in listing.items} == {"P001", "P002", "P003"}
    first = listing.items[0]
    assert (first.clip_id, first.subject, first.label) == ("P001_Anger", "P001", "anger")
    r = reasons(listing)
    assert "not in the protocol" in r["Neutral"]
    assert r[".DS_Store"].startswith("excluded") and r["Thumbs.db"].startswith("excluded")
    assert "not a subject folder" in r["notes"]


def test_oulu_modality_and_illumination_options(oulu):
    root, _ = oulu
    assert len(read_listing("oulu", root, illumination="Weak").items) == 6
    ni = read_listing("oulu", root, modality="NI")
    assert len(ni.items) == 6 and ni.options["modality"] == "NI"
    assert len(read_listing("oulu", root / "B_OriginalImg/OriginalImg/VL/Strong/P003").items) == 6
    with pytest.raises(FervidError, match="Strong"):
        read_listing("oulu", root / "B_OriginalImg/OriginalImg/VL/Strong", illumination="Weak")
    with pytest.raises(FervidError, match="Dark"):
        read_listing("oulu", root, illumination="Dark")


def test_oulu_cropped_variant(oulu, layouts):
    root, _ = oulu
    layouts.make_oulu(root, subjects=("P001", "P002"), n=2, cropped=True)
    assert read_listing("oulu", root).options["variant"] == "original"  # original preferred when both exist
    cropped = read_listing("oulu", root, variant="cropped")
    assert len(cropped.items) == 12 and cropped.options["variant"] == "cropped"
    assert len(read_listing("oulu", root / "PreProcess_Img").items) == 12


# --- CK+: cohn-kanade-images/S005/001/*.png + Emotion/S005/001/*_emotion.txt ----------------------


@pytest.fixture
def ckplus(tmp_path, layouts):
    root = layouts.make_ckplus(
        tmp_path / "CK+",
        {
            ("S005", "001"): 3.0,
            ("S005", "002"): None,
            ("S010", "004"): 2.0,
            ("S010", "006"): 5.0,
            ("S011", "001"): 0.0,
            ("S014", "002"): 7.0,
        },
    )
    (root / "Emotion" / "S099" / "001").mkdir(parents=True)
    (root / "Emotion" / "S099" / "001" / "S099_001_00000009_emotion.txt").write_text("4.0\n")
    (root / "cohn-kanade-images" / ".DS_Store").write_bytes(b"")
    return root


def test_ckplus_labels_by_name_with_contempt(ckplus):
    listing = read_listing("ckplus", ckplus)
    assert listing.classes == [*BASIC6, "contempt"]
    got = {it.clip_id: (it.subject, it.label) for it in listing.items}
    assert got == {
        "S005_001": ("S005", "disgust"),
        "S010_004": ("S010", "contempt"),
        "S010_006": ("S010", "happiness"),
        "S014_002": ("S014", "surprise"),
    }
    r = {str(i): why for i, why in listing.skipped}
    assert any(k.endswith("S005/002") and v.startswith("excluded: no emotion label") for k, v in r.items())
    assert any(k.endswith("S011/001") and "neutral" in v and "protocol" in v for k, v in r.items())
    assert any(k.endswith("_emotion.txt") and "without an image sequence" in v for k, v in r.items())


def test_ckplus_no_contempt(ckplus):
    listing = read_listing("ckplus", ckplus, contempt=False)
    assert listing.classes == list(BASIC6)
    assert "S010_004" not in {it.clip_id for it in listing.items}
    assert any(why == "excluded: contempt (--no-contempt)" for _, why in listing.skipped)


# --- DFEW: EmoLabel_DataSplit/test(single-labeled)/set_k.csv + Clip/clip_224x224/00001/ -----------


def test_dfew_folds_and_codes(tmp_path, layouts):
    root = layouts.make_dfew(tmp_path / "DFEW", {1: [(1, 1), (2, 3)], 2: [(3, 7), (4, 9)], 5: [(12, 4)]})
    import shutil

    shutil.rmtree(root / "Clip" / "clip_224x224" / "00012")
    listing = read_listing("dfew", root)
    got = {it.clip_id: (it.label, it.fold, it.subject) for it in listing.items}
    assert got == {
        "00001": ("happiness", "1", "00001"),
        "00002": ("neutral", "1", "00002"),
        "00003": ("fear", "2", "00003"),
    }
    assert listing.classes == [*BASIC6, "neutral"]
    why = [r for _, r in listing.skipped]
    assert any("'9' not in the protocol" in r for r in why) and any("no frames folder" in r for r in why)


def test_dfew_missing_split_file(tmp_path, layouts):
    root = layouts.make_dfew(tmp_path / "DFEW", {1: [(1, 1)]})
    (root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_3.csv").unlink()
    with pytest.raises(FervidError, match="set_3.csv"):
        read_listing("dfew", root)


# --- folders: SRC/<class>/<video or frame folder> -----------------------------------------------


def test_folders_videos_frame_folders_and_subject_regex(tmp_path, layouts):
    root = tmp_path / "mine"
    layouts.write_video(root / "Happy" / "sub01_take1.mp4", 3)
    layouts.write_frames(root / "happy" / "sub02_take1", 3)
    layouts.write_video(root / "Angry" / "sub01_take2.avi", 3)
    (root / "Angry" / "readme.txt").write_text("x")
    (root / "Angry" / "still.jpg").write_bytes(b"")
    (root / "index.csv").write_text("x")
    (root / "Angry" / ".DS_Store").write_bytes(b"")
    listing = read_listing("folders", root, subject_regex=r"(sub\d+)")
    got = {it.clip_id: (it.label, it.subject) for it in listing.items}
    assert got == {
        "Angry__sub01_take2": ("anger", "sub01"),
        "Happy__sub01_take1": ("happiness", "sub01"),
        "happy__sub02_take1": ("happiness", "sub02"),
    }
    assert listing.classes == ["anger", "happiness"]
    r = reasons(listing)
    assert "not a video" in r["readme.txt"] and "single image" in r["still.jpg"]
    assert "class folder" in r["index.csv"] and r[".DS_Store"].startswith("excluded")
    alone = read_listing("folders", root)
    assert len({it.subject for it in alone.items}) == 3  # each video its own subject
    nomatch = read_listing("folders", root, subject_regex=r"person(\d+)")
    assert not nomatch.items and sum("does not match" in why for _, why in nomatch.skipped) == 3


def test_folders_refuse_numeric_class_codes(tmp_path, layouts):
    layouts.write_frames(tmp_path / "d" / "3" / "clip", 2)
    with pytest.raises(FervidError, match="numeric"):
        read_listing("folders", tmp_path / "d")


# --- csv: path,label[,subject][,fold] relative to the CSV ----------------------------------------


def test_csv_list_with_and_without_header(tmp_path, layouts):
    layouts.write_frames(tmp_path / "clips" / "Interview" / "Happy" / "0118", 3)
    layouts.write_video(tmp_path / "clips" / "v2.mp4", 3)
    (tmp_path / "a.csv").write_text(
        "label,path,subject,fold\nHappy,clips/Interview/Happy/0118,s1,1\nsad,clips/v2.mp4,s2,2\nsad,clips/gone,s3,1\n"
    )
    listing = read_listing("csv", tmp_path / "a.csv")
    got = {it.clip_id: (it.label, it.subject, it.fold) for it in listing.items}
    assert got == {"clips__Interview__Happy__0118": ("happiness", "s1", "1"), "clips__v2": ("sadness", "s2", "2")}
    assert listing.skipped and "not found" in listing.skipped[0][1]
    (tmp_path / "b.csv").write_text("clips/v2.mp4,Surprised\n")
    one = read_listing("csv", tmp_path / "b.csv").items[0]
    assert (one.label, one.subject, one.fold) == ("surprise", "clips__v2", "")
    (tmp_path / "c.csv").write_text("clips/v2.mp4,3\n")
    with pytest.raises(FervidError, match="numeric"):
        read_listing("csv", tmp_path / "c.csv")


def test_unknown_format_and_options(tmp_path):
    with pytest.raises(FervidError, match="unknown dataset format"):
        read_listing("affectnet", tmp_path)
    with pytest.raises(FervidError, match="takes no option"):
        read_listing("dfew", tmp_path, modality="VL")
