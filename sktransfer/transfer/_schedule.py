"""Gradual unfreezing: a schedule expressed as data, applied by a callback."""

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from skorch.callbacks import Callback, EarlyStopping
from torch import nn

from sktransfer.transfer._blocks import block_patterns, prefixed, transfer_blocks
from sktransfer.transfer._freeze import set_trainable
from sktransfer.transfer._module import unwrapped
from sktransfer.utils._warnings import caller_stacklevel


def default_unfreeze_schedule(n_blocks: int) -> dict[int, int]:
    """One more block of the source trainable per epoch, output side first.

    Parameters
    ----------
    n_blocks : int
        The source's blocks (:func:`transfer_blocks`).

    Returns
    -------
    schedule : dict of int to int
        ``{1: 1, 2: 2, ..., n_blocks: n_blocks}``: after epoch ``e`` the last
        ``e`` blocks train.

    Examples
    --------
    >>> from sktransfer.transfer import default_unfreeze_schedule
    >>> default_unfreeze_schedule(3)
    {1: 1, 2: 2, 3: 3}
    """
    return {epoch: epoch for epoch in range(1, n_blocks + 1)}


def resolve_unfreeze_schedule(
    schedule: Mapping[int, Any] | Sequence[tuple[int, Any]] | None,
    source: nn.Module,
    prefix: str,
) -> list[tuple[int, tuple[str, ...]]]:
    """Normalise an unfreeze schedule to sorted ``(epoch, patterns)`` pairs.

    Parameters
    ----------
    schedule : mapping or sequence of (int, spec) pairs, or None
        ``{epoch: spec}``: from the start of epoch ``epoch`` (0-based: ``0`` means
        from the start, ``2`` means after two epochs) what ``spec`` names becomes
        trainable, and stays so. ``spec`` is an int ``k`` (the last ``k`` blocks of
        the source), a glob on the source's parameter names, or a tuple of globs.
        ``None`` uses :func:`default_unfreeze_schedule`.
    source : torch.nn.Module
        The module the schedule unfreezes.
    prefix : str
        Where ``source`` sits inside the trained module (``"backbone."``).

    Returns
    -------
    list of (int, tuple of str)
        Patterns in the trained module's parameter names, sorted by epoch.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import resolve_unfreeze_schedule
    >>> source = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    >>> resolve_unfreeze_schedule({3: "0.*", 1: 1}, source, "backbone.")
    [(1, ('backbone.1.*',)), (3, ('backbone.0.*',))]
    """
    if schedule is None:
        schedule = default_unfreeze_schedule(len(transfer_blocks(source)))
    not_a_schedule = TypeError(
        "unfreeze_schedule must be a dict {epoch: spec} or a sequence of "
        f"(epoch, spec) pairs, e.g. {{0: 1, 2: 'block1.*'}}; got {schedule!r}."
    )
    if isinstance(schedule, (str, bytes)):  # its characters are no pairs
        raise not_a_schedule
    items = schedule.items() if isinstance(schedule, Mapping) else schedule
    try:
        items = [tuple(item) for item in items]
    except TypeError as exc:
        raise not_a_schedule from exc
    resolved = []
    for item in items:
        if len(item) != 2:
            raise ValueError(
                f"unfreeze_schedule entry {item!r} is not an (epoch, spec) pair."
            )
        epoch, spec = item
        if not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(
                f"unfreeze_schedule epochs must be integers >= 0; got {epoch!r}."
            )
        patterns = block_patterns(
            source, spec, f"unfreeze_schedule spec at epoch {epoch}"
        )
        resolved.append((int(epoch), prefixed(patterns, prefix)))
    return sorted(resolved, key=lambda pair: pair[0])


def warn_unreached(epochs, max_epochs, param):
    """Warn when an unfreeze at one of ``epochs`` (0-based) comes at or after
    ``max_epochs``: training ends first and that part stays frozen. ``param``
    names the hyperparameter the user set. Called from an estimator's ``fit``
    (under scikit-learn's and sktransfer's fit wrappers): the warning points
    at the caller of ``fit``. An empty schedule, which unfreezes nothing,
    is warned about too."""
    if not len(epochs):
        warnings.warn(
            f"{param} is empty: it unfreezes nothing, and the source stays "
            "frozen; transfer='feature_extraction' trains the same head faster "
            "(on features computed once).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    late = sorted({int(epoch) for epoch in epochs if epoch >= max_epochs})
    if late:
        warnings.warn(
            f"{param} unfreezes at epoch {late[0]} (epochs count from 0), but "
            f"training ends after max_epochs={max_epochs}: that part of the "
            "source stays frozen.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def warn_block_count(k, n_blocks, param, unit="blocks", frozen="feature_extraction"):
    """Warn when ``param=k`` asks for none of the source's ``unit`` (the
    source stays frozen, and ``transfer=frozen`` trains the same head
    faster), or for more than the ``n_blocks`` it has: all of them train, as
    with ``param=n_blocks``, so a grid over larger values fits the same model
    again. Called from an estimator's ``fit``, as :func:`warn_unreached`."""
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        return
    if k == 0:
        warnings.warn(
            f"{param}=0 trains none of the source's {unit}: it stays frozen, "
            f"and transfer={frozen!r} trains the same head faster (on "
            "features computed once).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    elif k > n_blocks:
        warnings.warn(
            f"{param}={k}, but the source has {n_blocks} {unit}: all of them "
            f"train, as with {param}={n_blocks}, and larger values fit the "
            "same model.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


class UnfreezeSchedule(Callback):
    """skorch callback that unfreezes parameters at scheduled epochs.

    At the start of each epoch every entry whose epoch has been reached is made
    trainable, and the number of trainable parameter tensors is recorded in the
    history as ``"n_trainable"``. The optimizer must already hold the frozen
    parameters (skorch's optimizer does: it is built over all parameters), so
    unfreezing needs no new optimizer and keeps its state. The patterns name
    the model's own parameters, also when a fit on several processes has
    wrapped it in DistributedDataParallel; a net with a
    ``refresh_trainable()`` method (sktransfer's accelerated one) is told when
    something was unfrozen.

    Parameters
    ----------
    schedule : list of (int, tuple of str)
        As returned by :func:`resolve_unfreeze_schedule`.

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from sktransfer.transfer import UnfreezeSchedule, freeze
    >>> module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> _ = freeze(module, "0.*")
    >>> net = NeuralNetRegressor(
    ...     module, max_epochs=3, train_split=None, verbose=0,
    ...     callbacks=[("unfreeze", UnfreezeSchedule([(2, ("0.*",))]))],
    ... )
    >>> X, y = torch.randn(8, 2), torch.randn(8, 1)
    >>> net.fit(X, y).history[:, "n_trainable"]
    [2, 2, 4]
    """

    def __init__(self, schedule):
        self.schedule = schedule

    def unfreeze(self, module, epoch):
        """Make trainable what the schedule unfreezes by the start of ``epoch``.

        Parameters
        ----------
        module : torch.nn.Module
            The trained module (its parameters named as the patterns are).
        epoch : int
            The epoch about to begin, 0-based: every entry scheduled at or
            before it applies (a loaded model replays its fit's epochs so).

        Returns
        -------
        unfrozen : int
            How many parameter tensors this made trainable.
        """
        frozen = sum(1 for p in module.parameters() if not p.requires_grad)
        for start, patterns in self.schedule:
            if start <= epoch:
                set_trainable(module, patterns, trainable=True)
        return frozen - sum(1 for p in module.parameters() if not p.requires_grad)

    def on_epoch_begin(self, net, **kwargs):
        unfrozen = self.unfreeze(unwrapped(net.module_), len(net.history) - 1)
        if unfrozen and hasattr(net, "refresh_trainable"):
            net.refresh_trainable()
        net.history.record(
            "n_trainable",
            sum(1 for p in net.module_.parameters() if p.requires_grad),
        )


class UnfreezingEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` that lets an unfreeze schedule run.

    It does not stop training before the last epoch in ``unfreeze_at`` (a
    frozen source's plateau would otherwise end the fit before the source
    ever trained), and its patience starts again at each of those epochs:
    the model has more to train from then on. The best weights are those of
    the best epoch of the whole fit, frozen or not.

    Parameters
    ----------
    monitor, patience, load_best
        As skorch's ``EarlyStopping``.
    unfreeze_at : tuple of int, default=()
        The epochs (0-based) at which something is unfrozen.
    """

    def __init__(
        self, monitor="valid_loss", patience=5, load_best=False, unfreeze_at=()
    ):
        super().__init__(monitor=monitor, patience=patience, load_best=load_best)
        self.unfreeze_at = unfreeze_at

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history) - 1
        if epoch in self.unfreeze_at:
            self.misses_ = 0
        if epoch < max(self.unfreeze_at, default=-1):  # an unfreeze ahead
            self.misses_ = min(self.misses_, self.patience - 2)  # +1: no stop
        super().on_epoch_end(net, **kwargs)
