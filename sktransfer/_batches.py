"""Mini-batches sliced from whole-array tensors: the cheap per-batch path.

skorch's default iterator is a ``DataLoader`` over a ``Dataset``: every sample
goes through ``__getitem__`` and the batch through ``collate``, Python work per
sample that costs as much as a cheap model's forward pass (an EmbeddingBag
text encoder, a small CNN). sktransfer's estimators always hand skorch whole
numpy arrays, so batches can be cut from one tensor instead: one index
operation per batch.
"""

import collections
import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from sktransfer.utils._arrays import as_tensor
from sktransfer.utils._seed import in_seeded_context

DEVICE_RESIDENT_BYTES = 1 << 30
"""On a GPU, training data up to this size (1 GiB) is copied there once per fit
and batches are cut on the device: no host-to-device copy per batch. Larger
data stays in host memory and goes through :class:`PinnedBatchSlicer`."""


class BatchSlicer:
    """Iterate ``(X_batch, y_batch)`` cut from whole tensors.

    Parameters
    ----------
    X : torch.Tensor
    y : torch.Tensor or None
    batch_size : int
    shuffle : bool, default=False
        A fresh permutation each pass. The global torch RNG is drawn from
        exactly as a ``DataLoader`` with a ``RandomSampler`` draws from it, so
        the batches -- and a seeded fit -- are the same as on skorch's default
        path (and as under Accelerate, which keeps the DataLoader). Unshuffled,
        a pass draws DataLoader's one number only inside a seeded fit
        (:func:`~sktransfer.utils.seeded`); predicting draws nothing.
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
        for index in self._indices():
            yield self.X[index], (None if self.y is None else self.y[index])

    def _indices(self):
        """The rows of each batch: a slice, or an index tensor when shuffled."""
        n = len(self.X)
        stop = n - n % self.batch_size if self.drop_last else n
        # DataLoader draws a base seed for its workers, then RandomSampler a
        # seed for its own generator: the same draws, the same permutation.
        # An unshuffled pass outside a seeded fit (predict, transform) skips
        # the first draw: nothing depends on it there, and drawing would move
        # the stream of a seeded fit running in another thread.
        if self.shuffle or in_seeded_context():
            torch.empty((), dtype=torch.int64).random_()
        order = None
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_()))
            order = torch.randperm(n, generator=generator).to(self.X.device)
        for start in range(0, stop, self.batch_size):
            if order is None:
                yield slice(start, start + self.batch_size)
            else:
                yield order[start : start + self.batch_size]


class PinnedBatchSlicer(BatchSlicer):
    """Batches of host-memory data for a GPU, copied without blocking the host.

    Each batch is cut straight into a page-locked (pinned) buffer and copied
    to ``device`` with ``non_blocking=True``: the copy runs at full bus speed
    and the host goes on to queue the step's kernels (which the GPU runs after
    the copy, on the same stream). Two buffers alternate; one is refilled only
    after the copy out of it has finished (a CUDA event), so a batch is never
    overwritten while in flight. Same batches, in the same order, as
    :class:`BatchSlicer`.
    """

    N_BUFFERS = 2

    def __init__(self, X, y, batch_size, device, shuffle=False, drop_last=False):
        super().__init__(X, y, batch_size, shuffle=shuffle, drop_last=drop_last)
        self.device = torch.device(device)

    def __iter__(self):
        tensors = [t for t in (self.X, self.y) if t is not None]
        buffers = [
            [_pinned_like(t, self.batch_size) for t in tensors]
            for _ in range(self.N_BUFFERS)
        ]
        copied = [None] * self.N_BUFFERS  # the event of each buffer's last copy
        stream = torch.cuda.current_stream(self.device)
        for i, index in enumerate(self._indices()):
            slot = i % self.N_BUFFERS
            if copied[slot] is not None:
                copied[slot].synchronize()
            batch = [
                _gather_into(buffer, t, index).to(self.device, non_blocking=True)
                for t, buffer in zip(tensors, buffers[slot], strict=True)
            ]
            copied[slot] = torch.cuda.Event()
            copied[slot].record(stream)
            yield batch[0], (batch[1] if self.y is not None else None)


class RaggedRows:
    """Rows of different lengths stored end to end; ``rows[index]`` is a batch
    of them padded with zeros to its own longest row.

    How a text fit holds its documents' token ids: a matrix padded to the
    longest document of the whole fit held 48 times the tokens on 20
    Newsgroups' training set with ``max_length=None`` (414 MB for 9 MB of
    ids), three times at the default ``max_length=512``. The rows stay in
    host memory; :class:`BatchSlicer` cuts batches from them as from a whole
    tensor, each padded on the host, a copy per row: on 20 Newsgroups in
    shuffled batches of 64, 0.8 us a row against 0.2 us to gather rows of the
    matrix padded to 512, and 1.0 against 4.7 us without ``max_length``
    (throughput.md).

    Parameters
    ----------
    values : ndarray of shape (n_items,)
        Every row's items, row after row.
    offsets : ndarray of shape (n_rows + 1,), int64
        Where each row starts in ``values``, then ``len(values)``.

    Attributes
    ----------
    max_length : int
        The longest row's length (0 without rows).

    Examples
    --------
    >>> import torch
    >>> from sktransfer._batches import RaggedRows
    >>> rows = RaggedRows.from_rows([[5, 6, 7], [8], []])
    >>> len(rows), rows.max_length
    (3, 3)
    >>> rows[1:3]
    tensor([[8],
            [0]], dtype=torch.int32)
    >>> rows[torch.tensor([2, 0])]
    tensor([[0, 0, 0],
            [5, 6, 7]], dtype=torch.int32)
    >>> rows[1]  # one row: as wide as the longest of all
    tensor([8, 0, 0], dtype=torch.int32)
    >>> rows.take([0, 2]).tolist()
    [[5, 6, 7], []]
    """

    device = torch.device("cpu")
    """Where batches are cut: the host, whatever device trains."""

    def __init__(self, values, offsets):
        self.values = values
        self.offsets = offsets
        lengths = np.diff(offsets)
        self.max_length = int(lengths.max()) if len(lengths) else 0

    @classmethod
    def from_rows(cls, rows, dtype=np.int32):
        """From a sequence of sequences (tests, small inputs).

        Parameters
        ----------
        rows : sequence of sequence of int
            The rows.
        dtype : numpy dtype, default=np.int32
            Of ``values``.

        Returns
        -------
        rows : RaggedRows
            The rows, end to end.
        """
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        values = np.fromiter(itertools.chain.from_iterable(rows), dtype)
        return cls(values, np.concatenate(([0], np.cumsum(lengths))))

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def nbytes(self):
        """Bytes of ``values`` and ``offsets``."""
        return self.values.nbytes + self.offsets.nbytes

    def tolist(self):
        """The rows, as lists (unpadded).

        Returns
        -------
        rows : list of list
            One list per row.
        """
        values, ends = self.values.tolist(), self.offsets.tolist()
        return [values[a:b] for a, b in itertools.pairwise(ends)]

    def take(self, index):
        """The rows ``index`` (ints), as ragged rows.

        Parameters
        ----------
        index : array-like of int
            Rows to keep, in this order.

        Returns
        -------
        rows : RaggedRows
            Those rows alone, end to end.
        """
        index = np.asarray(index, dtype=np.int64)
        starts, lengths = self.offsets[index], np.diff(self.offsets)[index]
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        # each kept item's place in values: its row's start, plus its place
        # in the row (its place in the result less where its row starts there)
        shift = np.repeat(starts - offsets[:-1], lengths)
        return RaggedRows(self.values[np.arange(offsets[-1]) + shift], offsets)

    def __getitem__(self, index):
        """Rows ``index`` (a slice or an int tensor or array), padded with
        zeros to the longest of them (at least one column). One row (an int)
        is padded to the longest of all, so that a ``DataLoader``'s collate
        stacks rows (skorch's per-sample path, which Accelerate keeps)."""
        if isinstance(index, (int, np.integer)):
            start, stop = self.offsets[index : index + 2].tolist()
            row = np.zeros(max(self.max_length, 1), self.values.dtype)
            row[: stop - start] = self.values[start:stop]
            return torch.from_numpy(row)
        if isinstance(index, slice):
            starts, stops = self.offsets[:-1][index], self.offsets[1:][index]
        else:
            index = np.asarray(index)
            starts, stops = self.offsets[index], self.offsets[index + 1]
        lengths = stops - starts
        width = max(int(lengths.max()) if len(lengths) else 0, 1)
        out = np.zeros((len(lengths), width), self.values.dtype)
        # a copy per row beats gathering with a computed index (0.8 against
        # 1.2-1.3 us a row on 20 Newsgroups at max_length=512)
        for row, start, stop in zip(out, starts.tolist(), stops.tolist(), strict=True):
            row[: stop - start] = self.values[start:stop]
        return torch.from_numpy(out)


def _pinned_like(tensor, rows):
    """An empty page-locked tensor of ``rows`` rows shaped like ``tensor``'s."""
    shape = (rows, *tensor.shape[1:])
    return torch.empty(shape, dtype=tensor.dtype, pin_memory=True)


def _gather_into(buffer, tensor, index):
    """``tensor[index]`` written into the first rows of ``buffer`` (returned)."""
    if isinstance(index, slice):
        part = tensor[index]
        return buffer[: len(part)].copy_(part)
    out = buffer[: len(index)]
    torch.index_select(tensor, 0, index, out=out)
    return out


def _resident(dataset, X, y, device):
    """``X``, ``y`` moved to the GPU ``device`` once per dataset.

    The device copy is kept on the dataset, so later epochs reuse it.
    """
    cached = getattr(dataset, "_sktransfer_resident", None)
    if cached is None or cached[0] != str(device):
        moved = (X.to(device), None if y is None else y.to(device))
        cached = (str(device), *moved)
        dataset._sktransfer_resident = cached
    return cached[1], cached[2]


def batch_iterator(
    dataset, batch_size, shuffle=False, drop_last=False, device=None, **kwargs
):
    """skorch ``iterator_train`` / ``iterator_valid``: a :class:`BatchSlicer`
    when ``dataset`` holds whole numeric arrays, skorch's ``DataLoader`` else.

    With a CUDA ``device``, data up to :data:`DEVICE_RESIDENT_BYTES` is moved
    to the GPU once and sliced there; larger data in host memory is sliced
    into pinned buffers and copied without blocking
    (:class:`PinnedBatchSlicer`). :class:`RaggedRows` are padded on the host
    and each batch copied by skorch.
    """
    X, y = getattr(dataset, "X", None), getattr(dataset, "y", None)
    whole = (
        type(dataset) is Dataset
        and isinstance(X, (np.ndarray, torch.Tensor, RaggedRows))
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
    X = X if isinstance(X, RaggedRows) else as_tensor(X)
    y = None if y is None else as_tensor(y)
    on_gpu = device is not None and torch.device(device).type == "cuda"
    if on_gpu and not isinstance(X, RaggedRows):
        if X.nbytes + (0 if y is None else y.nbytes) <= DEVICE_RESIDENT_BYTES:
            X, y = _resident(dataset, X, y, device)
        elif not X.is_cuda:
            return PinnedBatchSlicer(
                X, y, batch_size, device, shuffle=shuffle, drop_last=drop_last
            )
    return BatchSlicer(X, y, batch_size, shuffle=shuffle, drop_last=drop_last)


class _OneThreadFewer:
    """Context: torch's intra-op threads one fewer in this thread, for the
    pipelines running at once in any thread of the process.

    ``torch.set_num_threads`` sets the calling thread's count and a
    process-wide one that threads starting later take. Two pipelines in two
    threads that each saved and restored their own count (a web server
    predicting in a thread pool) left that process-wide count one short: one
    read the other's lowered count as its own and restored that, and every
    thread started afterwards ran torch on one core of two. Here the count
    before the first of the overlapping pipelines is kept, and each one
    restores that on leaving.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._running = 0
        self._threads = None  # the count before the first running pipeline

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._running == 0:
                self._threads = torch.get_num_threads()
            self._running += 1
            threads = self._threads
            torch.set_num_threads(max(1, threads - 1))
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                torch.set_num_threads(threads)


_one_thread_fewer = _OneThreadFewer()


def pipelined(items, prepare, compute, *, on_cpu, workers=1):
    """``[compute(prepare(item)) for item in items]``, preparing the next
    items in background threads while the current one computes.

    For inputs whose preparation releases the GIL (numpy tokenizing text,
    Pillow decoding images) and whose computation is torch's (or storing the
    results in order): the two overlap. ``workers`` threads prepare, at
    most one item ahead each. ``on_cpu``: torch computes on the CPU, so while
    the pipeline runs its intra-op threads in the calling thread are one
    fewer, which leaves the preparing threads a core; with every core given to
    torch the two only contend. The count is restored after, also when
    pipelines run at once in several threads. One item runs without a thread.
    An exception in either step propagates.
    """
    items = list(items)
    if len(items) <= 1:
        return [compute(prepare(item)) for item in items]
    fewer = _one_thread_fewer() if on_cpu else contextlib.nullcontext()
    with ThreadPoolExecutor(max_workers=workers) as pool, fewer:
        pending = collections.deque(pool.submit(prepare, i) for i in items[:workers])
        try:
            outputs = []
            for i in range(len(items)):
                prepared = pending.popleft().result()
                if i + workers < len(items):
                    pending.append(pool.submit(prepare, items[i + workers]))
                outputs.append(compute(prepared))
            return outputs
        finally:
            for future in pending:
                future.cancel()
