"""Structure transfer: keep a source's architecture, draw fresh weights."""

import hashlib
import re

import torch
from torch import nn

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def reinitialize(module: nn.Module) -> nn.Module:
    """Re-initialise every layer of ``module`` in place; return ``module``.

    Calls ``reset_parameters`` (and ``reset_running_stats`` for normalisation
    layers) on each sub-module that has them, so the architecture of a
    pretrained source is kept and none of its learned values are. Seed torch
    first (``sktransfer.utils.seeded``) for a reproducible draw.

    Parameters
    ----------
    module : torch.nn.Module
        Changed in place.

    Returns
    -------
    module : torch.nn.Module
        The same module, with fresh weights.

    Raises
    ------
    ValueError
        If a parameter of ``module`` belongs to no layer that can be reset,
        which would silently carry source weights into a "structure" model.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import reinitialize
    >>> layer = torch.nn.Linear(3, 2)
    >>> before = layer.weight.detach().clone()
    >>> bool(torch.equal(reinitialize(layer).weight, before))
    False
    """
    reset = set()
    for layer in module.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
            reset.update(id(p) for p in layer.parameters(recurse=False))
        if hasattr(layer, "reset_running_stats"):
            layer.reset_running_stats()
    stale = [name for name, p in module.named_parameters() if id(p) not in reset]
    if stale:
        raise ValueError(
            "structure transfer cannot re-initialise the parameters "
            f"{stale[:5]} (their layers have no reset_parameters method); give "
            "those layers one or choose another transfer mode."
        )
    return module


@torch.no_grad()
def shared_parameters(module_a: nn.Module, module_b: nn.Module) -> list[str]:
    """Names of parameters whose values are identical in two modules.

    Parameters
    ----------
    module_a, module_b : torch.nn.Module
        Compared parameter by parameter, by name (on the CPU).

    Returns
    -------
    names : list of str
        The names, in ``module_a``'s order, whose tensors have the same shape
        and values in both: after structure transfer, none should.

    Examples
    --------
    >>> import copy
    >>> import torch
    >>> from sktransfer.transfer import reinitialize, shared_parameters
    >>> source = torch.nn.Linear(3, 2)
    >>> shared_parameters(source, copy.deepcopy(source))
    ['weight', 'bias']
    >>> shared_parameters(source, reinitialize(copy.deepcopy(source)))
    []
    """
    params_b = dict(module_b.named_parameters())
    return [
        name
        for name, p in module_a.named_parameters()
        if name in params_b
        and p.shape == params_b[name].shape
        and torch.equal(p.cpu(), params_b[name].cpu())
    ]


def layers_fingerprint(module):
    """A hash of ``module``'s layers as torch prints them (their types,
    sizes, strides...), not of its weights; object addresses a custom
    ``extra_repr`` may print (``<function f at 0x...>``) left out, so the same
    architecture hashes alike in every process."""
    return hashlib.sha1(_ADDRESS.sub("", repr(module)).encode()).hexdigest()
