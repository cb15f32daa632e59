"""Transfer modes as data: which parts train, at which learning rate, and when."""

import dataclasses
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from sktransfer.transfer._blocks import block_patterns, prefixed
from sktransfer.transfer._freeze import freeze, set_trainable
from sktransfer.transfer._schedule import UnfreezeSchedule, resolve_unfreeze_schedule
from sktransfer.transfer._structure import reinitialize

TRANSFER_MODES = ("feature_extraction", "fine_tune", "partial", "gradual", "structure")


@dataclasses.dataclass
class TransferPlan:
    """How the source enters the target, decided before training.

    :func:`plan_transfer` builds plans from the estimators' hyperparameters;
    each field is an attribute of the same name.

    Parameters
    ----------
    mode : str
        One of :data:`TRANSFER_MODES`.
    trainable : tuple of str or None
        Globs (in the trained module's names) of the source parameters trainable
        from the start; ``None`` means all, ``()`` none.
    param_groups : list of (str, dict)
        skorch ``optimizer__param_groups`` (per-group learning rates).
    callbacks : list of (str, skorch.callbacks.Callback)
        Named callbacks the mode needs (e.g. the unfreeze schedule).
    reinitialize : bool
        Whether the source's weights are replaced by a fresh draw (structure).
    cache_features : bool
        Whether the source is frozen as a whole, so its outputs can be computed
        once per fit and the head trained on them.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import TransferPlan, trainable_parameter_names
    >>> module = torch.nn.Module()
    >>> module.backbone = torch.nn.Sequential(
    ...     torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ... )
    >>> module.head = torch.nn.Linear(2, 1)
    >>> plan = TransferPlan("partial", ("backbone.1.*",), [], [], False, False)
    >>> trainable_parameter_names(plan.apply(module))
    ['backbone.1.weight', 'backbone.1.bias', 'head.weight', 'head.bias']
    """

    mode: str
    trainable: tuple | None
    param_groups: list
    callbacks: list
    reinitialize: bool
    cache_features: bool

    def apply(self, module, prefix="backbone."):
        """Re-initialise and freeze ``module``'s source part as planned.

        Parameters
        ----------
        module : torch.nn.Module
            The model to train, changed in place; its source part is the
            sub-module named by ``prefix``.
        prefix : str, default="backbone."
            The source's name in ``module``, with a trailing dot.

        Returns
        -------
        module : torch.nn.Module
            The same module.
        """
        source = module.get_submodule(prefix.rstrip("."))
        if self.reinitialize:
            reinitialize(source)
        if self.trainable is not None:
            freeze(module, prefix + "*")
            set_trainable(module, self.trainable, trainable=True)
        return module


def check_transfer_mode(
    mode: str, allowed: Sequence[str] = TRANSFER_MODES, param: str = "transfer"
) -> str:
    """Raise a clear ValueError when ``mode`` is not one of ``allowed``.

    Parameters
    ----------
    mode : str
        The value given.
    allowed : sequence of str, default=TRANSFER_MODES
        The modes the estimator offers.
    param : str, default="transfer"
        The hyperparameter's name, for the message.

    Returns
    -------
    mode : str
        ``mode``, when allowed.

    Examples
    --------
    >>> from sktransfer.transfer import check_transfer_mode
    >>> check_transfer_mode("fine_tune")
    'fine_tune'
    >>> check_transfer_mode("finetune")
    Traceback (most recent call last):
    ...
    ValueError: transfer='finetune' is not a transfer mode; choose one of ...
    """
    if not isinstance(mode, str) or mode not in allowed:
        raise ValueError(
            f"{param}={mode!r} is not a transfer mode; choose one of "
            f"{', '.join(repr(m) for m in allowed)}."
        )
    return mode


def plan_transfer(
    mode: str,
    source: nn.Module,
    *,
    lr: float,
    source_lr_scale: float = 1.0,
    trainable_blocks: int | Sequence[str] = 1,
    unfreeze_schedule: Mapping[int, Any] | Sequence[tuple[int, Any]] | None = None,
    prefix: str = "backbone.",
) -> TransferPlan:
    """Build the :class:`TransferPlan` for a transfer mode.

    Parameters
    ----------
    mode : {"feature_extraction", "fine_tune", "partial", "gradual", "structure"}
        ``feature_extraction``: the source is frozen, only the head trains.
        ``fine_tune``: everything trains, the source at
        ``lr * source_lr_scale``. ``partial``: the last ``trainable_blocks``
        blocks of the source (or the globs it names) train with the head.
        ``gradual``: the source starts frozen and is unfrozen by
        ``unfreeze_schedule``. ``structure``: the source's architecture with
        fresh weights, all trained at ``lr`` (the no-transfer baseline).
    source : torch.nn.Module
        The source part of the model (its blocks name what ``partial`` and
        ``gradual`` unfreeze).
    lr : float
        The head's learning rate.
    source_lr_scale : float, default=1.0
        Multiplier of ``lr`` for the source's parameters; ``0`` freezes the
        source as ``feature_extraction`` does (its BatchNorm statistics kept,
        its features computed once).
    trainable_blocks : int or tuple of str, default=1
        For ``partial``: how many blocks (output side) train, or globs relative
        to the source.
    unfreeze_schedule : dict, sequence of pairs or None, default=None
        For ``gradual``; see :func:`resolve_unfreeze_schedule`.
    prefix : str, default="backbone."
        The source's name inside the trained module.

    Returns
    -------
    plan : TransferPlan
        What to freeze, re-initialise and schedule, and the learning rates.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import plan_transfer
    >>> source = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    >>> plan = plan_transfer("partial", source, lr=0.01, source_lr_scale=0.1)
    >>> plan.trainable, plan.param_groups
    (('backbone.1.*',), [('backbone.*', {'lr': 0.001})])
    """
    check_transfer_mode(mode)
    if mode == "structure":
        return TransferPlan(mode, None, [], [], True, False)
    plan = _plan_source_training(
        mode, source, lr, source_lr_scale, trainable_blocks, unfreeze_schedule, prefix
    )
    if source_lr_scale == 0:
        # a source learning at lr 0 is frozen, as in feature extraction: at lr
        # 0 its weights stayed, but its BatchNorm statistics moved with every
        # batch, and each step computed its gradients for nothing
        plan = dataclasses.replace(
            plan, trainable=(), param_groups=[], callbacks=[], cache_features=True
        )
    return plan


def _plan_source_training(
    mode, source, lr, source_lr_scale, trainable_blocks, unfreeze_schedule, prefix
):
    """The plan of a mode that transfers the weights (the arguments checked)."""
    scaled = [(prefix + "*", {"lr": lr * source_lr_scale})]
    if source_lr_scale == 1.0:
        scaled = []
    if mode == "feature_extraction":
        return TransferPlan(mode, (), [], [], False, True)
    if mode == "fine_tune":
        return TransferPlan(mode, None, scaled, [], False, False)
    if mode == "partial":
        if (
            isinstance(trainable_blocks, numbers.Integral)
            and not isinstance(trainable_blocks, bool)
            and trainable_blocks < 0
        ):
            raise ValueError(f"trainable_blocks must be >= 0; got {trainable_blocks}.")
        patterns = block_patterns(source, trainable_blocks, "trainable_blocks")
        return TransferPlan(mode, prefixed(patterns, prefix), scaled, [], False, False)
    schedule = resolve_unfreeze_schedule(unfreeze_schedule, source, prefix)
    callback = ("unfreeze_schedule", UnfreezeSchedule(schedule))
    return TransferPlan(mode, (), scaled, [callback], False, False)
