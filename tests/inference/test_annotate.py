"""`fervid predict --annotate`: the video back with each face boxed, labelled, written atomically."""

import av
import numpy as np
import pytest

from fervid.cli import main
from fervid.inference.annotate import annotate_video, colour, line_width
from fervid.inference.api import load_model

from .conftest import SINGLE_FACE, decode


def stream_counts(path):
    """Decoded video frames, and (codec, packets) of each audio stream."""
    with av.open(str(path)) as c:
        video = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        audio = [(s.codec_context.name, sum(1 for p in c.demux(s) if p.size)) for s in c.streams.audio]
    return video, audio


def test_annotated_video_has_the_inputs_frames_and_a_box_where_each_track_is(tmp_path, face_ckpt, multi_face):
    video = multi_face["side_by_side"]
    pred = load_model(face_ckpt).predict(video)
    out = annotate_video(video, pred, tmp_path / "annotated.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4"]  # the temporary file is gone
    frames, source = decode(out), decode(video)
    assert len(frames) == len(source) == 60 and frames[0].shape == source[0].shape == (180, 320, 3)
    thick = line_width(180, 320)
    for f in (5, 30, 55):
        for t in pred.tracks:
            x, y, w, h = (int(round(v)) for v in t.box_at(f))
            edge = frames[f][y + h // 4 : y + 3 * h // 4, x : x + thick].reshape(-1, 3).mean(axis=0)  # left side
            before = source[f][y + h // 4 : y + 3 * h // 4, x : x + thick].reshape(-1, 3).mean(axis=0)
            assert np.abs(edge - colour(t.id)).max() < 40, (f, t.id, edge)  # the track's colour, after H.264
            assert np.abs(before - colour(t.id)).max() > 40  # and not there in the input
            inside = frames[f][y + h // 2, x + w // 2].astype(int) - source[f][y + h // 2, x + w // 2]
            assert np.abs(inside).max() < 40  # the face itself is left alone


def test_cli_annotates_each_video_and_copies_the_audio(tmp_path, face_ckpt, multi_face, capsys):
    out = tmp_path / "ann.mp4"
    args = ["predict", str(multi_face["side_by_side"]), str(SINGLE_FACE), "--checkpoint", str(face_ckpt)]
    assert main(args + ["--annotate", str(out), "--quiet"]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ann-side_by_side.mp4", "ann-single_face.mp4"]
    assert stream_counts(tmp_path / "ann-side_by_side.mp4") == (60, [])
    frames, audio = stream_counts(tmp_path / "ann-single_face.mp4")
    assert (frames, audio) == stream_counts(SINGLE_FACE)  # every frame, and the mp3 audio copied packet for packet
    assert audio and audio[0][1] > 0


def test_annotate_to_an_unsupported_container_is_one_line(tmp_path, face_ckpt, capsys):
    code = main(["predict", str(SINGLE_FACE), "--checkpoint", str(face_ckpt), "--annotate", str(tmp_path / "a.avi")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "a.avi: an annotated video is written as .mp4" in err[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_writer_falls_back_to_mpeg4(tmp_path, monkeypatch, codec):
    from fervid.inference import annotate

    monkeypatch.setattr(annotate, "video_codec", lambda: codec)
    w = annotate.AnnotatedWriter(tmp_path / "x.mp4", width=64, height=48, rate=25)
    for i in range(5):
        w.frame(np.full((48, 64, 3), 40 * i, np.uint8))
    w.close()
    with av.open(str(tmp_path / "x.mp4")) as c:
        assert c.streams.video[0].codec_context.name == ("h264" if codec == "libx264" else "mpeg4")
        assert sum(1 for _ in c.decode(video=0)) == 5
