"""A real, tiny study in the layout of ``fervid demo --out D``, built once per test session.

``D/synth`` (3 subjects, 8 frames per sequence, with AU masks) → ``D/prepared`` (Haar crops of
48 px, crop boxes recorded) → ``D/runs/c3d/`` (a tiny c3d trained with ``train_run`` and the
demo's ``synth/c3d`` config for 2 epochs, fold 0 of 2 only: an incomplete run) →
``results.json``, ``report.md`` and plots. The saliency benchmark, ``fervid explain`` and the
HTML outputs are tested on it. It is trained on next to nothing, so tests assert structure and
consistency, never accuracy.
"""

from __future__ import annotations

from pathlib import Path

SUBJECTS = 3
C3D = [
    "model.kwargs={channels: [8, 16], hidden: 32, conv_dropout: 0.0, dropout: 0.0}",
    "epochs=2",
    "batch_size=4",
    "protocol.folds=2",
    "protocol.val_subjects=0",
    "trainer.progress_bar=false",
]


def build(root: Path) -> Path:
    from fervid.data.prepare import prepare
    from fervid.data.synthetic import generate
    from fervid.data.synthetic_masks import write_au_masks
    from fervid.train.config import load_config
    from fervid.train.run import train_run

    generate(root / "synth", subjects=SUBJECTS, frames=8, size=(160, 120), seed=0, intensity=(0.7, 1.0))
    write_au_masks(root / "synth")
    prepare(root / "synth", root / "prepared", "oulu", size=48, detector="haar", margin=0.0, progress=False)
    run = root / "runs" / "c3d"
    train_run(load_config("synth/c3d", [f"data.path={root / 'prepared'}", *C3D]), run, folds=[0])  # + report
    return root
