"""What the image and text augmentations share: reading the ``augment``
parameter, and a user's function of a training batch."""

from collections.abc import Callable, Mapping
from numbers import Real

import torch
from torch import nn


def resolve_augment_param(augment, table, build, batch):
    """``augment`` as a module, or None.

    ``table``: ``{name: (default strength, largest strength, what the strength
    is)}``; ``build(**strengths)`` makes the module of the named
    augmentations; ``batch`` says what a callable gets (for the messages).
    A name, a list of names, a dict of names and strengths, or a callable.
    """
    if augment is None:
        return None
    if callable(augment) and not isinstance(augment, type):
        return CallableAugment(augment)
    if isinstance(augment, str):
        strengths = {augment: None}
    elif isinstance(augment, Mapping):
        strengths = dict(augment)
    elif isinstance(augment, list | tuple) and all(isinstance(n, str) for n in augment):
        strengths = {name: None for name in augment}
    else:
        raise TypeError(
            f"augment must be None, a name, a list of names, a dict of names "
            f"and strengths, or a function of {batch}; got "
            f"{type(augment).__name__} ({augment!r:.60})."
        )
    unknown = [name for name in strengths if name not in table]
    if unknown or not strengths:
        raise ValueError(
            f"augment={augment!r:.80} names {unknown or 'nothing'}; the "
            f"augmentations are {sorted(table)} (or pass None, or a function "
            f"of {batch})."
        )
    return build(**{k: _strength(table, k, v) for k, v in strengths.items()})


def _strength(table, name, value):
    default, largest, meaning = table[name]
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not (0 <= value <= largest)
    ):
        raise ValueError(
            f"augment's strength of {name!r} is {meaning}, a number from 0 to "
            f"{largest:g}; got {value!r}."
        )
    return float(value)


class CallableAugment(nn.Module):
    """A user's function of a training batch, applied in training mode only;
    a batch returned in another shape, or as another kind of number
    (floats for integer token ids), is refused, naming the function."""

    def __init__(self, function: Callable):
        super().__init__()
        self.function = function

    def extra_repr(self):
        return getattr(self.function, "__qualname__", repr(self.function))

    def forward(self, x):
        if not self.training:
            return x
        out = self.function(x)
        if (
            not isinstance(out, torch.Tensor)
            or out.shape != x.shape
            or out.is_floating_point() != x.is_floating_point()
        ):
            got = (
                f"{tuple(out.shape)} {out.dtype}"
                if isinstance(out, torch.Tensor)
                else type(out)
            )
            raise ValueError(
                f"augment={self.extra_repr()} returned {got} for a batch of "
                f"shape {tuple(x.shape)} {x.dtype}; it must return a tensor of "
                "the same shape and kind of number."
            )
        return out
