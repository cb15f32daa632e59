"""The shared estimator base: parameters a transfer mode ignores."""

import warnings

import numpy as np
import pytest

from sktransfer import (
    FineTunedCNNClassifier,
    FineTunedTransformerClassifier,
    PretrainedEmbeddingClassifier,
)
from sktransfer.model_selection import transfer_gain_curve


def test_a_parameter_the_mode_ignores_is_reported(digits, fast):
    X, y = digits[0][:60], digits[1][:60]
    clf = FineTunedCNNClassifier(transfer="fine_tune", trainable_blocks=2, **fast)
    with pytest.warns(UserWarning, match="trainable_blocks=2 has no effect with ") as w:
        clf.fit(X, y)
    assert "only transfer='partial' uses it" in str(w[0].message)
    assert w[0].filename == __file__  # points at the caller of fit
    clf = FineTunedCNNClassifier(transfer="structure", backbone_lr_scale=0.1, **fast)
    with pytest.warns(UserWarning, match=r"transfer in \('fine_tune', 'partial'"):
        clf.fit(X, y)


def test_defaults_and_the_modes_that_use_a_parameter_are_quiet(digits, fast):
    X, y = digits[0][:60], digits[1][:60]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FineTunedCNNClassifier(transfer="structure", **fast).fit(X, y)
        FineTunedCNNClassifier(
            transfer="partial", trainable_blocks=2, backbone_lr_scale=0.1, **fast
        ).fit(X, y)
        # an explicit default is a default: nothing to report
        FineTunedCNNClassifier(transfer="fine_tune", trainable_blocks=1, **fast).fit(
            X, y
        )


def test_every_classifier_with_modes_reports_them(glove):
    text = PretrainedEmbeddingClassifier(glove, transfer="frozen", unfreeze_epoch=2)
    with pytest.warns(UserWarning, match="unfreeze_epoch=2 has no effect"):
        text.set_params(max_epochs=1, device="cpu").fit(["good", "bad"], [0, 1])
    transformer = FineTunedTransformerClassifier(transfer="frozen", trainable_layers=4)
    with pytest.warns(UserWarning, match="trainable_layers=4 has no effect"):
        transformer._warn_ignored_params()
    fine = FineTunedTransformerClassifier(transfer="fine_tune", backbone_lr_scale=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fine._warn_ignored_params()


def test_the_gain_curve_sets_transfer_itself_quietly(digits, fast):
    X, y = digits
    partial = FineTunedCNNClassifier(transfer="partial", trainable_blocks=2, **fast)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = transfer_gain_curve(
            partial,
            X[:300],
            y[:300],
            X[300:400],
            y[300:400],
            n_per_class=(3,),
            transfers=("partial", "fine_tune"),
        )
    assert [r["model"] for r in curve.records] == ["partial", "fine_tune", "structure"]
    assert all(np.isfinite(r["mean"]) for r in curve.records)
