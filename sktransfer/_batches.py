"""Mini-batches sliced from whole-array tensors: the cheap per-batch path.

skorch's default iterator is a ``DataLoader`` over a ``Dataset``: every sample
goes through ``__getitem__`` and the batch through ``collate``, Python work per
sample that costs as much as a cheap model's forward pass (an EmbeddingBag
text encoder, a small CNN). sktransfer's estimators always hand skorch whole
numpy arrays, so batches can be cut from one tensor instead: one index
operation per batch.
"""

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader


class BatchSlicer:
    """Iterate ``(X_batch, y_batch)`` cut from whole tensors.

    Parameters
    ----------
    X : torch.Tensor
    y : torch.Tensor or None
    batch_size : int
    shuffle : bool, default=False
        A fresh permutation from torch's global RNG each pass (so ``seeded``
        fits are reproducible).
    drop_last : bool, default=False
        Skip a last, smaller batch.
    """

    def __init__(self, X, y, batch_size, shuffle=False, drop_last=False):
        self.X = X
        self.y = y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self):
        n = len(self.X)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        stop = n - n % self.batch_size if self.drop_last else n
        order = torch.randperm(n) if self.shuffle else None
        for start in range(0, stop, self.batch_size):
            if order is None:
                index = slice(start, start + self.batch_size)
            else:
                index = order[start : start + self.batch_size]
            yield self.X[index], (None if self.y is None else self.y[index])


def _as_tensor(array):
    if isinstance(array, torch.Tensor):
        return array
    return torch.from_numpy(np.ascontiguousarray(array))


def batch_iterator(dataset, batch_size, shuffle=False, drop_last=False, **kwargs):
    """skorch ``iterator_train`` / ``iterator_valid``: a :class:`BatchSlicer`
    when ``dataset`` holds whole numeric arrays, skorch's ``DataLoader`` else."""
    X, y = getattr(dataset, "X", None), getattr(dataset, "y", None)
    whole = (
        type(dataset) is Dataset
        and isinstance(X, (np.ndarray, torch.Tensor))
        and (y is None or isinstance(y, (np.ndarray, torch.Tensor)))
        and not kwargs
    )
    if not whole or (isinstance(X, np.ndarray) and X.dtype == object):
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            **kwargs,
        )
    return BatchSlicer(
        _as_tensor(X),
        None if y is None else _as_tensor(y),
        batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
    )
