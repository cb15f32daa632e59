"""Name the blocks of a backbone, in input-to-output order, as glob patterns."""


def transfer_blocks(module):
    """The blocks of ``module`` as a list of pattern tuples, input side first.

    A module may declare its own blocks through a ``transfer_blocks`` attribute
    (a list of tuples of parameter-name globs). Otherwise each direct child that
    holds parameters is one block.

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


def last_blocks(module, k):
    """Patterns covering the last ``k`` blocks of ``module`` (output side)."""
    blocks = transfer_blocks(module)
    if k <= 0:
        return ()
    return tuple(p for block in blocks[-k:] for p in block)
