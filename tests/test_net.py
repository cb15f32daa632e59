"""TransferNet and ClassifierNet: skorch nets without the per-step work nothing
uses, and with scoring callbacks that work as in NeuralNetClassifier."""

import warnings

import numpy as np
import pytest
import skorch
import torch

from sktransfer._base import QuietPrintLog, TransferNet


@pytest.fixture
def data(digits):
    X, y = digits
    return X[:300].astype(np.float32) / 16, y[:300].astype(np.int64)


def _net(net_class=TransferNet, **params):
    torch.manual_seed(0)
    settings = {
        "criterion": torch.nn.CrossEntropyLoss,
        "optimizer": torch.optim.AdamW,
        "lr": 0.01,
        "max_epochs": 3,
        "batch_size": 32,
        "iterator_train__shuffle": True,
        "train_split": None,
    }
    return net_class(torch.nn.Linear(64, 10), **{**settings, **params})


def test_a_quiet_net_builds_no_epoch_table_and_prints_once_verbose(
    data, monkeypatch, capsys
):
    X, y = data
    tables = []
    table = QuietPrintLog.table
    monkeypatch.setattr(
        QuietPrintLog, "table", lambda self, row: tables.append(row) or table(self, row)
    )
    net = _net(verbose=0).fit(X, y)
    assert isinstance(dict(net.callbacks_)["print_log"], QuietPrintLog)
    assert tables == [] and capsys.readouterr().out == ""

    net.set_params(verbose=1).partial_fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(tables) == 3
    assert "train_loss" in lines[0]  # the header, then a rule and 3 epochs
    assert [line.split()[0] for line in lines[2:]] == ["4", "5", "6"]


def test_a_quiet_net_still_feeds_a_sink_of_its_own(data):
    X, y = data
    lines = []
    _net(verbose=0, callbacks__print_log__sink=lines.append).fit(X, y)
    assert len(lines) == 2 + 3 and "train_loss" in lines[0]


def test_clearing_grads_directly_trains_exactly_as_skorch(data):
    X, y = data
    ours = _net(verbose=0).fit(X, y)
    theirs = _net(skorch.NeuralNet, verbose=0).fit(X, y)
    for a, b in zip(
        ours.module_.parameters(), theirs.module_.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    # grads left to accumulate would give other weights and losses
    assert ours.history[:, "train_loss"] == theirs.history[:, "train_loss"]


def test_an_optimizer_with_its_own_zero_grad_keeps_it(data):
    X, y = data
    calls = []

    class CountingSGD(torch.optim.SGD):
        def zero_grad(self, set_to_none=True):
            calls.append(set_to_none)
            super().zero_grad(set_to_none)

    _net(verbose=0, optimizer=CountingSGD).fit(X, y)
    assert len(calls) == 3 * 10  # 300 samples in batches of 32, 3 epochs


class _GradientNorms(skorch.callbacks.Callback):
    """Records the norm of the gradients callbacks are shown, step by step."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad.float() for _, p in named_parameters if p.grad is not None]
        self.norms.append(
            float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])))
        )


def test_callbacks_see_the_true_gradients_under_float16_loss_scaling(data):
    """precision="16-mixed" scales the loss by 65,536 before backward; the
    gradients callbacks read were scaled too, so GradientNormClipping(1.0)
    cut the true ones to 1/65,536 of a norm and training stalled silently.
    (CUDA's case; torch's CPU autocast and scaler run it here.)"""
    X, y = data
    norms = {}
    for precision in ("32", "16-mixed"):
        net = _net(precision=precision, callbacks=[("norms", _GradientNorms())])
        assert net.fit(X, y).scaler_.is_enabled() == (precision == "16-mixed")
        norms[precision] = dict(net.callbacks_)["norms"].norms
    np.testing.assert_allclose(norms["16-mixed"], norms["32"], rtol=0.05)
    assert 0.01 < np.median(norms["32"]) < 10


def test_skorch_scoring_callbacks_work_on_a_classifier(digits):
    from skorch.callbacks import EpochScoring

    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:300], digits[1][:300]
    scoring = [
        EpochScoring(
            "accuracy", on_train=True, name="train_acc", lower_is_better=False
        ),
        ("acc", EpochScoring("accuracy", name="valid_acc", lower_is_better=False)),
        EpochScoring("neg_log_loss", name="valid_nll"),
    ]
    for transfer in ("fine_tune", "feature_extraction"):  # the latter: cached features
        clf = FineTunedCNNClassifier(
            transfer=transfer,
            callbacks=scoring,
            early_stopping=True,
            max_epochs=3,
            device="cpu",
            random_state=0,
        ).fit(X, np.array(list("abcdefghij"))[y])  # string labels, encoded inside
        history = clf.net_.history
        assert clf.net_.classes_.tolist() == list(range(10))
        # the log loss of the predicted probabilities is the training criterion
        np.testing.assert_allclose(
            history[:, "valid_nll"], -np.array(history[:, "valid_loss"]), rtol=1e-5
        )
        assert all(0 <= acc <= 1 for acc in history[:, "valid_acc"])
    assert history[-1, "train_acc"] > 0.1  # feature extraction learns something
    binary = FineTunedCNNClassifier(
        callbacks=[EpochScoring("roc_auc", lower_is_better=False)],
        early_stopping=True,
        max_epochs=3,
        device="cpu",
        random_state=0,
    ).fit(X, y % 2)
    assert binary.net_.history[-1, "roc_auc"] > 0.8


def test_validation_scoring_without_a_validation_set_is_warned(digits):
    from skorch.callbacks import BatchScoring, EpochScoring

    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:100], digits[1][:100]
    scoring = [
        EpochScoring("accuracy", name="valid_acc", lower_is_better=False),
        BatchScoring("accuracy", name="valid_batch_acc"),
        EpochScoring("accuracy", name="train_acc", on_train=True),
    ]
    clf = FineTunedCNNClassifier(callbacks=scoring, max_epochs=2, random_state=0)
    with pytest.warns(UserWarning, match="does not hold out") as record:
        clf.fit(X, y)
    messages = [str(w.message) for w in record if "does not hold out" in str(w)]
    assert len(messages) == 2  # the training score is not warned of
    assert "EpochScoring 'valid_acc'" in messages[0]
    assert "BatchScoring 'valid_batch_acc'" in messages[1]
    assert record[0].filename == __file__  # the caller's line
    assert "valid_acc" not in clf.net_.history[-1]  # what skorch skips silently
    assert "train_acc" in clf.net_.history[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the validation set is there: no warning
        clf.set_params(early_stopping=True).fit(X, y)
    assert "valid_acc" in clf.net_.history[-1]


def test_skorch_freezers_are_warned_of_as_working_against_transfer(digits):
    """skorch's recipe freezes with a Freezer callback; here transfer= does,
    and a Freezer on top left the head training on the raw features."""
    from skorch.callbacks import EpochScoring, Freezer, Unfreezer

    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:100], digits[1][:100]
    for transfer, callback in [
        ("fine_tune", Freezer("backbone.*")),
        ("feature_extraction", Unfreezer("backbone.*", at=2)),
    ]:
        clf = FineTunedCNNClassifier(
            transfer=transfer,
            optimizer="adamw",
            callbacks=[callback],
            max_epochs=2,
            random_state=0,
        )
        with pytest.warns(UserWarning, match=f"a skorch {type(callback).__name__} in"):
            clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # other callbacks are not warned of
        scoring = EpochScoring("accuracy", on_train=True)
        clf.set_params(callbacks=[scoring]).fit(X, y)


def test_scoring_callbacks_record_the_epoch_early_stopping_ends_on(digits, stops_early):
    from skorch.callbacks import EpochScoring

    from sktransfer import FineTunedCNNClassifier

    X, y = digits[0][:300], digits[1][:300]
    clf = FineTunedCNNClassifier(
        callbacks=[EpochScoring("accuracy", name="valid_acc", lower_is_better=False)],
        **stops_early,
    ).fit(X, y)
    history = clf.net_.history
    assert len(history) < 40  # stopped early
    assert all("valid_acc" in row for row in history)  # the last epoch too
