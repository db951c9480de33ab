"""``fervid explain``: saliency maps and temporal importance of a checkpoint on a clip or video."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "explain",
        help="where a model looks: saliency per frame and which frames mattered",
        description="Grad-CAM (CNNs) or gradient-weighted attention (transformers) on the face crops the "
        "model sees, and the share of each frame in the decision. CLIP_OR_VIDEO is a prepared clip (.npy) "
        "or a video (cropped as `fervid predict` does; its most confident window is explained). "
        "Writes NAME.png (strip), NAME.gif, NAME.npy (maps) and NAME.json into --out.",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="fervid checkpoint (model.safetensors)")
    p.add_argument("input", nargs="?", metavar="CLIP_OR_VIDEO", help="a prepared clip .npy, or a video file")
    p.add_argument("--data", metavar="PREPARED", help="prepared dataset holding --clip")
    p.add_argument("--clip", metavar="CLIP_ID", help="clip id in PREPARED's manifest.csv")
    p.add_argument("--out", default="explain", metavar="DIR", help="output folder (default %(default)s)")
    p.add_argument("--target", metavar="CLASS", help="class to explain (default: the predicted class)")
    p.add_argument(
        "--all-windows", action="store_true", help="video: explain every face window, not only the most confident one"
    )
    p.add_argument("--window", type=int, metavar="T", help="video: frames per window (default: the model's)")
    p.add_argument("--stride", type=int, metavar="S", help="video: frames between windows (default: window // 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fervid.errors import FervidError
    from fervid.inference.api import load_model
    from fervid.inference.explain import explain_clip, explain_video, load_prepared_clip
    from fervid.inference.explain_outputs import write_explanation

    if (args.input is None) == (args.data is None or args.clip is None):
        raise FervidError("give CLIP_OR_VIDEO, or --data PREPARED with --clip CLIP_ID (not both)")
    is_clip = args.input is None or args.input.endswith(".npy")
    if is_clip and (args.all_windows or args.window or args.stride):
        raise FervidError("--all-windows, --window and --stride apply to videos, not to prepared clips")
    predictor = load_model(args.checkpoint)
    if is_clip:
        clip, name, label = load_prepared_clip(args.input, data=args.data, clip_id=args.clip)
        explanations = [explain_clip(clip, predictor, target=args.target, name=name, label=label)]
        stems = [name]
    else:
        result = explain_video(
            args.input,
            predictor,
            window=args.window,
            stride=args.stride,
            all_windows=args.all_windows,
            target=args.target,
        )
        explanations = result.explanations
        stem = Path(args.input).stem
        stems = [f"{stem}_{e.span[0]:05d}-{e.span[1]:05d}" if args.all_windows else stem for e in explanations]
    for ex, stem in zip(explanations, stems):
        paths = write_explanation(ex, args.out, stem)
        top = int(ex.temporal.argmax())
        where = f"{ex.frame_index[top] / ex.fps:.2f} s" if ex.fps else f"frame {ex.frame_index[top]}"
        truth = f", true {ex.label}" if ex.label else ""
        print(
            f"{ex.source}: predicted {ex.predicted} ({ex.probs[ex.predicted]:.2f}{truth}); saliency for "
            f"{ex.target}, {ex.method}; most important: {where} ({ex.temporal[top]:.0%})"
        )
        print(f"  wrote {', '.join(str(p) for p in paths.values())}")
    return 0
