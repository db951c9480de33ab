"""The README's saliency strip: one held-out synthetic clip explained by a demo model, its AU mask outlined.

    python benchmarks/saliency_strip.py DEMO_DIR --out docs/images/saliency_strip.png [--model NAME]
        [--label happiness] [--clip CLIP_ID]

DEMO_DIR is a ``fervid demo --out DEMO_DIR`` folder (as for benchmarks/saliency_pointing.py). The
clip is chosen by a rule that never looks at the saliency: the first clip (manifest order) of
fold 0's test subjects with label ``--label`` (default happiness: AU6+12, cheeks and mouth
corners), unless ``--clip`` names one. ``--model`` defaults to the demo run with the best mean
UAR. The strip (``fervid.inference.explain_outputs.strip_png``) explains the clip's true class
with fold 0's checkpoint, which never saw the clip's subject. Where the AU masks exist
(``synth/AUMasks``: benchmarks/saliency_pointing.py writes them) the region the Action Units
changed is outlined in white on the saliency row, so the strip shows the ground truth the
pointing game scores against.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fervid.checkpoint import atomic_write_bytes
from fervid.data.manifest import read_manifest
from fervid.data.synthetic_masks import MASK_DIR, crop_masks
from fervid.errors import FervidError
from fervid.inference.api import load_model
from fervid.inference.explain import explain_clip
from fervid.inference.explain_outputs import strip_png

sys.path.insert(0, str(Path(__file__).resolve().parent))
from saliency_pointing import find_run  # noqa: E402 (a sibling script, not a package)


def best_model(demo: Path) -> str:
    """The model of the demo run with the best mean UAR (its results.json)."""
    scored = []
    for path in sorted((demo / "runs").glob("*/results.json")):
        r = json.loads(path.read_text())
        if find_run(demo, r["model"]) is not None:
            scored.append((r["mean"]["uar"], r["model"]))
    if not scored:
        raise FervidError(f"{demo / 'runs'}: no run with results.json and fold checkpoints")
    return max(scored)[1]


def choose_clip(prepared: Path, test_subjects: list[str], label: str) -> str:
    for r in read_manifest(prepared):
        if r.subject in test_subjects and r.label == label:
            return r.clip_id
    raise FervidError(f"{prepared}: no clip labelled {label!r} among fold 0's test subjects {test_subjects}")


def make_strip(
    demo: Path, *, model: str | None = None, label: str = "happiness", clip: str | None = None
) -> tuple[bytes, str]:
    """The strip's PNG and a line saying what it shows."""
    model = model or best_model(demo)
    run = find_run(demo, model)
    if run is None:
        raise FervidError(f"{demo}: no run of {model} with fold checkpoints")
    fold0 = json.loads((run / "folds.json").read_text())["folds"][0]
    prepared, synth = demo / "prepared", demo / "synth"
    clip = clip or choose_clip(prepared, [str(s) for s in fold0["test_subjects"]], label)
    record = next((r for r in read_manifest(prepared) if r.clip_id == clip), None)
    if record is None:
        raise FervidError(f"{prepared}: no clip {clip!r}")
    ckpt = run / f"fold_{fold0['fold']:02d}" / "model.safetensors"
    ex = explain_clip(
        np.load(prepared / record.file), load_model(ckpt), target=record.label, name=clip, label=record.label
    )
    masked = (synth / MASK_DIR).is_dir()
    mask = crop_masks(prepared, clip, synth)[0][ex.frame_index] if masked else None
    held_out = "a held-out subject" if record.subject in map(str, fold0["test_subjects"]) else "a TRAINING subject"
    what = (
        f"{clip} ({held_out}), {model} fold {fold0['fold']} ({ckpt}), saliency for {record.label}, predicted "
        f"{ex.predicted}; " + ("AU mask outlined" if masked else f"no AU masks in {synth / MASK_DIR}: none outlined")
    )
    return strip_png(ex, mask=mask), what


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("demo", type=Path, metavar="DEMO_DIR")
    ap.add_argument("--out", type=Path, required=True, metavar="OUT.png")
    ap.add_argument("--model", help="a demo model (default: the run with the best mean UAR)")
    ap.add_argument("--label", default="happiness", help="class of the clip (default %(default)s)")
    ap.add_argument("--clip", help="a clip id of DEMO_DIR/prepared instead of the rule")
    args = ap.parse_args(argv)
    png, what = make_strip(args.demo, model=args.model, label=args.label, clip=args.clip)
    atomic_write_bytes(args.out, png)
    print(f"wrote {args.out}: {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
