"""torch modules shared by all estimators (the new, target-side parts)."""

import numbers

import torch
from torch import nn


class Standardize(nn.Module):
    """Fixed ``(x - mean) / scale`` from the training features.

    Put in front of a head trained on frozen features, it makes the head's
    optimisation independent of the source's feature scale. ``scale`` is one
    number, the root mean square of the centred features, so features that are
    constant on a small training set are not blown up. The statistics are
    buffers: saved, not trained.
    """

    def __init__(self, mean, scale):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    @classmethod
    def fit(cls, features):
        """Standardize with the statistics of ``features`` (n, d)."""
        features = torch.as_tensor(features, dtype=torch.float32)
        mean = features.mean(0)
        scale = (features - mean).pow(2).mean().sqrt()
        return cls(mean, scale if scale > 0 else torch.tensor(1.0))

    def forward(self, x):
        return (x - self.mean) / self.scale


class MLPHead(nn.Sequential):
    """The new head every estimator puts on top of its source.

    ``Linear -> ReLU -> Dropout`` per hidden layer, then a linear output layer.
    With ``hidden_layer_sizes=()`` it is a linear (probe) head.

    Parameters
    ----------
    in_features : int
        Size of the source's features.
    hidden_layer_sizes : int or array-like of int
        Width of each hidden layer (an int: one layer).
    n_outputs : int
        Number of outputs (classes).
    dropout : float, default=0.0
        Dropout before each linear layer that follows a hidden layer, and on the
        input features.

    Examples
    --------
    >>> import torch
    >>> from sktransfer._nn import MLPHead
    >>> MLPHead(8, (16,), 3)(torch.zeros(2, 8)).shape
    torch.Size([2, 3])
    """

    def __init__(self, in_features, hidden_layer_sizes, n_outputs, dropout=0.0):
        if isinstance(hidden_layer_sizes, numbers.Integral):  # one layer, as sklearn
            hidden_layer_sizes = (hidden_layer_sizes,)
        # numpy scalars as Python numbers: (8,), not (np.int64(8),)
        sizes = tuple(
            getattr(size, "item", lambda s=size: s)() for size in hidden_layer_sizes
        )
        if not all(
            isinstance(size, numbers.Integral)
            and not isinstance(size, bool)
            and size > 0
            for size in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must hold layer widths, ints >= 1; got {sizes!r}."
            )
        layers = []
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = in_features
        for size in sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        super().__init__(*layers)


class CrossEntropyLoss(nn.CrossEntropyLoss):
    """torch's ``CrossEntropyLoss``, except that a batch whose samples all
    weigh 0 (their classes given weight 0 by ``class_weight``) has loss 0.

    The weighted mean divides by the batch's summed weights, which is then
    0: torch gives NaN, which ended the fit as if it had diverged (a small
    batch of one class weighted 0 is likely). Such samples count for nothing
    in any batch; here, a batch of them alone does not move the weights.
    Otherwise the loss is torch's, to rounding.
    """

    def forward(self, input, target):
        if self.weight is None or self.reduction != "mean":
            return super().forward(input, target)
        total = nn.functional.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction="sum",
            label_smoothing=self.label_smoothing,
        )
        kept = target != self.ignore_index  # no boolean indexing: no GPU sync
        weight = torch.where(kept, self.weight[target.where(kept, 0)], 0).sum()
        return total / weight.clamp_min(torch.finfo(weight.dtype).tiny)
