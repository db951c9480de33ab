"""``fervid predict --annotate OUT.mp4``: the video back, each face boxed with its ID and label.

Frames are encoded with PyAV: H.264 (``libx264``) where the wheel has it, else MPEG-4 Part 2;
at the input's size (upright, as predicted) and frame timing, the source's audio copied (or,
when the output container cannot hold its codec, re-encoded to AAC). The file is written under a
temporary name in the same folder and renamed when complete, so a stopped run never leaves a
half-written video under the final name.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from fervid.errors import FervidError
from fervid.inference.face_run import Drawn
from fervid.inference.video_prediction import VideoPrediction

FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# One colour per face ID, cycling (matplotlib's tab10, RGB): the same face keeps its colour.
COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def colour(track_id: int) -> tuple[int, int, int]:
    return COLOURS[(track_id - 1) % len(COLOURS)]


def line_width(height: int, width: int) -> int:
    return max(2, round(min(height, width) / 160))


def draw_faces(frame: np.ndarray, faces: list[Drawn]) -> np.ndarray:
    """A copy of ``frame`` (RGB uint8) with each face's box and a tag ``ID label p`` above it."""
    import cv2

    out = np.ascontiguousarray(frame).copy()
    h, w = out.shape[:2]
    thick = line_width(h, w)
    scale = max(0.4, min(h, w) / 720)
    for f in faces:
        x, y, bw, bh = (int(round(v)) for v in f.box)
        c = colour(f.id)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), c, thick)
        text = f"{f.id}: {f.label} {f.prob:.2f}" if f.label is not None else f"{f.id}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, thick // 2))
        ty = y - thick if y - th - base - thick >= 0 else y + bh + th + base + thick  # above, or below at the top
        cv2.rectangle(out, (x, ty - th - base), (x + tw + 2 * thick, ty + base // 2), c, -1)
        cv2.putText(
            out,
            text,
            (x + thick, ty - base // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            max(1, thick // 2),
            cv2.LINE_AA,
        )
    return out


def video_codec() -> str:
    """``libx264`` when this PyAV can encode H.264, else ``mpeg4``."""
    import av

    for name in ("libx264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.FFmpegError, ValueError, KeyError):  # no such encoder in this FFmpeg build
            continue
    raise FervidError("this PyAV build can encode neither H.264 nor MPEG-4 video")


class AnnotatedWriter:
    """Encode frames (and copy audio) to ``path`` through a temporary file; see the module docstring.

    Args:
        path: ``.mp4``, ``.m4v``, ``.mov`` or ``.mkv``.
        width, height: frame size.
        rate: frame rate (a ``Fraction`` keeps e.g. 30000/1001 exact).
        time_base: the source's time base, so that frames keep their own timestamps (``pts``).
        audio: a PyAV audio stream whose packets :meth:`audio` will be given.
    """

    def __init__(self, path, *, width: int, height: int, rate, time_base=None, audio=None):
        import av

        self.path = Path(path)
        fmt = FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise FervidError(f"{path}: an annotated video is written as {', '.join(FORMATS)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            self.out = av.open(self.tmp, "w", format=fmt)
            codec = video_codec()
            rate = Fraction(rate).limit_denominator(1001 * 1000) if rate else Fraction(30)
            self.video = self.out.add_stream(codec, rate=rate)
            self.video.width, self.video.height = int(width), int(height)
            even = width % 2 == 0 and height % 2 == 0
            self.video.pix_fmt = "yuv420p" if even or codec == "mpeg4" else "yuv444p"  # 4:2:0 needs even sides
            if codec == "libx264":
                self.video.options = {"crf": "20", "preset": "veryfast"}
            else:
                self.video.bit_rate = int(width * height * float(rate) * 0.15)
            self.time_base = time_base
            if time_base is not None:
                self.video.time_base = time_base
            self.audio_in, self.audio_out, self.copy_audio = audio, None, False
            if audio is not None:
                self.copy_audio = audio.codec_context.name in self.out.supported_codecs
                if self.copy_audio:
                    self.audio_out = self.out.add_stream_from_template(audio)
                else:
                    self.audio_out = self.out.add_stream("aac", rate=audio.codec_context.sample_rate or 48000)
        except BaseException as e:
            self.abort()
            if isinstance(e, (av.FFmpegError, OSError)):
                raise FervidError(f"{path}: cannot write the annotated video ({e})") from None
            raise
        self.n = 0

    def frame(self, rgb: np.ndarray, pts: int | None = None) -> None:
        import av

        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if pts is not None and self.time_base is not None:
            vf.pts, vf.time_base = pts, self.time_base
        else:
            vf.pts = None
        self._mux(self.video.encode(vf))
        self.n += 1

    def audio(self, packet) -> None:
        if self.audio_out is None or packet.dts is None:  # a demuxer's flush packet
            return
        if self.copy_audio:
            packet.stream = self.audio_out
            self._mux([packet])
        else:
            for frame in packet.decode():
                self._mux(self.audio_out.encode(frame))

    def _mux(self, packets) -> None:
        import av

        try:
            self.out.mux(packets)
        except (av.FFmpegError, OSError) as e:
            self.abort()
            raise FervidError(f"{self.path}: cannot write the annotated video ({e})") from None

    def close(self) -> Path:
        """Flush the encoders and move the finished file to ``path``."""
        self._mux(self.video.encode())
        if self.audio_out is not None and not self.copy_audio:
            self._mux(self.audio_out.encode())
        self.out.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Stop and remove the temporary file (the target is left as it was)."""
        out = getattr(self, "out", None)
        if out is not None:
            try:
                out.close()
            except Exception:  # closing a broken container may fail again: the file is removed anyway
                pass
        Path(self.tmp).unlink(missing_ok=True)


def annotate_video(video: str | os.PathLike, pred: VideoPrediction, out: str | os.PathLike, *, progress=False) -> Path:
    """Write ``video`` to ``out`` with each of ``pred``'s faces boxed and labelled frame by frame.

    A frame shows a face where it was seen, with the label of the window around that frame whose
    centre is nearest (no label where that window had too few face frames). ``progress``: a tqdm
    bar on stderr (when it is a terminal).
    """
    from tqdm import tqdm

    from fervid.data.video import open_video, tag_rotation, upright_rgb

    container, stream = open_video(video)
    audio = container.streams.audio[0] if container.streams.audio else None
    tag = tag_rotation(stream)
    writer: AnnotatedWriter | None = None
    early_audio: list = []  # audio packets met before the first frame fixed the output's size

    def on_audio(packet) -> None:
        if writer is None:
            early_audio.append(packet)
        else:
            writer.audio(packet)

    bar = tqdm(
        total=pred.frames, unit="frame", desc=f"annotating {Path(video).name}", disable=None if progress else True
    )  # None: off when stderr is not a terminal
    try:
        with container:
            for i, frame in enumerate(_frames_and_audio(container, stream, audio, on_audio)):
                rgb, _ = upright_rgb(frame, tag)
                if writer is None:
                    h, w = rgb.shape[:2]
                    rate = stream.average_rate or pred.fps
                    writer = AnnotatedWriter(out, width=w, height=h, rate=rate, time_base=stream.time_base, audio=audio)
                    for packet in early_audio:
                        writer.audio(packet)
                writer.frame(draw_faces(rgb, faces_at(pred, i)), pts=frame.pts)
                bar.update()
        if writer is None:
            raise FervidError(f"{video}: unreadable video (no decodable frames)")
        return writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        bar.close()


def faces_at(pred: VideoPrediction, frame: int) -> list[Drawn]:
    """The faces to draw on ``frame``: where each track saw its face, with its label there."""
    out = []
    for t in pred.tracks:
        box = t.box_at(frame)
        if box is None:
            continue
        w = t.window_at(frame)
        out.append(Drawn(t.id, box, w.label if w else None, w.probs[w.label] if w else None))
    return out


def _frames_and_audio(container, stream, audio, on_audio):
    """The video's frames in the order :func:`~fervid.data.video.decoded_frames` gives them (a packet
    that fails to decode skipped, a demuxer error ending it), each audio packet on the way handed
    to ``on_audio``."""
    import av

    packets = container.demux(*([stream] + ([audio] if audio is not None else [])))
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, OSError, ValueError):
            return
        if packet.stream is audio:
            on_audio(packet)
            continue
        try:
            decoded = packet.decode()
        except (av.FFmpegError, OSError, ValueError):
            continue
        yield from decoded
