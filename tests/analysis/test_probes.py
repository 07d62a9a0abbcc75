"""Linear probes and their controls on features whose content is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lolameme.analysis.probes import accuracy, chance, control_labels, held_out_predictions

N = 400


def _values(seed: int = 0) -> np.ndarray:
    """[1, N] values 0..59 (each value seen several times), so held-out rows have seen values."""
    return np.random.default_rng(seed).integers(0, 60, size=(1, N)).astype(object)


def _digits(values: np.ndarray) -> np.ndarray:
    return np.array([[int(v) % 10 for v in row] for row in values], dtype=np.int64)


def _scores(features: torch.Tensor, values: np.ndarray) -> tuple[float, float, float]:
    """(accuracy on the units digit, accuracy on the control task, chance)."""
    labels = _digits(values)
    control = control_labels(values, labels, seed=1)
    real = accuracy(held_out_predictions([features], labels, seed=0), labels)[0, 0]
    ctrl = accuracy(held_out_predictions([features], control, seed=0), control)[0, 0]
    return float(real), float(ctrl), float(chance(labels)[0])


def test_a_digit_in_clear_is_read_perfectly_and_selectively():
    values = _values()
    noise = torch.randn(N, 16, generator=torch.Generator().manual_seed(0))
    features = torch.cat([torch.nn.functional.one_hot(torch.as_tensor(_digits(values)[0]), 10).float(), noise], 1)
    real, control, base = _scores(features, values)
    assert real >= 0.99
    assert control < base + 0.15          # the digit alone says little about a random function of the value
    assert real - control > 0.6           # high selectivity


def test_random_features_stay_at_chance_and_have_no_selectivity():
    values = _values()
    features = torch.randn(N, 32, generator=torch.Generator().manual_seed(1))
    real, control, base = _scores(features, values)
    assert abs(real - base) < 0.1 and abs(control - base) < 0.12
    assert abs(real - control) < 0.1


def test_value_identity_in_clear_gives_selectivity_near_zero():
    # One-hot of the whole value: the digit and a random function of the value are equally easy,
    # so a high digit accuracy says nothing about digits: selectivity ~ 0 (Hewitt & Liang).
    values = _values()
    features = torch.nn.functional.one_hot(torch.as_tensor(values[0].astype(np.int64)), 60).float()
    real, control, _ = _scores(features, values)
    assert real >= 0.97 and control >= 0.97
    assert abs(real - control) < 0.03


def test_absent_targets_are_not_scored_and_streams_are_independent():
    values = _values()
    labels = _digits(values)
    labels[0, :50] = -1
    clear = torch.nn.functional.one_hot(torch.as_tensor(_digits(values)[0]), 10).float()
    noise = torch.randn(N, 8, generator=torch.Generator().manual_seed(2))
    predicted = held_out_predictions([noise, clear], labels, seed=0)
    assert (predicted[:, 0, :50] == -1).all()
    acc = accuracy(predicted, labels)[:, 0]
    assert acc[1] >= 0.99 and acc[0] < 0.4


def test_the_torch_probe_agrees_with_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    values = _values(3)
    labels = _digits(values)
    rng = np.random.default_rng(4)
    # the digit, blurred: a probe reaches well above chance but not 100%
    features = np.eye(10)[labels[0]] + rng.normal(0, 0.6, size=(N, 10))
    ours = accuracy(held_out_predictions([torch.as_tensor(features).float()], labels, folds=5, seed=0), labels)[0, 0]
    fold = np.random.default_rng(0).permutation(N) % 5
    x = (features - features.mean(0)) / features.std(0, ddof=1)
    right = 0
    for k in range(5):
        fit = linear_model.LogisticRegression(C=1.0, max_iter=1000).fit(x[fold != k], labels[0][fold != k])
        right += (fit.predict(x[fold == k]) == labels[0][fold == k]).sum()
    assert 0.3 < ours < 0.95
    assert abs(ours - right / N) < 0.03
