"""How often ``fervid predict`` keeps each face's ID through a crossing, a short occlusion and an exit,
over many encodings of the same scenes.

Why: the same scene encoded twice differs by a few grey levels here and there, and a tracker that
keeps a face's ID in one encoding and splits it in the next gives users a different number of
people for the same video. The test suite checks one encoding; this counts over many.

Scenes: tests/data/multi_face.py at 320x180 (real faces from tests/data, MIT):
- ``crossing``: A walks right in front of B walking left; B is hidden for about 15 frames;
- ``hide_return``: B is covered for 12 frames and comes back in place;
- ``enter_leave``: A slides out to the left, B in from the right.
Encodings: each scene with H.264 (PyAV's libx264, ``mbtree=0`` so that one setting always gives
the same file) at every CRF in ``--crfs`` and preset in ``--presets``, from the frames as made and
from copies with +-2 grey levels of seeded noise (``--noise`` copies).

Each encoding is predicted with the default face preprocessing (Haar, detection at up to 640 px)
and a tiny c3d (tracks do not depend on the model), with the default face stage (``fast``:
detect every 10th frame on a shrunk copy) and with the detector on every frame (``every``).
A run *keeps the IDs* when it reports exactly the scene's two faces, each with the span it has in
the scene (crossing, hide_return: both frames 0-72; enter_leave: A from 0, B to the end).

    python benchmarks/track_stability.py [--crfs 14,17,20,23,26] [--presets veryfast,medium] [--noise 4]

To measure an older version, put its ``src`` first on ``PYTHONPATH``; the first line says which
fervid was imported.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

import numpy as np
from predict_speed import multi_face, predictor

SCENES = ("crossing", "hide_return", "enter_leave")


def keeps_ids(scene: str, pred) -> bool:
    spans = [(t.first_frame, t.end_frame) for t in pred.tracks]
    if len(spans) != 2:
        return False
    if scene == "enter_leave":
        return spans[0][0] == 0 and spans[1][1] == pred.frames
    return spans == [(0, pred.frames)] * 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crfs", default="14,17,20,23,26")
    ap.add_argument("--presets", default="veryfast,medium")
    ap.add_argument("--noise", type=int, default=4, help="noisy copies of each scene, besides the frames as made")
    args = ap.parse_args()

    import av

    import fervid
    from fervid.data.face_stage import EXHAUSTIVE, FAST
    from fervid.data.video import read_video
    from fervid.machine import describe, describe_line

    print(
        f"# fervid from {Path(fervid.__file__).parent}; PyAV {av.__version__}, libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}"
    )
    print(describe_line(describe()))  # x264's output depends on its thread count, so on the cores
    pred = predictor("c3d", kwargs={"channels": (4, 8), "hidden": 16, "num_frames": 8, "image_size": 16})
    mf = multi_face()
    crfs = [int(v) for v in args.crfs.split(",")]
    presets = args.presets.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scene in SCENES:
            made = mf.scene(scene)
            variants = [made]
            for seed in range(args.noise):
                rng = np.random.default_rng(seed)
                variants.append([np.clip(f + rng.integers(-2, 3, f.shape), 0, 255).astype(np.uint8) for f in made])
            kept = {"fast": 0, "every": 0}
            counts = {"fast": collections.Counter(), "every": collections.Counter()}
            n = 0
            for v, frames in enumerate(variants):
                for crf in crfs:
                    for preset in presets:
                        video = mf.write(Path(tmp) / f"{scene}.mp4", frames, crf=crf, preset=preset)
                        decoded = read_video(video).frames
                        n += 1
                        for name, settings in (("fast", FAST), ("every", EXHAUSTIVE)):
                            result = pred.predict_frames(decoded, 30.0, settings=settings)
                            ok = keeps_ids(scene, result)
                            kept[name] += ok
                            counts[name][len(result.tracks)] += 1
                            if not ok:
                                spans = [(t.first_frame, t.end_frame) for t in result.tracks]
                                print(f"  {scene} noise{v} crf{crf} {preset} {name}: {spans}", flush=True)
            for name in ("fast", "every"):
                faces = ", ".join(f"{k}: {c}" for k, c in sorted(counts[name].items()))
                rows.append(f"| {scene} | {name} | {n} | {kept[name]} ({100 * kept[name] / n:.0f} %) | {faces} |")
                print(rows[-1], flush=True)
    print("\n| scene | face stage | encodings | IDs kept | faces reported: encodings |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
