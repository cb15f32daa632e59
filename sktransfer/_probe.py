"""The linear probe's cross-entropy and its gradient in closed form.

A head that trains alone on cached features, and whose only trainable layer
is its last ``Linear``, is a multinomial logistic regression: the gradient of
the mean cross-entropy with respect to the logits is ``softmax - one_hot``,
divided by the number of samples (or by their summed class weights). Setting
the ``Linear``'s grads from that formula, as scikit-learn's
``LogisticRegression`` does, skips the autograd graph, whose fixed cost per
forward and backward exceeds the arithmetic on small problems. The default
feature-extraction fit of a SmallCNN source on 500 digits (L-BFGS, 53 loss
evaluations) took 43-50 ms through autograd and takes 35 ms; with AdamW over
320 batches of 32, 110-125 ms and 94-104 ms. One loss and gradient, with the
standardized features kept: 500 x 64 features, 5 classes, 197 -> 70 us;
600 x 1280 (EfficientNet-Lite0's), 10 classes, 2.75 -> 0.49 ms; 20,000 x
512, 20 classes, 38 -> 15 ms.
"""

import torch
from torch import nn

from sktransfer._nn import CrossEntropyLoss, Standardize


def linear_tail(head, criterion):
    """A :class:`LinearProbe` when ``head`` trains as a linear probe under
    ``criterion`` -- a chain of ``nn.Sequential``s whose last leaf is a plain
    ``nn.Linear`` without hooks, after fixed maps alone (``Standardize``,
    ``Identity``, ``Flatten``, dropout of 0), and a plain mean
    ``CrossEntropyLoss`` -- else ``None``."""
    if type(criterion) not in (nn.CrossEntropyLoss, CrossEntropyLoss):
        return None
    if not _plain(criterion):
        return None
    leaves = _leaves(head)
    if not leaves or type(leaves[-1]) is not nn.Linear:
        return None
    *prefix, linear = leaves
    if not all(_fixed(module) for module in prefix):
        return None
    if not linear.weight.requires_grad or _hooked(linear):
        return None
    if linear.bias is not None and not linear.bias.requires_grad:
        return None
    return LinearProbe(prefix, linear)


def _fixed(module):
    """Whether ``module`` is one of the deterministic, untrained maps that may
    precede the probe's ``Linear`` (its output is reused while its input is
    the same)."""
    if isinstance(module, nn.Dropout):
        return module.p == 0
    return type(module) in (Standardize, nn.Identity, nn.Flatten)


def _plain(criterion):
    return criterion.reduction == "mean" and criterion.label_smoothing == 0.0


def _hooked(module):
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
    )


def _leaves(module):
    """The modules a chain of ``nn.Sequential``s runs, in order (``None``
    when some container is not a plain ``Sequential``)."""
    if not any(True for _ in module.children()):
        return [module]
    if type(module).forward is not nn.Sequential.forward:
        return None
    leaves = []
    for child in module.children():
        inner = _leaves(child)
        if inner is None:
            return None
        leaves += inner
    return leaves


class LinearProbe:
    """The closed-form loss of one head (see :func:`linear_tail`).

    What depends on the batch alone -- the prefix's output, the one-hot
    labels times each sample's share of the loss -- is kept for the last
    batch: L-BFGS evaluates the loss on the same full batch many times a
    step.
    """

    def __init__(self, prefix, linear):
        self.prefix, self.linear = prefix, linear
        self._seen = self._held = self._batch = None

    def _prepared(self, features, y, class_weight):
        """``(inputs, share, target)`` for the batch: the prefix's output,
        each sample's share of the mean loss, and the one-hot labels (classes
        x samples) times that share; computed again only for other tensors or
        ones changed in place."""
        held = (features, y, class_weight)
        seen = tuple((id(t), getattr(t, "_version", None)) for t in held)
        if self._seen != seen:
            with torch.no_grad():
                inputs = features
                for module in self.prefix:
                    inputs = module(inputs)
                classes = torch.arange(self.linear.out_features, device=y.device)
                one_hot = (y[None] == classes[:, None]).to(inputs.dtype)
                if class_weight is None:
                    share = 1.0 / len(y)
                else:
                    share = class_weight[y]  # all 0: loss 0, as CrossEntropyLoss's
                    share = share / share.sum().clamp_min(torch.finfo(share.dtype).tiny)
                self._batch = inputs, share, one_hot.mul_(share)
            # the tensors are held, so their ids are not reused while seen
            self._seen, self._held = seen, held
        return self._batch

    def __call__(self, features, y, class_weight=None):
        """The mean cross-entropy of the head's logits for ``features``
        against ``y``; adds its gradient to the grads of the ``Linear``'s
        weight and bias, as ``backward`` would, and returns
        ``(loss, logits)``.

        ``class_weight`` weighs each sample's loss by its class, normalized by
        the summed weights, as ``CrossEntropyLoss(weight=)`` does.
        """
        inputs, share, target = self._prepared(features, y, class_weight)
        weight, bias = self.linear.weight, self.linear.bias
        with torch.no_grad():
            # classes x samples: softmax over a contiguous dimension 0 is
            # several times faster than over the few classes of each row
            logits = weight @ inputs.T
            if bias is not None:
                logits += bias[:, None]
            log_proba = torch.log_softmax(logits, dim=0)
            loss = log_proba.flatten().dot(target.flatten()).neg()
            # d loss / d logits = share * (softmax - one_hot)
            grad = log_proba.exp_().mul_(share).sub_(target)
            _accumulate(weight, grad @ inputs)
            if bias is not None:
                _accumulate(bias, grad.sum(1))
        return loss, logits.T


def _accumulate(param, grad):
    """Add ``grad`` to ``param.grad``, as ``backward`` does."""
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)
