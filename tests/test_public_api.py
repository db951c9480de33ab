"""The public API's type hints are complete and resolve (the package ships ``py.typed``)."""

from __future__ import annotations

import inspect
import typing

import pytest

from fervid import load_model, predict_video
from fervid.data.prepare import prepare
from fervid.data.splits import subject_kfold
from fervid.models import create_model


@pytest.mark.parametrize(
    "func", [create_model, load_model, predict_video, subject_kfold, prepare], ids=lambda f: f.__name__
)
def test_every_parameter_and_the_return_are_annotated(func):
    hints = typing.get_type_hints(func)  # evaluates every annotation: each name must resolve
    missing = [name for name in inspect.signature(func).parameters if name not in hints]
    assert not missing and "return" in hints, f"{func.__name__}: no annotation for {missing or 'return'}"


def test_fold_rule_names_match_the_annotation():
    from fervid.data.splits import RULES, FoldRule

    assert set(RULES) == set(typing.get_args(FoldRule))
