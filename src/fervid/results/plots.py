"""PNG plots of a run and of a comparison (matplotlib, Agg; no pyplot global state).

Each function draws one figure and writes it atomically; values are fractions, axes show %.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence

from fervid.writes import atomic_write_bytes


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike | None) -> bytes:
    """The figure as PNG bytes, also written to ``path`` when given."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    if path is not None:
        atomic_write_bytes(path, buf.getvalue(), what="a plot")
    return buf.getvalue()


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path, *, title: str) -> None:
    """Confusion matrix normalised per true class (each row sums to 100 %); counts annotated.

    A row without test clips stays blank (there is no recall to show).
    """
    import numpy as np

    counts = np.asarray(matrix, dtype=float)  # (C_true, C_pred)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(totals > 0, counts / totals, np.nan)
    n = len(classes)
    fig = _figure(1.6 + 0.75 * n, 1.2 + 0.7 * n)
    ax = fig.add_subplot()
    im = ax.imshow(norm * 100, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, label="% of true class")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            if not math.isnan(norm[i, j]):
                ax.text(
                    j,
                    i,
                    f"{norm[i, j] * 100:.0f}\n({int(counts[i, j])})",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if norm[i, j] > 0.6 else "black",
                )
    _save(fig, path)


def plot_fold_bars(folds: Sequence[Mapping], mean: Mapping, path, *, title: str, xlabel: str = "fold") -> None:
    """Accuracy and UAR per fold, with the mean over folds as dashed lines."""
    labels = [str(f["fold"]) for f in folds]
    x = range(len(folds))
    fig = _figure(max(4.5, 0.6 * len(folds) + 2.5), 3.4)
    ax = fig.add_subplot()
    for k, (key, name, color) in enumerate((("accuracy", "accuracy", "C0"), ("uar", "UAR", "C1"))):
        ax.bar([i + (k - 0.5) * 0.38 for i in x], [f[key] * 100 for f in folds], 0.38, label=name, color=color)
        ax.axhline(mean[key] * 100, color=color, linestyle="--", linewidth=1, label=f"mean {name}")
    ax.set_xticks(list(x), labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=4, fontsize=8, frameon=False)
    _save(fig, path)


def plot_curves(histories: Mapping[int, Sequence[Mapping]], path, *, title: str) -> bool:
    """Training curves per fold: losses (train solid, validation dashed) and validation UAR.

    Entries whose value is missing (no validation split) are skipped. Returns False, writing
    nothing, when no fold has a history.
    """
    if not any(histories.values()):
        return False

    def series(history, key):
        pts = [(h["epoch"], h[key]) for h in history if h.get(key) is not None and not math.isnan(h[key])]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig = _figure(9, 3.4)
    loss_ax, uar_ax = fig.subplots(1, 2)
    for i, (fold, history) in enumerate(sorted(histories.items())):
        color = f"C{i % 10}"
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            ex, ey = series(history, key)
            if ex:
                loss_ax.plot(ex, ey, style, color=color, label=f"fold {fold}" if key == "train_loss" else None)
        ex, ey = series(history, "val_uar")
        if ex:
            uar_ax.plot(ex, [v * 100 for v in ey], color=color)
    from matplotlib.ticker import MaxNLocator

    for ax in (loss_ax, uar_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss (train —, validation - -)")
    uar_ax.set_xlabel("epoch")
    uar_ax.set_ylabel("validation UAR (%)")
    uar_ax.set_ylim(-2, 102)  # lines at 0 or 100 % stay visible
    if len(histories) <= 10:
        loss_ax.legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, path)
    return True


def plot_compare(
    rows: Sequence[Mapping], path=None, *, title: str = "accuracy and UAR, mean ± std over folds"
) -> bytes:
    """Grouped bars per run (accuracy, UAR) with sample-std error bars (none for a single fold); the PNG."""
    fig = _figure(max(5.0, 1.1 * len(rows) + 2.5), 3.8)
    ax = fig.add_subplot()
    x = range(len(rows))
    top = 100.0
    for k, (key, name, color) in enumerate((("accuracy", "accuracy", "C0"), ("uar", "UAR", "C1"))):
        means = [r[f"{key}_mean"] * 100 for r in rows]
        errs = [math.nan if r[f"{key}_std"] is None else r[f"{key}_std"] * 100 for r in rows]  # nan: no bar
        bars = ax.bar([i + (k - 0.5) * 0.38 for i in x], means, 0.38, yerr=errs, capsize=3, label=name, color=color)
        ax.bar_label(bars, fmt="%.1f", label_type="center", fontsize=7, color="white")
        top = max([top, *(m + e for m, e in zip(means, errs) if not math.isnan(e))])  # no bars: single folds
    ax.set_xticks(list(x), [r["label"] for r in rows], rotation=20, ha="right")
    ax.set_ylabel("%")
    ax.set_ylim(0, top + 3)  # room for error bars that reach past 100 %
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _save(fig, path)
