"""`fervid predict --live`: a file replayed at its own pace, an unreachable or dropping stream (all on 127.0.0.1)."""

import http.server
import io
import json
import socket
import threading
import time

import av
import pytest

from fervid.cli import main
from fervid.data.streams import open_source
from fervid.inference.api import load_model
from fervid.inference.live import run_live

from .conftest import decode


@pytest.fixture(scope="module")
def predictor(face_ckpt):
    return load_model(face_ckpt)


@pytest.mark.slow  # plays a video in real time
def test_labels_arrive_while_the_file_plays(predictor, multi_face):
    source = open_source(str(multi_face["side_by_side"]))  # 60 frames at 30 fps, played at that pace: 2 s
    heard = []
    start = time.monotonic()
    result = run_live(source, predictor, on_window=lambda i, w, latency: heard.append((time.monotonic() - start, i, w)))
    elapsed = time.monotonic() - start
    assert result.failure is None and not result.interrupted
    assert result.frames + result.dropped == 60 and elapsed >= 1.9  # it really played at 30 fps
    first, last = heard[0][0], heard[-1][0]
    assert first < 1.0 and last - first > 0.8  # labels came as it played, not all at the end
    assert {i for _, i, _ in heard} == {1, 2}
    assert len(result.latencies) == len(heard) and all(0 < x < elapsed for x in result.latencies)
    for t in result.prediction.tracks:  # what was printed is the whole result
        assert [w for _, i, w in heard if i == t.id] == t.windows


def test_ctrl_c_stops_cleanly_with_the_windows_so_far(predictor, multi_face):
    calls = []

    def on_window(i, w, latency):
        calls.append(w)
        if len(calls) == 3:
            raise KeyboardInterrupt

    result = run_live(open_source(str(multi_face["side_by_side"])), predictor, on_window=on_window)
    assert result.interrupted and result.failure is None
    assert result.frames < 60 and len(calls) > 3  # stopped early; the open windows still labelled
    assert sum(len(t.windows) for t in result.prediction.tracks) == len(calls)


@pytest.mark.slow  # plays a video in real time
def test_cli_live_prints_as_it_goes_and_writes_complete_outputs(tmp_path, face_ckpt, multi_face, capsys):
    out = tmp_path / "out"
    args = ["predict", "--live", str(multi_face["hide_return"]), "--checkpoint", str(face_ckpt)]
    args += ["--json", str(out / "live.json"), "--csv", str(out / "live.csv"), "--annotate", str(out / "live.mp4")]
    assert main(args) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert any("face 1" in line for line in lines) and any("face 2" in line for line in lines)
    assert any("no face" in line and "face 2" in line for line in lines)  # face 2 is hidden for a while
    assert "latency median" in lines[-1] and "(frame arrival to label)" in lines[-1]
    doc = json.loads((out / "live.json").read_text())
    assert [t["id"] for t in doc["tracks"]] == [1, 2]
    n_windows = sum(len(t["windows"]) for t in doc["tracks"])
    assert n_windows == sum(" face " in line and "latency" in line for line in lines[:-1])
    assert len((out / "live.csv").read_text().splitlines()) == n_windows + 1
    frames = decode(out / "live.mp4")
    assert len(frames) == doc["frames"] and frames[0].shape == (180, 320, 3)  # every frame it saw, recorded


def test_an_unreachable_stream_is_one_line(face_ckpt, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/stream.ts"
    assert main(["predict", "--live", url, "--checkpoint", str(face_ckpt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and url in err[0] and "cannot open stream" in err[0]


def test_a_stream_that_drops_keeps_what_it_wrote(tmp_path, face_ckpt, multi_face, capsys):
    buf = io.BytesIO()  # side_by_side as an MPEG-TS stream, served by a local server that hangs up half-way
    with av.open(str(multi_face["side_by_side"])) as src, av.open(buf, "w", format="mpegts") as ts:
        stream = ts.add_stream("mpeg2video", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for frame in src.decode(video=0):
            ts.mux(stream.encode(frame))
        ts.mux(stream.encode())
    data = buf.getvalue()

    class HangUp(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) * 2 // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HangUp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/live.ts"
        code = main(["predict", "--live", url, "--checkpoint", str(face_ckpt), "--json", str(tmp_path / "p.json")])
    finally:
        server.shutdown()
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert code == 1 and len(errors) == 1 and "stream dropped" in errors[0] and url in errors[0]
    doc = json.loads((tmp_path / "p.json").read_text())  # what was seen before the drop, complete
    assert 0 < doc["frames"] < 60 and doc["tracks"] and all(t["windows"] for t in doc["tracks"])
