"""Whole-array mini-batches: the same batches as skorch's DataLoader, cheaper."""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from sktransfer import _batches
from sktransfer._batches import BatchSlicer, PinnedBatchSlicer, batch_iterator


@pytest.fixture
def arrays(digits):
    X, y = digits
    return X[:203].astype(np.float32), y[:203]


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_batches_are_the_dataloaders(arrays, drop_last):
    X, y = arrays
    torch.manual_seed(7)
    expected = list(
        DataLoader(Dataset(X, y), batch_size=32, shuffle=True, drop_last=drop_last)
    )
    torch.manual_seed(7)
    slicer = batch_iterator(Dataset(X, y), 32, shuffle=True, drop_last=drop_last)
    got = list(slicer)
    assert isinstance(slicer, BatchSlicer)
    assert len(got) == len(expected) == len(slicer) == (6 if drop_last else 7)
    for (Xb, yb), (Xe, ye) in zip(got, expected, strict=True):
        assert torch.equal(Xb, Xe) and torch.equal(yb, ye)
    # the global RNG ends where the DataLoader left it: later draws agree too
    after = torch.rand(1)
    torch.manual_seed(7)
    list(DataLoader(Dataset(X, y), batch_size=32, shuffle=True, drop_last=drop_last))
    assert torch.equal(after, torch.rand(1))


def test_gpu_data_over_the_resident_limit_goes_through_pinned_buffers(
    arrays, monkeypatch
):
    X, y = arrays
    monkeypatch.setattr(_batches, "DEVICE_RESIDENT_BYTES", X.nbytes - 1)
    slicer = batch_iterator(Dataset(X, y), 32, shuffle=True, device="cuda")
    assert isinstance(slicer, PinnedBatchSlicer)
    assert slicer.device == torch.device("cuda")
    # on the CPU nothing is pinned or copied: plain slices
    assert type(batch_iterator(Dataset(X, y), 32, device="cpu")) is BatchSlicer
