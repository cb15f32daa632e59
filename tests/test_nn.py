"""The new head every estimator puts on its source."""

import numpy as np
import pytest
import torch

import sktransfer
from sktransfer import FineTunedCNNClassifier
from sktransfer._nn import MLPHead, Standardize


def _widths(head):
    return [layer.out_features for layer in head if isinstance(layer, torch.nn.Linear)]


@pytest.mark.parametrize(
    "sizes, widths",
    [((), [3]), (16, [16, 3]), ([16, 8], [16, 8, 3]), (np.array([16, 8]), [16, 8, 3])],
)
def test_hidden_layer_sizes_as_scikit_learn_takes_them(sizes, widths):
    head = MLPHead(4, sizes, 3)
    assert _widths(head) == widths
    assert all(type(w) is int for w in _widths(head))  # not numpy ints
    assert head(torch.zeros(2, 4)).shape == (2, 3)


def test_an_array_of_widths_fits_saves_and_loads(tmp_path, digits, fast):
    X, y = digits[0][:100], digits[1][:100]
    clf = FineTunedCNNClassifier(hidden_layer_sizes=np.array([12]), **fast).fit(X, y)
    assert _widths(clf.net_.module_.head) == [12, 10]
    sktransfer.save(clf, tmp_path / "m.skt")
    loaded = sktransfer.load(tmp_path / "m.skt")
    np.testing.assert_array_equal(loaded.hidden_layer_sizes, [12])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_dropout_on_the_input_features_and_after_each_hidden_layer():
    kinds = [type(layer).__name__ for layer in MLPHead(4, (8,), 3, dropout=0.5)]
    assert kinds == ["Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    linear = MLPHead(4, (), 3, dropout=0.5)
    assert [type(layer).__name__ for layer in linear] == ["Dropout", "Linear"]
    assert not any(isinstance(m, torch.nn.Dropout) for m in MLPHead(4, (8,), 3))


def test_standardize_centres_each_feature_and_scales_by_one_number():
    features = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    standardized = Standardize.fit(features)(features)
    torch.testing.assert_close(standardized.mean(0), torch.zeros(2))
    centred = features - features.mean(0)
    torch.testing.assert_close(standardized, centred / centred.pow(2).mean().sqrt())
    # constant features (one image, or a blind source) stay finite: zeros
    constant = Standardize.fit(torch.ones(4, 3))(torch.ones(4, 3))
    assert torch.equal(constant, torch.zeros(4, 3))
