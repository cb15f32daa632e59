"""L-BFGS for a head trained on features computed once (the linear probe)."""

import torch
from skorch.callbacks import Callback

try:  # private in torch: a release that moves it gets torch's own step
    from torch.optim.lbfgs import _strong_wolfe
except ImportError:  # pragma: no cover - the fallback is tested by patching
    _strong_wolfe = None


class LBFGS(torch.optim.LBFGS):
    """torch's L-BFGS with a strong-Wolfe line search and an L2 penalty.

    The solver scikit-learn's ``LogisticRegression`` uses by default, for a
    head that trains alone on cached features: each ``step`` runs up to
    ``max_iter`` iterations over the whole training set (one skorch epoch is
    one step) and stops early once no gradient entry exceeds 1e-4 (scikit-learn's
    ``tol``) or the loss no longer changes.
    Deterministic, and converged where a few hundred Adam steps on a small
    training set are not.

    The iterates are torch's (its strong-Wolfe line search, its stopping
    rules, the history carried from step to step and saved with the state),
    but the search direction comes from the compact form of the inverse
    Hessian (:func:`_direction`): a dozen tensor operations per iteration
    instead of four per stored curvature pair, which on small heads cost
    more than the loss itself.

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
        if _strong_wolfe is None:  # the same iterates, the two-loop direction
            loss = super().step(closure)
        else:
            loss = self._minimize(torch.enable_grad()(closure), state)
        self.converged = state["n_iter"] == before  # no iteration was needed
        return loss

    @torch.no_grad()
    def _minimize(self, closure, state):
        """torch's ``LBFGS.step`` with the strong-Wolfe line search, the
        direction from the compact form (see :func:`_direction`)."""
        group = self.param_groups[0]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_change = group["tolerance_change"]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= group["tolerance_grad"]:
            return orig_loss
        for n_iter in range(1, max_iter + 1):
            state["n_iter"] += 1
            if "d" not in state:  # the first iteration: steepest descent
                state["d"] = flat_grad.neg()
                t = min(1.0, 1.0 / float(flat_grad.abs().sum()))
            else:
                _remember(
                    state,
                    s=state["d"].mul(state["t"]),
                    y=flat_grad.sub(state["prev_flat_grad"]),
                    history_size=group["history_size"],
                )
                state["d"] = _direction(state, flat_grad)
                t = 1.0
            d = state["d"]
            state["prev_flat_grad"] = flat_grad.clone()
            prev_loss = loss
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                state["t"] = t
                break
            x_init = self._clone_param()
            loss, flat_grad, t, ls_evals = _strong_wolfe(
                lambda x, t, d: self._directional_evaluate(closure, x, t, d),
                x_init,
                t,
                d,
                loss,
                flat_grad,
                gtd,
                max_ls=max_eval - evals,
            )
            state["t"] = t
            self._add_grad(t, d)
            evals += ls_evals
            state["func_evals"] += ls_evals
            if (
                n_iter == max_iter
                or evals >= max_eval
                or flat_grad.abs().max() <= group["tolerance_grad"]
                or d.mul(t).abs().max() <= tolerance_change
                or abs(loss - prev_loss) < tolerance_change
            ):
                break
        return orig_loss


def _remember(state, s, y, history_size):
    """Add the curvature pair ``(s, y)`` to the history: the rows of ``S``
    and ``Y``, and the inner products ``SY = S Y^T`` and ``YY = Y Y^T`` that
    the compact form needs, each updated by one row and column. A pair
    without positive curvature is skipped, as torch skips it."""
    ys = float(y.dot(s))
    if ys <= 1e-10:
        return
    if "S" not in state:
        state["S"], state["Y"] = s[None], y[None]
        state["SY"], state["YY"] = s.dot(y).view(1, 1), y.dot(y).view(1, 1)
    else:
        keep = slice(1, None) if len(state["S"]) == history_size else slice(None)
        S = torch.cat([state["S"][keep], s[None]])
        Y = torch.cat([state["Y"][keep], y[None]])
        state["SY"] = _grow(state["SY"][keep, keep], row=Y @ s, column=S @ y)
        yy = Y @ y
        state["YY"] = _grow(state["YY"][keep, keep], row=yy, column=yy)
        state["S"], state["Y"] = S, Y
    state["H_diag"] = ys / float(y.dot(y))


def _grow(matrix, row, column):
    """``matrix`` with ``column`` (all but its last entry) appended on the
    right and ``row`` below."""
    top = torch.cat([matrix, column[:-1, None]], dim=1)
    return torch.cat([top, row[None]])


def _direction(state, grad):
    """``-H grad`` for the L-BFGS inverse Hessian ``H`` of the stored pairs,
    in the compact form of Byrd, Nocedal and Schnabel (1994):

        H = g I + [S^T  g Y^T] [[R^-T (D + g Y Y^T) R^-1, -R^-T], [-R^-1, 0]]
            [S; g Y]

    with ``g`` the scale ``s.y / y.y`` of the newest pair, ``R`` the upper
    triangle of ``S Y^T`` and ``D`` its diagonal. The same direction as
    torch's two-loop recursion, in a dozen tensor operations instead of
    four per stored pair; the small triangular solves run in float64."""
    gamma = state.get("H_diag", 1.0)
    if "S" not in state:
        return grad.mul(-gamma)
    S, Y = state["S"], state["Y"]
    SY, YY = state["SY"].double(), state["YY"].double()
    a, b = (S @ grad).double(), (Y @ grad).double()
    R = torch.triu(SY)
    p = torch.linalg.solve_triangular(R, a[:, None], upper=True)
    rhs = (torch.diagonal(SY)[:, None] * p) + gamma * (YY @ p) - gamma * b[:, None]
    u = torch.linalg.solve_triangular(R.T, rhs, upper=False)
    Hg = (
        grad.mul(gamma)
        + S.T @ u[:, 0].to(grad.dtype)
        - Y.T @ p[:, 0].to(grad.dtype) * gamma
    )
    return Hg.neg()


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
