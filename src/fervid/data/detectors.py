"""Face detectors: each finds boxes ``(x, y, w, h, score)`` in one RGB frame.

``haar`` (OpenCV's frontal-face cascade, the default), ``none`` (pre-cropped data: the whole
frame is the face) and ``yunet`` (OpenCV's ``FaceDetectorYN`` from an ONNX file).
:func:`fast_scale` is how far a frame can be shrunk before detection while the smallest face the
detector is meant to find stays findable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from fervid.errors import FervidError
from fervid.hub import fetch_weights, get_weights, verify_path
from fervid.hub.detectors import YUNET

Box = tuple  # (x, y, w, h, score) in frame pixels


class FaceDetector(Protocol):
    name: str

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        """Faces in one ``(H, W, 3)`` uint8 RGB frame as ``(x, y, w, h, score)`` tuples."""


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_default.xml``)."""

    name = "haar"

    def __init__(self, *, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: float = 0.1):
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FervidError(f"{path}: cannot load OpenCV's Haar face cascade")
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size
        self.window = int(self._cascade.getOriginalWindowSize()[0])  # the cascade's smallest face, 24 px

    def smallest_face(self, h: int, w: int) -> float:
        """Side in pixels of the smallest face :meth:`detect` looks for in an ``h`` x ``w`` frame."""
        return max(self.min_size * min(h, w), 20.0)  # faces under 10% of the frame are noise

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY))
        side = int(self.smallest_face(*gray.shape))
        rects, counts = self._cascade.detectMultiScale2(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(side, side)
        )
        return [(float(x), float(y), float(w), float(h), float(n)) for (x, y, w, h), n in zip(rects, counts)]


class WholeFrameDetector:
    """For pre-cropped data: the whole frame is the face."""

    name = "none"

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        h, w = frame_rgb.shape[:2]
        return [(0.0, 0.0, float(w), float(h), 1.0)]


class YuNetDetector:
    """OpenCV's ``FaceDetectorYN`` (YuNet) from an ONNX model file; without one, the registered
    :data:`YUNET` weights (downloaded once into torch.hub's cache, SHA-256 checked)."""

    name = "yunet"

    def __init__(self, *, model: str | None = None, score_threshold: float = 0.7):
        import cv2

        if model is None:
            model = str(fetch_weights(get_weights(YUNET)))
        elif not Path(model).is_file():
            raise FervidError(f"{model}: YuNet model file not found (leave out --detector-model to use {YUNET})")
        else:
            verify_path(Path(model))  # a copy under the registered file name is checked against its hash
        try:
            self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold)
        except cv2.error as e:
            raise FervidError(f"{model}: cannot load YuNet model ({str(e).strip().splitlines()[-1]})") from None

    def detect(self, frame_rgb: np.ndarray) -> list[Box]:
        import cv2

        h, w = frame_rgb.shape[:2]
        self._net.setInputSize((w, h))
        _, faces = self._net.detect(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        return [(float(f[0]), float(f[1]), float(f[2]), float(f[3]), float(f[-1])) for f in faces]


DETECTORS = {"haar": HaarDetector, "none": WholeFrameDetector, "yunet": YuNetDetector}


def make_detector(name: str, **opts) -> FaceDetector:
    """A detector by name (``haar``, ``none``, ``yunet``); ``opts`` go to its constructor."""
    if name not in DETECTORS:
        raise FervidError(f"unknown face detector {name!r} (choose from {', '.join(DETECTORS)})")
    if name == "yunet":
        return YuNetDetector(**{k: v for k, v in opts.items() if v is not None})
    return DETECTORS[name](**{k: v for k, v in opts.items() if k != "model"})


def fast_scale(detector: FaceDetector, h: int, w: int) -> float:
    """How far (factor <= 1) an ``h`` x ``w`` frame can be shrunk for ``detector`` while the
    smallest face it looks for at full size still fills its smallest window.

    For Haar: faces of 10% of the short side, and a 24 px cascade window, give a short side of
    240 px. Detectors that do not say what they can find (YuNet, ``none``) are not shrunk (1.0).
    """
    smallest = getattr(detector, "smallest_face", None)
    if smallest is None:
        return 1.0
    return min(1.0, detector.window / smallest(h, w))
