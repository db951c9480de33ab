"""``fervid synth OUT``: write a synthetic expression dataset in the Oulu-CASIA layout."""

from __future__ import annotations

import argparse

from fervid.errors import FervidError


def _frames(text: str) -> int | tuple[int, int]:
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-", 1))
            return lo, hi
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got {text!r}") from None


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split("-", 1))
        return lo, hi
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH, got {text!r}") from None


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write synthetic facial-expression videos (Oulu-CASIA layout)",
        description="Render parametric faces animating the six basic emotions' FACS Action Units, "
        "neutral to apex, as OUT/OriginalImg/VL/Strong/P001/<Expression>/000.jpeg ... "
        "Read it back with `fervid prepare OUT PREPARED --format oulu`.",
    )
    p.add_argument("out", nargs="?", metavar="OUT", help="output folder (new, or one written by fervid synth)")
    p.add_argument("--subjects", type=int, default=20, metavar="N", help="number of subjects (default 20)")
    p.add_argument(
        "--frames",
        type=_frames,
        default=(10, 30),
        metavar="N|MIN-MAX",
        help="frames per sequence: N or MIN-MAX (default 10-30)",
    )
    p.add_argument(
        "--size", type=_size, default=(320, 240), metavar="WxH", help="frame size WIDTHxHEIGHT (default 320x240)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--intensity",
        type=_range,
        default=(0.2, 1.0),
        metavar="LOW-HIGH",
        help="apex intensity range LOW-HIGH; weak expressions are harder (default 0.2-1.0)",
    )
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="processes rendering subjects in parallel (default 1)"
    )
    p.add_argument("--strip", metavar="PNG", help="also write a PNG strip of each emotion, neutral to apex")
    p.add_argument(
        "--masks",
        action="store_true",
        help="also write, per frame, where the Action Units changed the face (OUT/AUMasks/P001/Anger/000.png)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from fervid.data.synthetic import generate, render_strip

    if args.out is None and args.strip is None:
        raise FervidError("give an output folder OUT, or --strip PNG, or both")
    if args.out is not None:
        summary = generate(
            args.out,
            subjects=args.subjects,
            frames=args.frames,
            size=args.size,
            seed=args.seed,
            intensity=args.intensity,
            workers=args.workers,
        )
        print(summary)
        if args.masks:
            from fervid.data.synthetic_masks import MASK_DIR, write_au_masks

            n = write_au_masks(args.out, workers=args.workers)
            print(f"wrote AU masks of {n} sequences to {summary.out / MASK_DIR}")
    if args.strip is not None:
        print(f"wrote {render_strip(args.strip, seed=args.seed)}")
    return 0
