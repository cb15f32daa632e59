"""The new head every estimator puts on its source."""

import numpy as np
import pytest
import torch

import sktransfer
from sktransfer import FineTunedCNNClassifier
from sktransfer._nn import MLPHead


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
