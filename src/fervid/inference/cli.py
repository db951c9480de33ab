"""``fervid predict`` and ``fervid export``: thin layers over :mod:`fervid.inference.api`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fervid.inference import faces_cli

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="label the expression of faces in videos, window by window",
        description="Detect and crop the face as in training (read from the checkpoint), slide a window of "
        "the model's frames over each video and label each window and the whole video. "
        "--zero-shot clip labels expressions with CLIP and text prompts, without training.",
    )
    p.add_argument("inputs", nargs="*", metavar="VIDEO_OR_FOLDER", help="video files, or folders of them (recursive)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="CKPT", help="fervid checkpoint (model.safetensors)")
    source.add_argument("--zero-shot", choices=["clip"], help="no checkpoint: CLIP image/text similarity")
    z = p.add_argument_group("zero-shot options")
    z.add_argument(
        "--zero-shot-weights",
        metavar="WEIGHTS",
        help="CLIP weights (default: clip/openai, OpenAI ViT-B/16, from the cache or downloaded once): "
        "a name (openai, openai_b32), hf:ORG/NAME, a URL, a Hugging Face CLIPModel directory "
        "or an open_clip state-dict file",
    )
    z.add_argument("--classes", metavar="A,B,...", help="label set (default: the six basic emotions)")
    z.add_argument("--neutral", action="store_true", help="add 'neutral' to the six basic emotions")
    z.add_argument(
        "--prompts",
        metavar="FILE.yaml",
        help="per-class prompts or descriptions (class: [text, ...]; any punctuation) instead of CLIP's "
        "FER2013 recipe; its classes are the label set",
    )
    p.add_argument("--json", metavar="OUT", help="write predictions as JSON (an object, or a list for several videos)")
    p.add_argument("--csv", metavar="OUT", help="write one row per window as CSV")
    p.add_argument("--plot", metavar="OUT.png", help="timeline plot (several videos: OUT-<video>.png each)")
    p.add_argument("--html", metavar="OUT.html", help="one self-contained HTML page: timelines, face crops, tables")
    p.add_argument("--saliency", action="store_true", help="with --html: where the model looked in each face crop")
    p.add_argument("--window", type=int, metavar="T", help="frames per window (default: the model's frames)")
    p.add_argument("--stride", type=int, metavar="S", help="frames between windows (default: window // 2)")
    p.add_argument("--quiet", action="store_true", help="no table on the terminal")
    faces_cli.add_options(p)
    p.set_defaults(func=run_predict)

    e = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX (dynamic batch)",
        description="Export a fervid checkpoint to ONNX: input 'clip' (B, 3, T, S, S), output 'logits' (B, C).",
    )
    e.add_argument("checkpoint", metavar="CKPT")
    e.add_argument("--onnx", required=True, metavar="OUT.onnx")
    e.add_argument("--opset", type=int, default=None, metavar="N", help="ONNX opset (default 18)")
    e.add_argument("--dynamo", action="store_true", help="use the torch.export-based exporter")
    e.set_defaults(func=run_export)


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Video files from files and folders (folders searched recursively, sorted); and errors."""
    videos, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                errors.append(f"{path}: folder holds no video files ({', '.join(sorted(VIDEO_SUFFIXES))})")
            videos.extend(found)
        elif path.is_file():
            videos.append(path)  # any suffix: PyAV decides whether it can read it
        else:
            errors.append(f"{path}: no such file or folder")
    return videos, errors


def _plot_paths(out: str, preds) -> list[Path]:
    paths = faces_cli.output_paths(out, [p.video for p in preds])
    return paths if len(paths) == 1 else [p.with_suffix(p.suffix or ".png") for p in paths]


def _predictor(args: argparse.Namespace):
    from fervid.errors import FervidError
    from fervid.inference.api import load_model

    zero_shot_flags = [f for f in ("zero_shot_weights", "classes", "neutral", "prompts") if getattr(args, f)]
    if args.checkpoint:
        if zero_shot_flags:
            raise FervidError(f"--{zero_shot_flags[0].replace('_', '-')} applies to --zero-shot only")
        return load_model(args.checkpoint)
    from fervid.inference.zero_shot import load_zero_shot

    if args.classes and args.neutral:
        raise FervidError("--neutral adds to the default classes; with --classes, list neutral there")
    if args.prompts and (args.classes or args.neutral):
        raise FervidError("--prompts names the classes: leave --classes and --neutral out")
    classes = args.classes.split(",") if args.classes else None
    return load_zero_shot(
        args.zero_shot_weights, model=args.zero_shot, classes=classes, neutral=args.neutral, prompts=args.prompts
    )


def run_predict(args: argparse.Namespace) -> int:
    from fervid.errors import FervidError
    from fervid.inference.html_predict import PredictionPage, predict_with_saliency
    from fervid.inference.outputs import format_table, write_csv, write_json

    if args.saliency and not args.html:
        raise FervidError("--saliency goes with --html OUT.html")
    if bool(args.inputs) == bool(args.live):
        raise FervidError("give videos or folders to predict, or --live SOURCE (not both)")
    settings = faces_cli.settings(args)
    predictor = _predictor(args)  # bad weights fail everything: FervidError -> exit 2
    if predictor.synthetic_note:
        print(f"fervid predict: note: {predictor.synthetic_note}", file=sys.stderr)
    if args.live:
        from fervid.inference.live_cli import run_live

        return run_live(args, predictor, settings)
    faces = {"faces": args.faces, "settings": settings}
    videos, errors = expand_inputs(args.inputs)
    for err in errors:
        print(f"fervid predict: error: {err}", file=sys.stderr)
    preds, pages = [], []
    for video in videos:
        try:
            if args.saliency:
                pages.append(predict_with_saliency(predictor, video, window=args.window, stride=args.stride, **faces))
                pred = pages[-1].prediction
            else:
                pred = predictor.predict(video, window=args.window, stride=args.stride, **faces)
                pages.append(PredictionPage(pred))
        except FervidError as e:
            errors.append(str(e))
            print(f"fervid predict: error: {e}", file=sys.stderr)
            continue
        preds.append(pred)
        if not args.quiet:
            print(format_table(pred), end="\n\n", flush=True)

    if preds:
        if args.json:
            write_json(args.json, preds)
        if args.csv:
            write_csv(args.csv, preds)
        if args.plot:
            from fervid.inference.plot import plot_timeline

            for pred, path in zip(preds, _plot_paths(args.plot, preds)):
                plot_timeline(pred, path)
        if args.html:
            from fervid.inference.html_predict import write_predict_html

            write_predict_html(args.html, pages)
    failed_annotations = faces_cli.write_annotations(args.annotate, preds, quiet=args.quiet) if args.annotate else []
    n_in = len(preds) + len(errors)
    if errors:
        print(f"fervid predict: {len(preds)} of {n_in} inputs predicted, {len(errors)} failed", file=sys.stderr)
    return 1 if errors or failed_annotations else 0


def run_export(args: argparse.Namespace) -> int:
    from fervid.inference.export import export_onnx

    out = export_onnx(args.checkpoint, args.onnx, opset=args.opset, dynamo=args.dynamo)
    print(f"wrote {out}")
    return 0
