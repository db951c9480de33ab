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
    "fervid.train.train_cli",
    "fervid.results.report_cli",
    "fervid.train.demo_cli",
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


def _one_line_thread_write_errors(prefix: str) -> None:
    """A full disk met by a library's writer thread (TensorBoard's) is one line, not a traceback."""
    import threading

    from fervid.writes import is_write_error, os_error_line

    default = getattr(threading.excepthook, "fervid_default", threading.excepthook)

    def hook(args) -> None:
        if not is_write_error(args.exc_value):
            return default(args)
        print(f"{prefix}: error: {os_error_line(args.exc_value)} (in thread {args.thread.name})", file=sys.stderr)

    hook.fervid_default = default  # main() may run many times in one process: wrap the default once
    threading.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    from fervid.writes import is_write_error, os_error_line

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for the "to continue: ..." line
    _one_line_thread_write_errors(f"fervid {args.command}")
    try:
        return int(args.func(args) or 0)
    except FervidError as e:
        print(f"fervid {args.command}: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)  # 128 + N for a run stopped by signal N
    except OSError as e:  # a full disk or refused write outside fervid.writes.writing: still one line
        if not is_write_error(e):
            raise
        print(f"fervid {args.command}: error: {os_error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fervid {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
