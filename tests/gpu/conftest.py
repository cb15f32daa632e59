import pytest
import torch


@pytest.fixture(scope="session")
def cuda():
    """Skips the test cleanly on a machine without a CUDA GPU."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (run `make gpu-check` on a GPU machine)")
    return "cuda"
