"""L-BFGS for the linear probe: optimizer="auto" and "lbfgs"."""

import functools
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import GradientNormClipping, LRScheduler
from torch.optim.lr_scheduler import StepLR

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier, _optim
from sktransfer._optim import LBFGS
from sktransfer.utils._testing import Epochs


def _probe(split, n_per_class=10):
    """Digits 5-9, ``n_per_class`` labelled images each (seeded)."""
    rng = np.random.RandomState(0)
    y = split["y_pool"]
    idx = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), n_per_class, replace=False)
            for c in range(5, 10)
        ]
    )
    return split["X_pool"][idx], y[idx]


def _fe(source, **params):
    params = {"transfer": "feature_extraction", **params}
    return FineTunedCNNClassifier(
        backbone=source, random_state=0, device="cpu", **params
    )


def test_auto_solves_the_linear_probe_where_adam_steps_fall_short(
    digits_split, source_model
):
    """With the defaults (20 epochs, lr 1e-3, batches of 32) 50 images give
    AdamW 40 steps: the head stays far from converged. "auto" solves the
    probe with L-BFGS, as LogisticRegression would, with its C=1 penalty."""
    X, y = _probe(digits_split)
    X_test, y_test = digits_split["X_test"], digits_split["y_test"]
    auto = _fe(source_model).fit(X, y)
    adamw = _fe(source_model, optimizer="adamw").fit(X, y)
    assert isinstance(auto.net_.optimizer_, LBFGS)
    assert auto.net_.optimizer_.param_groups[0]["weight_decay"] == 1 / len(y)
    assert adamw.net_.optimizer_.param_groups[0]["weight_decay"] == 0.0
    assert auto.score(X_test, y_test) >= adamw.score(X_test, y_test) + 0.15
    assert (
        adamw.net_.history[-1, "train_loss"] > 3 * auto.net_.history[-1, "train_loss"]
    )


def test_the_default_penalty_keeps_probabilities_from_saturating(
    digits_split, source_model
):
    X, y = _probe(digits_split)
    X_test = digits_split["X_test"]
    default = _fe(source_model).fit(X, y).predict_proba(X_test)
    unpenalized = _fe(source_model, weight_decay=0.0).fit(X, y).predict_proba(X_test)
    assert unpenalized.max(axis=1).mean() > 0.95  # separable: weights grow
    assert default.max(axis=1).mean() < unpenalized.max(axis=1).mean() - 0.05


def test_the_penalty_is_on_weights_and_in_the_loss_the_line_search_sees():
    torch.manual_seed(0)
    X, y = torch.randn(40, 3), torch.arange(40) % 2
    head = torch.nn.Linear(3, 2)
    optimizer = LBFGS(head.parameters(), weight_decay=0.5)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(X), y)
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    # at the optimum of loss + 0.25 |W|^2 the gradient of both cancels
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(head(X), y).backward()
    torch.testing.assert_close(head.weight.grad, -0.5 * head.weight, atol=2e-4, rtol=0)
    torch.testing.assert_close(head.bias.grad, torch.zeros(2), atol=2e-4, rtol=0)


@pytest.mark.parametrize("line_search", ["imported", "missing"])
@pytest.mark.parametrize("history_size", [100, 4])
def test_the_steps_are_torchs_lbfgs_steps(history_size, line_search, monkeypatch):
    """The direction from the compact form is the two-loop recursion's: the
    same iterates as torch's L-BFGS with the same line search, also once
    the history is full and its oldest pairs are dropped. A torch without
    the private line search the step imports gets torch's own step."""
    if line_search == "missing":
        monkeypatch.setattr(_optim, "_strong_wolfe", None)
    torch.manual_seed(0)
    X = torch.randn(200, 10)
    y = (X @ torch.randn(10, 3) + torch.randn(200, 3)).argmax(1)
    heads = [torch.nn.Linear(10, 3), torch.nn.Linear(10, 3)]
    heads[1].load_state_dict(heads[0].state_dict())
    ours = LBFGS(heads[0].parameters())
    theirs = torch.optim.LBFGS(
        heads[1].parameters(), tolerance_grad=1e-4, line_search_fn="strong_wolfe"
    )
    for optimizer, head in zip((ours, theirs), heads, strict=True):
        optimizer.param_groups[0]["history_size"] = history_size

        def closure(optimizer=optimizer, head=head):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(X), y)
            loss.backward()
            return loss

        for _ in range(2):  # the history carries over from step to step
            optimizer.step(closure)
    n_iter = ours.state[heads[0].weight]["n_iter"]
    assert n_iter == theirs.state[heads[1].weight]["n_iter"]
    assert n_iter > 4  # the short history was full
    torch.testing.assert_close(heads[0].weight, heads[1].weight, atol=1e-4, rtol=0)
    torch.testing.assert_close(heads[0].bias, heads[1].bias, atol=1e-4, rtol=0)


def test_a_pair_without_positive_curvature_is_not_remembered():
    """As torch skips it: it would make the inverse Hessian indefinite."""
    state = {}
    s = torch.tensor([1.0, 0.0])
    _optim._remember(state, s=s, y=torch.tensor([-1.0, 2.0]), history_size=4)
    assert state == {}
    _optim._remember(state, s=s, y=torch.tensor([2.0, 0.0]), history_size=4)
    assert len(state["S"]) == 1 and state["H_diag"] == 0.5


def test_the_penalty_shrinks_a_weight_the_loss_does_not_use():
    torch.manual_seed(0)
    X, y = torch.randn(40, 3), torch.arange(40) % 2
    used, unused = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    optimizer = LBFGS([*used.parameters(), *unused.parameters()], weight_decay=0.5)

    def closure():
        optimizer.zero_grad()  # grads are None until the loss fills them
        loss = torch.nn.functional.cross_entropy(used(X), y)
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    assert unused.weight.abs().max() < 1e-4  # only its penalty acted on it


def test_the_lbfgs_probe_is_logistic_regression_on_the_scaled_features(
    digits_split, source_model
):
    """The head "auto" solves is the model scikit-learn's LogisticRegression(C=1)
    fits on the same features, centred and divided by their root mean square
    (the head's Standardize): the same weights up to the solvers' tolerances."""
    from sklearn.linear_model import LogisticRegression

    X, y = _probe(digits_split)
    X_test = digits_split["X_test"]
    clf = _fe(source_model, max_epochs=200).fit(X, y)
    scaler, linear = clf.net_.module_.head[0], clf.net_.module_.head[-1][-1]

    def scaled(images):
        with torch.no_grad():
            return scaler(torch.as_tensor(clf.extract_features(images))).numpy()

    reference = LogisticRegression(C=1.0, tol=1e-8, max_iter=10_000)
    reference.fit(scaled(X), y)
    weights = linear.weight.detach().numpy()
    # measured: 0.4 % of the largest weight, probabilities within 0.006
    assert np.abs(weights - reference.coef_).max() < 0.02 * np.abs(weights).max()
    np.testing.assert_allclose(
        clf.predict_proba(X_test), reference.predict_proba(scaled(X_test)), atol=0.03
    )
    assert (clf.predict(X_test) == reference.predict(scaled(X_test))).mean() > 0.98


def test_auto_keeps_adamw_where_lbfgs_does_not_fit(digits_split, source_model):
    """Hidden layers or dropout in the head, more than the head training, or
    gradient clipping (which misled the line search: on 100 digits the probe
    scored 0.77 with GradientNormClipping(0.01), 0.86 without): AdamW."""
    X, y = _probe(digits_split, 3)
    for params in (
        {"hidden_layer_sizes": (16,)},
        {"dropout": 0.1},
        {"transfer": "fine_tune"},
        {"callbacks": [GradientNormClipping(0.01)]},
    ):
        clf = _fe(source_model, max_epochs=1, **params).fit(X, y)
        assert type(clf.net_.optimizer_) is torch.optim.AdamW, params
    # asked for by name, L-BFGS also trains a hidden layer, without a penalty
    clf = _fe(
        source_model, optimizer="lbfgs", hidden_layer_sizes=(16,), weight_decay=0.0
    ).fit(X, y)
    assert isinstance(clf.net_.optimizer_, LBFGS)
    assert clf.net_.history[-1, "train_loss"] < 0.01


def test_bf16_computes_the_features_and_lbfgs_solves_the_head_in_float32(
    digits_split, source_model
):
    # bf16 is for the source's forward pass; the head on cached features
    # trains in float32, so "auto" solves it as at precision="32" (AdamW in
    # bf16, which it fell back to before, scored 0.61 against 0.77 here)
    X, y = _probe(digits_split, 20)
    X_test, y_test = digits_split["X_test"], digits_split["y_test"]
    full = _fe(source_model).fit(X, y)
    half = _fe(source_model, precision="bf16").fit(X, y)
    assert isinstance(half.net_.optimizer_, LBFGS)
    loss = [model.net_.history[-1, "train_loss"] for model in (half, full)]
    assert loss[0] == pytest.approx(loss[1], abs=0.01)  # the same optimum
    assert abs(half.score(X_test, y_test) - full.score(X_test, y_test)) < 0.02
    # the features themselves were computed in bfloat16, as predict runs them
    standardize = half.net_.module_.head[0]
    assert not torch.equal(standardize.mean, full.net_.module_.head[0].mean)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"transfer": "fine_tune"}, "with transfer='fine_tune'"),
        ({"dropout": 0.1}, "dropout makes the loss random"),
        ({"callbacks": [GradientNormClipping]}, "GradientNormClipping callback"),
    ],
)
def test_lbfgs_refuses_what_it_cannot_train(digits_split, source_model, params, match):
    X, y = _probe(digits_split, 3)
    with pytest.raises(ValueError, match=match):
        _fe(source_model, optimizer="lbfgs", **params).fit(X, y)


def test_a_linear_head_on_frozen_word_vectors_is_solved_too(glove, news):
    clf = PretrainedEmbeddingClassifier(
        glove, hidden_layer_sizes=(), device="cpu", random_state=0
    ).fit(news["X"], news["y"])
    assert isinstance(clf.net_.optimizer_, LBFGS)
    assert clf.score(news["X_test"], news["y_test"]) > 0.6
    default = PretrainedEmbeddingClassifier(glove, max_epochs=1, device="cpu")
    assert type(default.fit(news["X"], news["y"]).net_.optimizer_) is torch.optim.AdamW


def test_lr_set_for_an_lbfgs_probe_is_reported(digits_split, source_model):
    """As for other parameters a setting ignores: lr does nothing to L-BFGS."""
    X, y = _probe(digits_split, 3)
    with pytest.warns(UserWarning, match="lr=0.01 has no effect with transfer="):
        _fe(source_model, lr=0.01).fit(X, y)
    # a schedule too: skorch's LRScheduler stepped L-BFGS's lr, unreported
    schedule = [LRScheduler(StepLR, step_size=1, gamma=0.1)]
    with pytest.warns(UserWarning, match="an LRScheduler in callbacks has no effect"):
        _fe(source_model, callbacks=schedule).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adamw = {"optimizer": "adamw", "max_epochs": 1}
        _fe(source_model, lr=0.01, callbacks=schedule, **adamw).fit(X, y)
        _fe(source_model).fit(X, y)


def test_an_lbfgs_fit_resumed_from_its_checkpoint_equals_an_uninterrupted_one(
    tmp_path, digits_split, source_model
):
    """The L-BFGS state (its curvature pairs) is in the checkpoint: on 400
    images the probe takes three steps of 20 iterations, and the power goes
    after the first."""

    X, y = _probe(digits_split, 80)
    settings = {"max_epochs": 4}

    def fit(cut=None, checkpoint_dir=tmp_path):
        clf = _fe(
            source_model,
            checkpoint_dir=checkpoint_dir,
            callbacks=[("epochs", Epochs(cut))],
            **settings,
        )
        return clf.fit(X, y)

    with pytest.raises(RuntimeError, match="power cut"):
        fit(cut=2)
    resumed = fit()
    assert dict(resumed.net_.callbacks_)["epochs"].run == 3  # 1 from the checkpoint
    straight = fit(checkpoint_dir=None)
    losses = straight.net_.history[:, "train_loss"]
    assert losses[2] < losses[1] < losses[0]  # still moving after the cut
    np.testing.assert_array_equal(
        resumed.predict_proba(digits_split["X_test"]),
        straight.predict_proba(digits_split["X_test"]),
    )


def test_training_ends_once_lbfgs_has_converged(tmp_path, digits_split, source_model):
    """As LogisticRegression stops at convergence: the epoch whose step finds
    the gradient within tol ends the fit, which counts as finished (no
    interruption warning, no checkpoint left to resume)."""
    X, y = _probe(digits_split, 80)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = _fe(source_model, max_epochs=50, checkpoint_dir=tmp_path).fit(X, y)
    epochs = len(clf.net_.history)
    assert 2 <= epochs < 10
    assert dict(clf.net_.callbacks_)["lbfgs_converged"].stopped_
    assert not list(tmp_path.glob("checkpoint-*.pt"))
    losses = clf.net_.history[:, "train_loss"]  # each at its step's start
    assert losses[-1] < losses[0]
    # the last epoch's step found nothing left to do: one epoch fewer gives the
    # same model (the data loss alone need not settle: the L2 penalty counts)
    earlier = _fe(source_model, max_epochs=epochs - 1).fit(X, y)
    np.testing.assert_array_equal(earlier.predict_proba(X), clf.predict_proba(X))
    adamw = _fe(source_model, optimizer="adamw", max_epochs=3).fit(X, y)
    assert "lbfgs_converged" not in dict(adamw.net_.callbacks_)
    assert len(adamw.net_.history) == 3


@pytest.mark.parametrize("optimizer", [torch.optim.Rprop, torch.optim.LBFGS])
def test_an_optimizer_class_without_weight_decay_trains(digits_split, optimizer):
    """torch's Rprop and LBFGS take no weight_decay: with weight_decay=None
    (or 0) it is not passed to them."""
    X, y = _probe(digits_split, 5)
    for weight_decay in (None, 0.0):
        clf = FineTunedCNNClassifier(
            optimizer=optimizer,
            weight_decay=weight_decay,
            max_epochs=2,
            random_state=0,
            device="cpu",
        ).fit(X, y)
        assert type(clf.net_.optimizer_) is optimizer
        assert len(clf.net_.history) == 2
        assert np.isfinite(clf.net_.history[-1, "train_loss"])


def test_a_partial_sets_the_optimizers_other_arguments(digits_split):
    """optimizer=functools.partial(SGD, momentum=0.9): the momentum skorch
    users set with optimizer__momentum. A weight_decay in the partial is the
    one used; set there and as weight_decay, it is refused."""
    X, y = _probe(digits_split, 5)
    sgd = functools.partial(torch.optim.SGD, momentum=0.9)
    fast = {"max_epochs": 2, "random_state": 0, "device": "cpu"}
    clf = FineTunedCNNClassifier(optimizer=sgd, **fast).fit(X, y)
    group = clf.net_.optimizer_.param_groups[0]
    assert type(clf.net_.optimizer_) is torch.optim.SGD
    assert (group["momentum"], group["weight_decay"]) == (0.9, 0.0)
    decayed = functools.partial(torch.optim.AdamW, weight_decay=0.3)
    clf = FineTunedCNNClassifier(optimizer=decayed, **fast).fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.3
    with pytest.raises(ValueError, match="weight_decay is set twice"):
        FineTunedCNNClassifier(optimizer=decayed, weight_decay=0.1, **fast).fit(X, y)
