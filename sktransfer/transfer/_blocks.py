"""Name the blocks of a backbone, in input-to-output order, as glob patterns."""

import fnmatch
import numbers

from torch import nn


def transfer_blocks(module: nn.Module) -> list[tuple[str, ...]]:
    """The blocks of ``module`` as a list of pattern tuples, input side first.

    A module may declare its own blocks through a ``transfer_blocks`` attribute
    (a list of tuples of parameter-name globs). Otherwise each direct child that
    holds parameters is one block.

    Parameters
    ----------
    module : torch.nn.Module
        A backbone.

    Returns
    -------
    blocks : list of tuple of str
        Each block's globs on the parameter names of ``module``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import transfer_blocks
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
    ...                           torch.nn.Linear(3, 1))
    >>> transfer_blocks(net)
    [('0.*',), ('2.*',)]
    """
    declared = getattr(module, "transfer_blocks", None)
    if declared is not None:
        return [tuple(block) for block in declared]
    blocks = [
        (f"{name}.*",)
        for name, child in module.named_children()
        if any(True for _ in child.parameters())
    ]
    if not blocks and any(True for _ in module.parameters(recurse=False)):
        blocks = [("*",)]
    return blocks


def prefixed(patterns, prefix):
    """Prefix each glob with ``prefix`` (``"backbone."``)."""
    return tuple(prefix + p for p in patterns)


def last_blocks(module: nn.Module, k: int) -> tuple[str, ...]:
    """Patterns covering the last ``k`` blocks of ``module`` (output side).

    Parameters
    ----------
    module : torch.nn.Module
        A backbone; its blocks are :func:`transfer_blocks`'.
    k : int
        How many blocks, counted from the output; ``0`` gives none, more than
        there are gives all.

    Returns
    -------
    patterns : tuple of str
        Globs on the parameter names of ``module``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import last_blocks
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> last_blocks(net, 1)
    ('1.*',)
    """
    if k < 0:
        raise ValueError(f"the number of blocks must be >= 0; got {k}.")
    blocks = transfer_blocks(module)
    if k == 0:
        return ()
    return tuple(p for block in blocks[-k:] for p in block)


def block_patterns(module, spec, what):
    """Globs on ``module``'s parameter names for ``spec``: an int ``k`` (the
    last ``k`` blocks), a glob string, or a tuple/list of globs.

    A glob that matches none of ``module``'s parameters -- a typo would
    otherwise leave them all frozen without a word -- is a ValueError that
    shows how the names look. ``what`` names the hyperparameter in errors.
    """
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        return last_blocks(module, int(spec))
    if isinstance(spec, str):
        spec = (spec,)
    if not (isinstance(spec, (tuple, list)) and all(isinstance(p, str) for p in spec)):
        raise TypeError(
            f"{what} must be an int (the last k blocks), a glob string or a tuple "
            f"of glob strings; got {spec!r}."
        )
    names = [name for name, _ in module.named_parameters()]
    for pattern in spec:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise ValueError(
                f"{what}: the glob {pattern!r} matches none of the source's "
                f"parameters, which are named like {names[:3]} (and "
                f"{max(0, len(names) - 3)} more)."
            )
    return tuple(spec)
