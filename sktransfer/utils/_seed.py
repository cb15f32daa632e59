"""Seed torch inside ``fit`` without touching the caller's global RNG state."""

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.utils import check_random_state


def seed_from(random_state: int | np.random.RandomState | None) -> int:
    """Draw one integer seed from an sklearn-style ``random_state``.

    ``None`` draws from numpy's global generator (as scikit-learn does), an int
    is used as it is, a ``RandomState`` instance is drawn from.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        As scikit-learn's estimators take it.

    Returns
    -------
    seed : int
        In ``[0, 2**32)``: an int modulo ``2**32``, else a draw.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.utils import seed_from
    >>> seed_from(7)
    7
    >>> seed_from(np.random.RandomState(0)) == seed_from(np.random.RandomState(0))
    True
    """
    if isinstance(random_state, (int, np.integer)) and not isinstance(
        random_state, bool
    ):
        return int(random_state) % (2**32)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


_TORCH_RNG = threading.RLock()
"""Held by whoever has seeded torch's process-global generator (see ``seeded``)."""

_SEEDED = threading.local()  # .depth: this thread's nesting of seeded contexts


def in_seeded_context():
    """Whether this thread is inside :func:`seeded` (a fit's training)."""
    return getattr(_SEEDED, "depth", 0) > 0


@contextlib.contextmanager
def seeded(
    random_state: int | np.random.RandomState | None,
    device: str | torch.device = "cpu",
) -> Iterator[int]:
    """Context in which torch's RNGs are seeded from ``random_state``.

    The global torch RNG state (CPU and, when ``device`` is CUDA, that device) is
    restored on exit, so the caller's own random streams are left as they were.

    torch's generator is global to the process, so two seeded contexts in two
    threads would draw from, and restore, each other's streams: two fits with
    ``random_state=0`` running at once in threads (joblib's threading
    backend, a Dask worker with several threads) gave other models than one
    fit alone. A lock lets one thread at a time inside; the same thread may
    nest contexts. Processes (joblib's default backend) are not affected.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        Source of the seed.
    device : str, default="cpu"
        The device whose CUDA RNG is also seeded and restored.

    Yields
    ------
    seed : int
        The seed used; pass it on to numpy-side randomness (splits, samplers).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.utils import seeded
    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    seed = seed_from(random_state)
    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        devices = [torch.device(device).index or 0]
    with _TORCH_RNG, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        _SEEDED.depth = getattr(_SEEDED, "depth", 0) + 1
        try:
            yield seed
        finally:
            _SEEDED.depth -= 1
