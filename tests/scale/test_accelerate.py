"""The Hugging Face Accelerate path (skorch's AccelerateMixin), on the CPU."""

import pickle
import warnings

import numpy as np
import pytest

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer.utils._testing import FAST_TRAINING

accelerate = pytest.importorskip("accelerate")


def test_accelerated_fit_equals_the_plain_cpu_fit(digits):
    X, y = digits
    settings = {k: v for k, v in FAST_TRAINING.items() if k != "device"}
    plain = FineTunedCNNClassifier(device="cpu", random_state=0, **settings)
    accelerated = FineTunedCNNClassifier(
        accelerator=accelerate.Accelerator(cpu=True), random_state=0, **settings
    )
    plain.fit(X[:300], y[:300])
    accelerated.fit(X[:300], y[:300])
    assert type(accelerated.net_).__name__ == "AcceleratedTransferNet"
    np.testing.assert_allclose(
        accelerated.predict_proba(X[300:400]),
        plain.predict_proba(X[300:400]),
        atol=1e-6,
    )
    # the net has no device of its own: features come from where it lives
    np.testing.assert_allclose(
        accelerated.extract_features(X[300:310]),
        plain.extract_features(X[300:310]),
        atol=1e-5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeviceWarning: the Accelerator places it
        restored = pickle.loads(pickle.dumps(accelerated))
    assert restored.net_.device is None
    np.testing.assert_allclose(
        restored.predict_proba(X[:20]), accelerated.predict_proba(X[:20])
    )


def test_accelerated_text_and_precision_conflict(news, digits):
    clf = PretrainedEmbeddingClassifier(
        accelerator=accelerate.Accelerator(cpu=True), max_epochs=2, random_state=0
    ).fit(news["X"], news["y"])
    assert clf.score(news["X_test"], news["y_test"]) > 0.3
    assert clf.extract_features(news["X_test"][:3]).shape == (3, 50)
    X, y = digits
    with pytest.raises(ValueError, match="leave precision='32'"):
        FineTunedCNNClassifier(
            accelerator=accelerate.Accelerator(cpu=True), precision="bf16", max_epochs=1
        ).fit(X[:50], y[:50])


def test_accelerated_fit_is_quiet_at_verbose_0_and_weighs_classes(digits, capsys):
    from skorch.callbacks import EpochScoring

    X, y = digits
    settings = {k: v for k, v in FAST_TRAINING.items() if k != "device"}
    clf = FineTunedCNNClassifier(
        accelerator=accelerate.Accelerator(cpu=True),
        class_weight="balanced",
        early_stopping=True,
        callbacks=[EpochScoring("accuracy", name="valid_acc", lower_is_better=False)],
        random_state=0,
        **settings,
    ).fit(X[:300], y[:300])
    # skorch's Accelerate integration prints the epoch table whatever verbose says
    assert capsys.readouterr().out == ""
    assert clf.net_.criterion_.weight.shape == (10,)
    assert 0 <= clf.net_.history[-1, "valid_acc"] <= 1
    clf.set_params(verbose=1).fit(X[:300], y[:300])
    assert "valid_acc" in capsys.readouterr().out
