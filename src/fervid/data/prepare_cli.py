"""``fervid prepare SRC OUT --format …``: turn a dataset as distributed into cached face clips."""

from __future__ import annotations

import argparse
import os

# Reader options each --format accepts: (CLI dest, reader keyword).
_FORMAT_OPTIONS = {
    "oulu": {"modality": "modality", "illumination": "illumination", "variant": "variant"},
    "ckplus": {"no_contempt": "contempt"},
    "folders": {"subject_regex": "subject_regex"},
    "dfew": {},
    "ferv39k": {},
    "mafw": {},
    "csv": {},
}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="decode, face-crop and cache a dataset as clips",
        description="Decode every sequence of a dataset, find and crop the face, and cache the clips "
        "(OUT/meta.json, manifest.csv, clips/, skipped.csv). Resumable: rerun to finish; a rerun "
        "also redoes clips whose files are missing or damaged. `fervid prepare OUT --verify` "
        "checks a prepared folder and redoes its broken clips from the source recorded there.",
    )
    p.add_argument("src", metavar="SRC", nargs="?", help="dataset folder as distributed (a CSV file for --format csv)")
    p.add_argument("out", metavar="OUT", nargs="?", help="prepared-dataset folder to write")
    p.add_argument("--format", choices=list(_FORMAT_OPTIONS), help="dataset layout (required, except with --verify)")
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every cached clip of OUT (header and size) and redo only the broken ones, with "
        "the settings and source in OUT/meta.json (SRC, when given, replaces that source)",
    )
    p.add_argument("--size", type=int, default=112, help="crop side in pixels (default 112)")
    p.add_argument(
        "--detector",
        default="haar",
        choices=["haar", "none", "yunet"],
        help="face detector: OpenCV Haar cascade (default), none (pre-cropped data), yunet",
    )
    p.add_argument(
        "--detector-model",
        metavar="PATH",
        help="model file for --detector yunet (ONNX; default: the registered YuNet, downloaded once)",
    )
    p.add_argument("--margin", type=float, default=0.2, help="margin around the face, fraction of its side (0.2)")
    p.add_argument("--align", action="store_true", help="rotate crops so the eyes are level")
    p.add_argument(
        "--detect-every",
        type=int,
        default=1,
        metavar="N",
        help="detect faces every N frames and follow them in between, as `fervid predict` does "
        "(default 1: the detector on every frame; stored in meta.json when not 1)",
    )
    p.add_argument(
        "--detect-size",
        choices=["full", "auto"],
        default="full",
        help="full (default): detect at up to 640 px; auto: on frames shrunk as far as the detector "
        "still finds its smallest face, as `fervid predict` does",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="parallel processes (default: CPU count - 1)",
    )
    p.add_argument("--strict", action="store_true", help="exit non-zero if anything was skipped")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("oulu options")
    g.add_argument("--modality", choices=["VL", "NI"], help="imaging system (default VL)")
    g.add_argument("--illumination", choices=["Strong", "Weak", "Dark"], help="lighting (default Strong)")
    g.add_argument(
        "--variant",
        choices=["original", "cropped"],
        help="OriginalImg or PreProcess_Img (default: original when both are under SRC)",
    )
    g = p.add_argument_group("ckplus options")
    g.add_argument("--no-contempt", action="store_true", default=None, help="leave out contempt (six classes)")
    g = p.add_argument_group("folders options")
    g.add_argument(
        "--subject-regex",
        metavar="REGEX",
        help="subject id from each item's path (first group, else the match); default: one per video",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fervid.data.prepare import prepare
    from fervid.errors import FervidError

    if args.verify:
        return verify(args.out or args.src, args.src if args.out else None, args)
    if args.src is None or args.out is None or args.format is None:
        raise FervidError("prepare needs SRC OUT --format FORMAT (or OUT --verify to check a prepared folder)")

    reader_options = {}
    for fmt, options in _FORMAT_OPTIONS.items():
        for dest, keyword in options.items():
            value = getattr(args, dest)
            if value is None:
                continue
            if fmt != args.format:
                raise FervidError(f"--{dest.replace('_', '-')} applies to --format {fmt} only")
            reader_options[keyword] = (not value) if dest == "no_contempt" else value
    summary = prepare(
        args.src,
        args.out,
        args.format,
        size=args.size,
        detector=args.detector,
        detector_model=args.detector_model,
        margin=args.margin,
        align=args.align,
        detect_every=args.detect_every,
        detect_size=args.detect_size,
        workers=args.workers,
        progress=not args.quiet,
        **reader_options,
    )
    print(summary.line)
    if summary.excluded:
        print(f"{summary.excluded} items excluded by design (OS files, unlabelled, ...) are listed there too")
    if summary.dropped_frames:
        print(f"{summary.dropped_frames} unreadable frames dropped inside otherwise good sequences")
    if args.strict and summary.skipped:
        print(f"fervid prepare: --strict: {summary.skipped} items skipped", flush=True)
        return 1
    return 0


def verify(out, src, args: argparse.Namespace) -> int:
    """``--verify``: list the broken clips of ``out`` and redo them as ``meta.json`` says they were made."""
    from pathlib import Path

    from fervid.data.manifest import read_manifest, read_meta
    from fervid.data.prepare import prepare
    from fervid.data.verify import find_bad_clips, reprepare_options
    from fervid.errors import FervidError

    if out is None:
        raise FervidError("--verify needs the prepared folder: fervid prepare OUT --verify")
    out = Path(out)
    meta, records = read_meta(out), read_manifest(out)
    bad = find_bad_clips(out, records, meta.get("size"))
    listed = "".join(f"\n  {path.relative_to(out)}: {problem}" for _, path, problem in bad)
    print(f"{out}: {len(records)} cached clips checked, {len(bad)} broken{listed}")
    if not bad:
        return 0
    fmt = args.format or meta.get("reader")
    if fmt is None:
        raise FervidError(
            f"{out / 'meta.json'} does not name its reader (prepared by an older fervid): "
            f"pass it, e.g. fervid prepare SRC {out} --format oulu --verify"
        )
    summary = prepare(
        src or meta["source"], out, fmt, workers=args.workers, progress=not args.quiet, **reprepare_options(meta, fmt)
    )
    print(summary.line)
    still = find_bad_clips(out, read_manifest(out), meta.get("size"))
    if still:
        raise FervidError(f"{still[0][1]}: still {still[0][2]} after redoing it")
    print(f"redid {len(bad)} broken clip{'s' if len(bad) != 1 else ''}")
    return 0
