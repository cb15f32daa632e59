import numpy as np
import pytest
import torch

from sktransfer.utils import resolve_device, seed_from, seeded


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == "cpu"
    for bad in ("gpu", "cuda:x", 3, None):
        with pytest.raises(ValueError, match="is not a device"):
            resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_seeded_restores_the_callers_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with seeded(7):
        assert torch.equal(torch.rand(3), inside)


def test_seed_from():
    assert seed_from(5) == 5
    rng = np.random.RandomState(0)
    assert seed_from(rng) != seed_from(rng)
    assert seed_from(np.random.RandomState(1)) == seed_from(np.random.RandomState(1))
