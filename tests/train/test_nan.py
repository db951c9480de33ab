"""A loss that turns NaN stops the fold with one line naming epoch and step."""

from __future__ import annotations

import pytest
from test_fit import tiny_config
from tiny_prepared import make_prepared

from fervid.errors import FervidError
from fervid.train.run import train_run


def test_nan_loss_stops_the_fold_naming_epoch_and_step(tmp_path):
    make_prepared(tmp_path / "data", subjects=4)
    # A real cause: an absurd learning rate blows the weights up within a step or two.
    config = tiny_config(
        tmp_path, "optim.lr=1e30", "schedule.warmup_epochs=0", "epochs=2", "trainer.gradient_clip=null"
    )
    with pytest.raises(
        FervidError, match=r"fold 0: training loss became (nan|inf) at epoch \d/2, step \d+ of the epoch "
    ):
        train_run(config, tmp_path / "run", folds=[0])
    assert not (tmp_path / "run" / "fold_00" / "result.json").exists()
