"""The experiment loggers a fold trains with, named by the config key ``trainer.logger``.

``csv`` writes ``fold_XX/metrics.csv`` and ``tensorboard`` the events in ``fold_XX/tb/`` (the
default pair); ``wandb`` and ``mlflow`` are Lightning's loggers for those services and need the
extras ``fervid[wandb]`` / ``fervid[mlflow]``. Both work with no account: Weights & Biases with
``WANDB_MODE=offline`` (``wandb sync`` uploads later), MLflow with a file store in the run
directory (``RUN/mlruns``, one experiment per run directory, one MLflow run per fold) unless
``MLFLOW_TRACKING_URI`` names another store or a server. Nothing fervid reads comes from a
logger: results, history and reports come from ``result.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fervid.errors import FervidError

LOGGERS = ("csv", "tensorboard", "wandb", "mlflow")
EXTRAS = {"wandb": "wandb", "mlflow": "mlflow"}  # logger -> the module its extra provides


def logger_names(value, where: str) -> list[str]:
    """``trainer.logger`` as a list of distinct names: a name, a list of names, or ``[]``/``null`` (none)."""
    names = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise FervidError(f"{where}: trainer.logger must be a name or a list of names ({', '.join(LOGGERS)})")
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        raise FervidError(f"{where}: trainer.logger {unknown[0]!r} is not one of {', '.join(LOGGERS)}")
    return list(dict.fromkeys(names))


def _require(name: str) -> None:
    """One line naming the extra when the logger's package is missing."""
    module = EXTRAS[name]
    try:
        __import__(module)
    except ImportError:
        raise FervidError(f"trainer.logger {name!r} needs the {module} package: pip install 'fervid[{name}]'") from None


def _fold_wandb_logger():
    from lightning.pytorch.loggers import WandbLogger

    class FoldWandbLogger(WandbLogger):
        """Finishes its wandb run with the fold: Lightning leaves it open, and the next fold's
        logger would then log into the same run."""

        def finalize(self, status: str) -> None:
            super().finalize(status)
            if self._experiment is not None:
                self._experiment.finish(exit_code=0 if status == "success" else 1)

    return FoldWandbLogger


def build_loggers(names: list[str], fdir: Path) -> list:
    """Lightning loggers for the fold directory ``fdir`` (``RUN/fold_XX``), in the order named."""
    fdir = Path(fdir)
    run_dir = fdir.parent
    run = run_dir.resolve().name  # names the experiment (mlflow) or group (wandb); each fold is a run
    loggers = []
    for name in names:
        if name == "csv":
            from lightning.pytorch.loggers import CSVLogger

            loggers.append(CSVLogger(fdir, name="", version=""))
        elif name == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(fdir, name="", version="tb"))
        elif name == "wandb":
            _require(name)
            # Offline and account settings come from wandb's own variables (WANDB_MODE, ...).
            loggers.append(
                _fold_wandb_logger()(
                    name=f"{run}/{fdir.name}",
                    group=run,
                    save_dir=str(run_dir),
                    project=os.environ.get("WANDB_PROJECT") or "fervid",
                )
            )
        elif name == "mlflow":
            _require(name)
            from lightning.pytorch.loggers import MLFlowLogger

            uri = os.environ.get("MLFLOW_TRACKING_URI") or f"file:{run_dir.resolve() / 'mlruns'}"
            if uri.startswith("file:"):
                # MLflow 3 refuses file stores (in favour of a database) unless this is set; a
                # local store needs no server and no extra packages, so fervid opts in.
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            loggers.append(MLFlowLogger(experiment_name=run, run_name=fdir.name, tracking_uri=uri))
    return loggers
