"""L-BFGS for a head trained on features computed once (the linear probe)."""

import torch
from skorch.callbacks import Callback


class LBFGS(torch.optim.LBFGS):
    """torch's L-BFGS with a strong-Wolfe line search and an L2 penalty.

    The solver scikit-learn's ``LogisticRegression`` uses by default, for a
    head that trains alone on cached features: each ``step`` runs up to
    ``max_iter`` iterations over the whole training set (one skorch epoch is
    one step) and stops early once no gradient entry exceeds 1e-4 (scikit-learn's
    ``tol``) or the loss no longer changes.
    Deterministic, and converged where a few hundred Adam steps on a small
    training set are not.

    Parameters
    ----------
    params : iterable of tensors or of parameter groups (dicts)
        One group: those that do not require grad (a frozen source) are left
        out, and per-group options do not apply.
    lr : float, default=1.0
        Not used: the line search chooses each step from a unit step, as
        scikit-learn's L-BFGS does. (skorch passes the estimator's ``lr``.)
    weight_decay : float, default=0.0
        An L2 penalty on the weight matrices (not the biases, as in
        scikit-learn's ``LogisticRegression``): ``weight_decay / 2 * |W|^2``
        is added to the loss the line search sees, ``weight_decay * W`` to
        the gradient.
    max_iter : int, default=20
        Iterations per step.

    Attributes
    ----------
    converged : bool
        Whether the last step found the gradient within ``tol`` before
        iterating (see :class:`StopWhenConverged`).
    """

    def __init__(self, params, lr=1.0, weight_decay=0.0, max_iter=20):
        params = [
            p
            for item in params
            for p in (item["params"] if isinstance(item, dict) else [item])
            if p.requires_grad
        ]
        super().__init__(
            params,
            lr=1.0,
            max_iter=max_iter,
            tolerance_grad=1e-4,  # LogisticRegression's default tol
            line_search_fn="strong_wolfe",
        )
        self.param_groups[0]["weight_decay"] = weight_decay  # saved with the state
        self.converged = False

    def step(self, closure):
        """One L-BFGS step; ``closure`` clears the grads, computes the loss and
        its gradient, and returns the loss."""
        group = self.param_groups[0]
        if group["weight_decay"]:
            params = [p for p in group["params"] if p.dim() > 1]
            unpenalized = closure

            def closure():
                loss = unpenalized()
                with torch.no_grad():  # the penalty's gradient, without a backward
                    for p in params:
                        if p.grad is None:  # a weight the loss does not use
                            p.grad = torch.zeros_like(p)
                        p.grad.add_(p, alpha=group["weight_decay"])
                    penalty = sum(p.pow(2).sum() for p in params)
                return loss + penalty * group["weight_decay"] / 2

        state = self.state[self._params[0]]
        before = state.get("n_iter", 0)
        loss = super().step(closure)
        self.converged = state["n_iter"] == before  # no iteration was needed
        return loss


class StopWhenConverged(Callback):
    """End training at the epoch whose :class:`LBFGS` step found nothing left
    to do, as ``LogisticRegression`` stops at convergence: the remaining
    epochs would each repeat that check."""

    def initialize(self):
        self.stopped_ = False
        return self

    def on_epoch_end(self, net, **kwargs):
        if getattr(net.optimizer_, "converged", False):
            self.stopped_ = True
            raise KeyboardInterrupt  # how skorch's EarlyStopping ends a fit
