"""The linear probe's loss and gradient in closed form (no autograd)."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier
from sktransfer._nn import MLPHead, Standardize
from sktransfer._probe import LinearProbe, linear_tail


def _head(n_features=12, n_classes=4, bias=True, hidden=(), dropout=0.0):
    torch.manual_seed(0)
    features = torch.randn(40, n_features) * 3 + 1
    head = nn.Sequential(
        Standardize.fit(features), MLPHead(n_features, hidden, n_classes, dropout)
    )
    if not bias:
        head[1][-1].bias = None
    return head, features


def _autograd(head, criterion, features, y):
    head.zero_grad(set_to_none=True)
    loss = criterion(head(features), y)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in head.parameters()]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_loss_and_grads_are_autograds(bias, weighted):
    head, features = _head(bias=bias)
    y = torch.arange(40) % 4
    weight = torch.tensor([0.5, 1.0, 2.0, 4.0]) if weighted else None
    criterion = nn.CrossEntropyLoss(weight=weight)
    expected_loss, expected_grads = _autograd(head, criterion, features, y)
    logits_expected = head(features).detach()

    head.zero_grad(set_to_none=True)
    probe = linear_tail(head, criterion)
    assert isinstance(probe, LinearProbe)
    loss, logits = probe(features, y, weight)
    torch.testing.assert_close(loss, expected_loss)
    torch.testing.assert_close(logits, logits_expected)
    grads = [p.grad for p in head.parameters()]
    assert len(grads) == len(expected_grads) == (2 if bias else 1)
    for grad, expected in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected)


def test_grads_accumulate_as_backward_does():
    head, features = _head()
    y = torch.arange(40) % 4
    criterion = nn.CrossEntropyLoss()
    _, once = _autograd(head, criterion, features, y)
    probe = linear_tail(head, criterion)
    probe(features, y)  # on top of autograd's grads
    for param, grad in zip(head.parameters(), once, strict=True):
        torch.testing.assert_close(param.grad, 2 * grad)


def test_the_prefix_runs_again_when_its_input_changes():
    head, features = _head()
    y = torch.arange(40) % 4
    criterion = nn.CrossEntropyLoss()
    probe = linear_tail(head, criterion)
    probe(features, y)
    features.mul_(2)  # in place: the same tensor, a new version
    loss, _ = probe(features, y)
    torch.testing.assert_close(loss, criterion(head(features), y))


@pytest.mark.parametrize(
    "change",
    [
        "hidden layer",
        "dropout",
        "label smoothing",
        "sum",
        "mse",
        "hook",
        "frozen bias",
        "custom container",
    ],
)
def test_heads_and_losses_it_does_not_cover_keep_autograd(change):
    head, _ = _head(
        hidden=(8,) if change == "hidden layer" else (),
        dropout=0.2 if change == "dropout" else 0.0,
    )
    criterion = {
        "label smoothing": nn.CrossEntropyLoss(label_smoothing=0.1),
        "sum": nn.CrossEntropyLoss(reduction="sum"),
        "mse": nn.MSELoss(),
    }.get(change, nn.CrossEntropyLoss())
    if change == "hook":
        head[1][-1].register_forward_hook(lambda *args: None)
    if change == "frozen bias":
        head[1][-1].bias.requires_grad_(False)
    if change == "custom container":

        class Residual(nn.Sequential):
            def forward(self, x):
                return x + super().forward(x)

        head = Residual(head)
    assert linear_tail(head, criterion) is None
    assert linear_tail(nn.Sequential(), nn.CrossEntropyLoss()) is None


def _counting(monkeypatch):
    calls = []
    original = LinearProbe.__call__

    def counted(self, *args):
        calls.append(len(args[1]))
        return original(self, *args)

    monkeypatch.setattr(LinearProbe, "__call__", counted)
    return calls


def _without_probe(monkeypatch):
    monkeypatch.setattr("sktransfer._base.linear_tail", lambda head, crit: None)


@pytest.mark.parametrize("optimizer", ["auto", "adamw"])
def test_a_probe_fit_trains_as_through_autograd(
    digits_split, source_model, optimizer, monkeypatch
):
    """The fast path serves every step of a feature-extraction fit with a
    linear head, L-BFGS's line search and AdamW's batches alike, and trains
    the same model as autograd does, up to float rounding."""
    X, y = digits_split["X_pool"][:150], digits_split["y_pool"][:150]

    def fit():
        return FineTunedCNNClassifier(
            source_model,
            transfer="feature_extraction",
            optimizer=optimizer,
            class_weight="balanced",
            max_epochs=5,
            device="cpu",
            random_state=0,
        ).fit(X, y)

    with monkeypatch.context() as patch:
        calls = _counting(patch)
        fast = fit()
    steps = sum(len(epoch["batches"]) for epoch in fast.net_.history)
    assert len(calls) >= steps > 0  # L-BFGS evaluates several times a step
    assert set(calls) <= {150, 32, 150 % 32}
    with monkeypatch.context() as patch:
        _without_probe(patch)
        slow = fit()
    # float rounding differs (one dot product against autograd's reductions),
    # and L-BFGS's line search carries it along: close, not bit-identical.
    # Measured with L-BFGS: 7e-4 on torch 2.13, 2.5e-3 on torch 2.3; a probe
    # that left out the class weights: 0.12
    X_test = digits_split["X_test"]
    np.testing.assert_allclose(
        fast.predict_proba(X_test), slow.predict_proba(X_test), atol=5e-3
    )
    np.testing.assert_allclose(
        fast.net_.history[:, "train_loss"], slow.net_.history[:, "train_loss"], 1e-3
    )
    # nothing of the training batches is kept with the model: their features
    # would add 150 x 64 float32 (38 kB); the optimizers' L-BFGS histories may
    # differ by a step (2.9 kB each here)
    batch_bytes = fast.extract_features(X).nbytes
    assert abs(len(pickle.dumps(fast)) - len(pickle.dumps(slow))) < batch_bytes / 4


def test_a_word_vector_probe_takes_it_too(glove, news, monkeypatch):
    calls = _counting(monkeypatch)
    clf = PretrainedEmbeddingClassifier(
        glove, hidden_layer_sizes=(), device="cpu", random_state=0
    ).fit(news["X"], news["y"])
    assert calls and clf.score(news["X_test"], news["y_test"]) > 0.6


def test_fine_tuning_and_hidden_layers_keep_autograd(
    digits_split, source_model, monkeypatch
):
    calls = _counting(monkeypatch)
    X, y = digits_split["X_pool"][:60], digits_split["y_pool"][:60]
    for params in ({"transfer": "fine_tune"}, {"hidden_layer_sizes": (16,)}):
        FineTunedCNNClassifier(
            source_model, max_epochs=2, device="cpu", random_state=0, **params
        ).fit(X, y)
    assert calls == []
