"""compute_metrics and summarize against values worked out by hand."""

import math

import pytest
import torch

from fervid.errors import FervidError
from fervid.results.metrics import compute_metrics, summarize


def test_hand_computed_example_with_absent_class():
    # 4 classes; class 3 has no test clip and is never predicted.
    preds = [0, 0, 1, 2, 2, 2]
    targets = [0, 1, 1, 2, 2, 0]
    m = compute_metrics(preds, targets, num_classes=4)
    assert m["n_test"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls: class 0 1/2, class 1 1/2, class 2 2/2; class 3 absent -> left out
    assert m["uar"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    # F1: class 0 P 1/2 R 1/2 -> 1/2; class 1 P 1 R 1/2 -> 2/3; class 2 P 2/3 R 1 -> 4/5
    assert m["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    assert m["confusion_matrix"] == [[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]]


def test_predicting_an_absent_class_costs_recall_and_f1():
    # class 3 is predicted once but never true: not in UAR's mean, F1 0 in macro-F1.
    m = compute_metrics([3, 0, 1], [0, 0, 1], num_classes=4)
    assert m["uar"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["confusion_matrix"][0] == [1, 0, 0, 1]


def test_perfect_and_zero_and_logits():
    targets = torch.tensor([0, 1, 2, 2])
    perfect = compute_metrics(torch.nn.functional.one_hot(targets, 3).float() * 5, targets, 3)  # logits
    assert (perfect["accuracy"], perfect["uar"], perfect["macro_f1"]) == (1.0, 1.0, 1.0)
    assert perfect["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 2]]
    zero = compute_metrics((targets + 1) % 3, targets, 3)
    assert (zero["accuracy"], zero["uar"], zero["macro_f1"]) == (0.0, 0.0, 0.0)


def test_bad_input_is_a_fervid_error():
    with pytest.raises(FervidError, match="2 predictions for 3 targets"):
        compute_metrics([0, 1], [0, 1, 1], 2)
    with pytest.raises(FervidError, match="outside 0..1"):
        compute_metrics([0, 2], [0, 1], 2)
    with pytest.raises(FervidError, match="no test samples"):
        compute_metrics([], [], 2)


def test_summarize_mean_and_sample_std():
    folds = [
        {"accuracy": 0.5, "uar": 0.4, "macro_f1": 0.3},
        {"accuracy": 0.7, "uar": 0.6, "macro_f1": 0.5},
        {"accuracy": 0.9, "uar": 0.8, "macro_f1": 0.4},
    ]
    mean, std = summarize(folds)
    assert mean["accuracy"] == pytest.approx(0.7)
    assert std["accuracy"] == pytest.approx(0.2)  # sqrt((0.04 + 0 + 0.04) / (3 - 1))
    assert std["macro_f1"] == pytest.approx(math.sqrt((0.01 + 0.01 + 0) / 2))
    one_mean, one_std = summarize(folds[:1])
    assert one_mean["uar"] == 0.4 and one_std == {"accuracy": None, "uar": None, "macro_f1": None}
    with pytest.raises(FervidError):
        summarize([])
