"""Array input shared by the estimators and the transferability scores."""

import torch


def from_torch(value):
    """A torch tensor as a numpy array -- detached, on the CPU, bfloat16 as
    float32 (numpy has none) -- where numpy's own conversion fails with
    torch's error (a tensor that requires grad, is on a GPU, or is bfloat16);
    anything else as it is."""
    if not isinstance(value, torch.Tensor):
        return value
    value = value.detach().cpu()
    return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
