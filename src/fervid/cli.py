"""The ``fervid`` command line (also ``python -m fervid``).

Each command lives beside the code it drives and exposes ``add_parser(subparsers)``, which
creates its sub-parser and sets ``func=run(args) -> int``. Heavy imports happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fervid import __version__
from fervid.errors import FervidError

# Order is the order shown in `fervid --help`: the study's steps first, then tools.
COMMAND_MODULES = (
    "fervid.data.synthetic_cli",
    "fervid.data.prepare_cli",
    "fervid.engine.train_cli",
    "fervid.engine.report_cli",
    "fervid.engine.demo_cli",
    "fervid.inference.cli",
    "fervid.inference.explain_cli",
    "fervid.models.cli",
    "fervid.models.weights_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fervid", description="Video-based facial expression recognition.")
    parser.add_argument("--version", action="version", version=f"fervid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FervidError as e:
        print(f"fervid {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fervid {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
