"""Array input shared by the estimators and the transferability scores."""

import contextlib
import threading
import warnings

import numpy as np
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


def as_tensor(array):
    """``array`` as a CPU tensor sharing its memory (a tensor as it is).

    A read-only array -- the memory map joblib makes of data over 1 MB for
    ``GridSearchCV(n_jobs=2)``'s workers, or ``np.load(mmap_mode="r")`` -- is
    shared as well, without torch's warning that writing to it would be
    undefined: sktransfer only reads its input.
    """
    if isinstance(array, torch.Tensor):
        return array
    array = np.ascontiguousarray(array)
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writ")
        return torch.from_numpy(array)


@contextlib.contextmanager
def torch_defaults():
    """Context (or decorator) with torch's defaults for new tensors: float32,
    on the CPU.

    sktransfer computes in float32 and puts tensors on the fit's device
    itself. A notebook that set ``torch.set_default_dtype(torch.float64)`` (as
    GPyTorch and BoTorch advise) made every new head, buffer and probe tensor
    float64 beside the float32 inputs, and one that set
    ``torch.set_default_device("cuda")`` built them on the GPU beside the
    CPU's: each fit failed with torch's errors. The caller's defaults are
    restored on exit; where they are torch's own, nothing changes.

    torch's default dtype is one for the process: fits in several threads
    (joblib's threading backend) share one change, undone when the last
    leaves. Its default device is each thread's own.
    """
    with _DTYPE_LOCK:
        if not _DTYPE["users"]:
            _DTYPE["saved"] = torch.get_default_dtype()
            torch.set_default_dtype(torch.float32)
        _DTYPE["users"] += 1
    device = _default_device()
    if device.type != "cpu":
        torch.set_default_device("cpu")
    try:
        yield
    finally:
        if device.type != "cpu":
            torch.set_default_device(device)
        with _DTYPE_LOCK:
            _DTYPE["users"] -= 1
            if not _DTYPE["users"]:
                torch.set_default_dtype(_DTYPE["saved"])


_DTYPE_LOCK = threading.Lock()
_DTYPE = {"users": 0, "saved": None}
"""The threads inside :func:`torch_defaults`, and the dtype to give back."""


def _default_device():
    """Where new tensors go: ``torch.get_default_device()``, or where an empty
    tensor goes.

    torch 2.3's ``get_default_device`` raises AttributeError once
    ``torch.set_default_device(None)`` (the usual way to reset it) has run in
    the thread.
    """
    try:
        return torch.get_default_device()
    except AttributeError:
        return torch.empty(0).device


def _name(owner):
    if owner is None:
        return ""
    return f"{owner if isinstance(owner, str) else type(owner).__name__}: "


def is_missing(value):
    """None, a float NaN (numpy's too), or pandas' NA or NaT."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return type(value).__name__ in ("NAType", "NaTType")


def refuse_bad_labels(y, owner=None, name="y"):
    """A ValueError that counts the missing labels of ``y`` (see
    :func:`is_missing`) and names their rows; scikit-learn's checks call them
    an "unknown label type", or fail on pandas' NA ("boolean value of NA is
    ambiguous"). A TypeError for labels of types that cannot be ordered into
    ``classes_`` (strings and numbers: numpy's sort raises a bare "'<' not
    supported"). Labels of a numeric dtype are left to scikit-learn's checks.
    ``owner``: the estimator (or function name) the message starts with;
    ``name``: what the labels are called in it."""
    y = np.asarray(y)
    if y.ndim == 0 or y.dtype.kind != "O":  # y=None: "requires y to be passed"
        return
    values = y.ravel().tolist()
    missing = np.flatnonzero([is_missing(v) for v in values])
    if len(missing):
        raise ValueError(
            f"{_name(owner)}{name} holds {len(missing)} missing "
            f"label(s) (None, NaN or NA), at rows {missing[:5].tolist()}"
            f"{' ...' if len(missing) > 5 else ''}; drop those samples or "
            "give them a label."
        )
    kinds = {}  # one label of each type
    for value in values:
        kinds.setdefault(type(value).__name__, value)
    try:
        sorted(kinds.values())
    except TypeError:
        examples = ", ".join(f"{v!r} ({kind})" for kind, v in kinds.items())
        raise TypeError(
            f"{_name(owner)}{name} mixes labels of types that cannot be "
            f"ordered into classes: {examples}; give labels of one type, e.g. "
            f"{name}.astype(str)."
        ) from None
