"""Resolve the ``device`` hyperparameter to a torch device string."""

import re

import torch

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cpu:\d+|cuda|cuda:\d+)$")


def resolve_device(device: str | torch.device) -> str:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a usable device.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when it is available and the CPU otherwise.
        ``"cpu:N"`` (as torch writes ``torch.device("cpu", N)``) is the CPU.

    Returns
    -------
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    ValueError
        When the string is not a device name, or names a CUDA device that this
        machine does not have.

    Examples
    --------
    >>> from sktransfer.utils import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("cpu:0")
    'cpu'
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        if _is_other_torch_device(device):  # "mps", "xpu", ...: torch's, not ours
            raise ValueError(
                f"device={device!r}: sktransfer runs on the CPU and on CUDA GPUs "
                f"only, not on {device.split(':')[0]!r} devices; use 'cpu', "
                "'cuda', 'cuda:N' or 'auto'."
            )
        raise ValueError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        )
    if device.startswith("cpu"):  # "cpu:0": torch has one CPU device
        return "cpu"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but this machine has only "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    return device


def _is_other_torch_device(device):
    """Whether ``device`` is a string torch takes as a device (``"mps"``,
    ``"xpu:0"``) of a type other than the CPU or CUDA."""
    if not isinstance(device, str):
        return False
    try:
        return torch.device(device).type not in ("cpu", "cuda")
    except (RuntimeError, ValueError):
        return False
