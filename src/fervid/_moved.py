"""Old import paths of modules that moved in 0.2 keep working for one release, with a DeprecationWarning.

``fervid.engine`` was split into ``fervid.train`` (running a protocol), ``fervid.results`` (reading
and judging runs) and ``fervid.rundir`` (the run directory both use); ``fervid.models.hub`` became
``fervid.hub``. Importing an old path gives an alias module whose names are looked up in the new
modules, in order. Nothing in fervid imports an old path; tests/test_architecture.py checks it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

_TRAIN = "config module fold_result fold_jobs resumable fold_checkpoints preemption loggers train_cli demo demo_cli"
_RESULTS = "metrics predictions report report_md plots errors_analysis compare paired stats html_report html_errors evaluate report_cli"
MOVED: dict[str, tuple[str, ...]] = {
    **{f"fervid.engine.{m}": (f"fervid.train.{m}",) for m in _TRAIN.split()},
    **{f"fervid.engine.{m}": (f"fervid.results.{m}",) for m in _RESULTS.split()},
    "fervid.engine.fit": ("fervid.train.run", "fervid.train.fold", "fervid.train.model_setup"),
    "fervid.engine.protocol": ("fervid.train.protocol", "fervid.rundir.folds"),
    "fervid.engine.layout": ("fervid.rundir.layout",),
    "fervid.engine.runlock": ("fervid.rundir.lock",),
    "fervid.models.hub": ("fervid.hub", "fervid.hub.fetch", "fervid.hub.entries"),
}


def _caller_level() -> int:
    """The stack level of the first frame outside the import machinery and this file."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen") or frame.f_code.co_filename == __file__
    ):
        frame, level = frame.f_back, level + 1
    return level


class _Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        targets = MOVED[module.__name__]
        warnings.warn(
            f"{module.__name__} moved to {' and '.join(targets)}; the old path goes away in fervid 0.3",
            DeprecationWarning,
            stacklevel=_caller_level(),
        )
        modules = [importlib.import_module(t) for t in targets]

        def __getattr__(attr: str):
            for m in modules:
                if hasattr(m, attr):
                    return getattr(m, attr)
            raise AttributeError(
                f"module {module.__name__!r} (moved to {', '.join(targets)}) has no attribute {attr!r}"
            )

        module.__getattr__ = __getattr__
        module.__doc__ = f"Deprecated alias of {', '.join(targets)}."


def install() -> None:
    if not any(isinstance(f, _Aliases) for f in sys.meta_path):
        sys.meta_path.insert(0, _Aliases())
