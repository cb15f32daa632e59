"""Freeze and unfreeze parameters by glob patterns on their names."""

import fnmatch
from collections.abc import Iterable

from torch import nn


def _as_patterns(patterns):
    if isinstance(patterns, str):
        return (patterns,)
    if not hasattr(patterns, "__iter__"):
        raise TypeError(
            f"patterns must be a glob string or an iterable of them; got {patterns!r}."
        )
    patterns = tuple(patterns)
    if not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"patterns must be glob strings; got {patterns!r}.")
    return patterns


def matching_parameters(
    module: nn.Module, patterns: str | Iterable[str]
) -> dict[str, nn.Parameter]:
    """Return ``{name: parameter}`` for the parameters matching any pattern.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose ``named_parameters()`` are matched.
    patterns : str or iterable of str
        :mod:`fnmatch` globs such as ``"backbone.*"`` or ``"*.bn*.weight"``.

    Returns
    -------
    parameters : dict of str to torch.nn.Parameter
        In the order of ``named_parameters()``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import matching_parameters
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> sorted(matching_parameters(net, "0.*"))
    ['0.bias', '0.weight']
    """
    patterns = _as_patterns(patterns)
    return {
        name: param
        for name, param in module.named_parameters()
        if any(fnmatch.fnmatchcase(name, p) for p in patterns)
    }


def set_trainable(
    module: nn.Module, patterns: str | Iterable[str], trainable: bool = True
) -> int:
    """Set ``requires_grad`` on the parameters matching ``patterns``.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose ``named_parameters()`` are matched.
    patterns : str or iterable of str
        :mod:`fnmatch` globs on the parameter names.
    trainable : bool, default=True
        The ``requires_grad`` to set.

    Returns
    -------
    n_changed : int
        The number of parameters (tensors) matched and set.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import set_trainable
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> set_trainable(net, "0.*", trainable=False)
    2
    >>> [p.requires_grad for p in net.parameters()]
    [False, False, True, True]
    """
    params = matching_parameters(module, patterns)
    for param in params.values():
        param.requires_grad_(trainable)
    return len(params)


def freeze(module: nn.Module, patterns: str | Iterable[str] = "*") -> int:
    """Freeze the parameters matching ``patterns`` (all of them by default).

    Parameters
    ----------
    module : torch.nn.Module
        The module whose ``named_parameters()`` are matched.
    patterns : str or iterable of str, default="*"
        :mod:`fnmatch` globs on the parameter names.

    Returns
    -------
    n_changed : int
        The number of parameters (tensors) frozen.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import freeze, trainable_parameter_names
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> freeze(net, "0.*")
    2
    >>> trainable_parameter_names(net)
    ['1.weight', '1.bias']
    """
    return set_trainable(module, patterns, trainable=False)


def unfreeze(module: nn.Module, patterns: str | Iterable[str] = "*") -> int:
    """Make the parameters matching ``patterns`` trainable (all by default).

    Parameters
    ----------
    module : torch.nn.Module
        The module whose ``named_parameters()`` are matched.
    patterns : str or iterable of str, default="*"
        :mod:`fnmatch` globs on the parameter names.

    Returns
    -------
    n_changed : int
        The number of parameters (tensors) made trainable.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import freeze, trainable_parameter_names, unfreeze
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> freeze(net)
    4
    >>> unfreeze(net, "1.*")
    2
    >>> trainable_parameter_names(net)
    ['1.weight', '1.bias']
    """
    return set_trainable(module, patterns, trainable=True)


def trainable_parameter_names(module: nn.Module) -> list[str]:
    """Names of the parameters of ``module`` that currently require gradients.

    Parameters
    ----------
    module : torch.nn.Module
        Any module.

    Returns
    -------
    names : list of str
        In the order of ``named_parameters()``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import trainable_parameter_names
    >>> layer = torch.nn.Linear(2, 3)
    >>> layer.bias.requires_grad_(False)
    Parameter containing:
    tensor([...])
    >>> trainable_parameter_names(layer)
    ['weight']
    """
    return [name for name, p in module.named_parameters() if p.requires_grad]
