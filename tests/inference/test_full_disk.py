"""`fervid predict --json` and `fervid export` on a full disk: one line naming the file, no
traceback, nothing half-written left behind."""

import numpy as np
import pytest

from .conftest import make_checkpoint, write_video

pytestmark = pytest.mark.slow  # subprocesses on a filled disk


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    ckpt = make_checkpoint(tmp / "model.safetensors", preprocess={"detector": "none", "size": 16})
    rng = np.random.default_rng(0)
    video = write_video(tmp / "clip.mp4", [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(10)])
    return ckpt, video


@pytest.mark.parametrize("command", ["predict", "export"])
def test_full_disk_is_one_line_naming_the_file(tiny, full_disk, command):
    ckpt, video = tiny
    if command == "predict":
        out = full_disk.dir / "pred.json"
        args = ["predict", str(video), "--checkpoint", str(ckpt), "--json", str(out), "--quiet"]
        what = "(predictions as JSON)"
    else:
        out = full_disk.dir / "model.onnx"
        args = ["export", str(ckpt), "--onnx", str(out)]
        what = "(the ONNX file)"
    full_disk.fill(leave=64)
    proc = full_disk.run(args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"fervid {command}: error: cannot write {out} {what}: ")
    assert " free of " in line
    assert [p.name for p in full_disk.dir.iterdir() if p != full_disk.filler] == []  # no partial file
