"""torch modules of the text estimators: word embeddings, encoders, the model."""

import contextlib
import threading

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sktransfer.transfer import TransferModule

ENCODERS = ("mean", "max", "mean_max", "cnn")
KIM_WIDTHS = (3, 4, 5)


POOLS = {"mean": ("mean",), "max": ("max",), "mean_max": ("mean", "max")}
"""The EmbeddingBag modes of each pooling encoder, concatenated in this order."""


def bag_pool(ids, table, mode, real_tokens_only=None):
    """Pool the vectors (rows of ``table``) of each row of the padded id matrix
    ``ids`` over its real tokens (id 0 is padding) -> ``(B, d')``.

    On the CPU (``real_tokens_only``, default: whether ``ids`` is there)
    EmbeddingBag gets the real tokens alone and where each document's start,
    not the padded matrix with ``padding_idx``, whose path visits every
    padding slot: on 20 Newsgroups' test set, padded to 512, the mean of each
    document took 66 ms, now 9 (one thread); a training step with max
    pooling, which gathered the padded ``(B, L, d)`` tensor before, is 3x
    faster. On a GPU, where counting the real tokens would wait for the
    device, it gets the padded matrix. Documents without a known token pool to
    zeros.
    """
    if real_tokens_only is None:
        real_tokens_only = ids.device.type == "cpu"
    if real_tokens_only:
        real = ids != 0
        counts = real.sum(1)
        offsets = (counts.cumsum(0) - counts).to(ids.dtype)  # as input's: older torch
        bags = {"input": ids[real], "offsets": offsets}
    else:
        bags = {"input": ids, "padding_idx": 0}
    pooled = [F.embedding_bag(weight=table, mode=m, **bags) for m in POOLS[mode]]
    return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)


class KimCNN(nn.Module):
    """Kim (2014): one Conv1d per filter width, ReLU, max over time, concatenated.

    A document counts as followed by zero padding however wide its batch is,
    so its features are the same alone or beside longer documents.

    Parameters
    ----------
    dim : int
        Word-vector size.
    widths : tuple of int, default=(3, 4, 5)
        Filter widths (tokens).
    n_filters : int, default=100
        Filters per width.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.text import KimCNN
    >>> cnn = KimCNN(dim=50, n_filters=8)
    >>> embedded = torch.randn(2, 20, 50)  # 2 documents of 20 tokens
    >>> mask = torch.ones(2, 20, dtype=torch.bool)
    >>> cnn(embedded, mask).shape, cnn.out_features
    (torch.Size([2, 24]), 24)
    """

    def __init__(self, dim, widths=KIM_WIDTHS, n_filters=100):
        super().__init__()
        self.widths = tuple(widths)
        self.convs = nn.ModuleList(nn.Conv1d(dim, n_filters, w) for w in self.widths)
        self.out_features = n_filters * len(self.widths)

    def forward(self, embedded, mask):
        """Max-over-time features of a batch of embedded documents.

        Parameters
        ----------
        embedded : torch.Tensor of shape (batch, length, dim)
            Each token's word vector.
        mask : torch.Tensor of shape (batch, length)
            True (or 1) at real tokens; padding counts as zeros.

        Returns
        -------
        features : torch.Tensor of shape (batch, out_features)
            The filters' maxima, width by width.
        """
        x = (embedded * mask.unsqueeze(-1).to(embedded.dtype)).transpose(1, 2)
        # as if every document were followed by endless padding, whatever the
        # batch's width: each window that starts in it is whole (zero-padded),
        # and a window of padding alone, relu(bias), always counts
        x = F.pad(x, (0, max(self.widths) - 1))
        return torch.cat([_max_over_time(conv, x) for conv in self.convs], 1)


def _max_over_time(conv, x):
    peak = F.relu(conv(x)).max(dim=2).values
    return peak if conv.bias is None else torch.maximum(peak, F.relu(conv.bias))


class TextEncoder(nn.Module):
    """``mean`` / ``max`` / ``mean_max`` pooling, or a :class:`KimCNN`.

    Parameters
    ----------
    mode : {"mean", "max", "mean_max", "cnn"}
        The ``encoder`` hyperparameter of ``PretrainedEmbeddingClassifier``.
    dim : int
        Word-vector size.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.text import TextEncoder
    >>> table = torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])  # row 0: padding
    >>> ids = torch.tensor([[1, 2, 0], [2, 0, 0]])
    >>> TextEncoder("mean_max", dim=2)(ids, table)
    tensor([[2., 3., 3., 4.],
            [3., 4., 3., 4.]])
    """

    def __init__(self, mode, dim):
        super().__init__()
        self.mode = mode
        self.cnn = KimCNN(dim) if mode == "cnn" else None
        self.out_features = (
            self.cnn.out_features
            if self.cnn is not None
            else dim * (2 if mode == "mean_max" else 1)
        )

    def forward(self, ids, table):
        """Encode the padded id matrix ``ids`` with the word vectors ``table``.

        Parameters
        ----------
        ids : torch.Tensor of shape (batch, length), int
            Row ``i`` of ``table`` per token; 0 is padding.
        table : torch.Tensor of shape (n_rows, dim)
            The word vectors, row 0 the padding's.

        Returns
        -------
        features : torch.Tensor of shape (batch, out_features)
            Documents without a token pool to zeros.
        """
        if self.cnn is None:
            return bag_pool(ids, table, self.mode)
        ids = _without_trailing_padding(ids)
        return self.cnn(F.embedding(ids, table, padding_idx=0), ids != 0)


def _without_trailing_padding(ids):
    """``ids`` cut after its last column holding a token (keeping one column).

    A :class:`KimCNN` sees each document as followed by padding whatever the
    width, so the cut changes no feature; it spares the convolutions the
    padding that a batch shares. The estimators' batches end at their longest
    document already (:class:`~sktransfer._batches.RaggedRows`); a matrix
    padded to the longest of many (11,302 tokens on 20 Newsgroups, where a
    batch's longest is typically under 2,000) may be given to the module.
    """
    used = (ids != 0).any(0).nonzero()
    return ids[:, : int(used[-1]) + 1 if len(used) else 1]


class TextTransferModule(TransferModule):
    """``token ids -> word vectors (source) -> encoder -> head (target)``.

    Parameters
    ----------
    backbone : torch.nn.Embedding
        The transferred word vectors; row 0 is padding. Named ``backbone.*`` so
        that the shared transfer plans freeze, unfreeze and re-initialise it.
    oov_embedding : torch.nn.Embedding or None
        Trainable vectors of out-of-vocabulary words (``oov="trainable"``), for
        ids from ``len(backbone)`` on; trains in every transfer mode.
    encoder : TextEncoder
        Pools (or convolves) each document's word vectors.
    head : torch.nn.Module
        The new classifier, on the encoder's output.
    augment : torch.nn.Module or None, default=None
        Changes the token ids of training batches (a
        :class:`~sktransfer.text.WordDropout`); the identity in eval mode.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.text import TextEncoder, TextTransferModule
    >>> vectors = torch.nn.Embedding(100, 50, padding_idx=0)
    >>> module = TextTransferModule(
    ...     vectors, None, TextEncoder("mean", 50), torch.nn.Linear(50, 3)
    ... )
    >>> ids = torch.tensor([[5, 17, 42, 0], [8, 0, 0, 0]])
    >>> module(ids).shape, module.features(ids).shape
    (torch.Size([2, 3]), torch.Size([2, 50]))
    """

    def __init__(self, backbone, oov_embedding, encoder, head, augment=None):
        super().__init__("train")
        self.augment = augment
        self.backbone = backbone
        self.oov_embedding = oov_embedding
        self.encoder = encoder
        self.head = head
        self._predict_tables = {}  # by thread: see predicting_with

    def table(self):
        """All word vectors by id: pretrained rows, then trainable OOV rows (in
        :meth:`predicting_with`, the table it built for this thread).

        Returns
        -------
        table : torch.Tensor of shape (n_rows, dim)
            Row 0 is the padding's.
        """
        thread = threading.get_ident()
        table = (self.__dict__.get("_predict_tables") or {}).get(thread)
        if table is not None:
            return table
        parts = self._table_parts(self.__dict__.get("_unseen", {}).get(thread))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    @property
    def n_rows(self):
        """Rows of :meth:`table`: padding, pretrained and trainable OOV vectors."""
        return sum(len(part) for part in self._table_parts())

    def _table_parts(self, extra=None):
        parts = [self.backbone.weight]
        if self.oov_embedding is not None:
            parts.append(self.oov_embedding.weight)
        if extra is not None:
            parts.append(extra.to(self.backbone.weight.device))
        return parts

    @contextlib.contextmanager
    def predicting_with(self, extra=None, rows=None):
        """Within the context, every batch reads one table, built here if needed.

        ``extra``: vectors of words never seen in training but known to the
        source, given the ids past the vocabulary. ``rows`` (sorted, 0 first):
        id ``i`` stands for id ``rows[i]``, and the table holds those rows
        alone, not a copy of every word's vector (a few documents need few).

        The table belongs to the calling thread: threads that predict with one
        model at once (a web server's) each read their own.

        Parameters
        ----------
        extra : torch.Tensor of shape (n_extra, dim) or None, default=None
            Vectors appended after the trained rows.
        rows : ndarray of int or None, default=None
            The rows to keep, sorted, 0 first; None keeps them all.

        Yields
        ------
        module : TextTransferModule
            This module.
        """
        parts = self._table_parts(extra)
        with torch.no_grad():
            if rows is not None:
                table = _rows_of(parts, rows)
            elif len(parts) > 1:
                table = torch.cat(parts)
            else:
                table = None
        # a module pickled before tables were kept by thread has none
        tables = self.__dict__.setdefault("_predict_tables", {})
        thread = threading.get_ident()
        tables[thread] = table
        try:
            yield self
        finally:
            tables.pop(thread, None)

    @contextlib.contextmanager
    def training_with(self, extra=None):
        """Within the context, ids past the trained rows read ``extra``.

        ``extra``: vectors of words the vocabulary lacks but the source
        knows, held constant, as in :meth:`predicting_with`; unlike there,
        the table is put together for each batch, so the trained rows keep
        their gradients (``partial_fit`` on documents with new words).

        Parameters
        ----------
        extra : torch.Tensor of shape (n_extra, dim) or None, default=None
            Vectors appended after the trained rows; None: nothing changes.

        Yields
        ------
        module : TextTransferModule
            This module.
        """
        if extra is None:
            yield self
            return
        unseen = self.__dict__.setdefault("_unseen", {})
        thread = threading.get_ident()
        unseen[thread] = extra.to(self.backbone.weight.device)
        try:
            yield self
        finally:
            unseen.pop(thread, None)

    def features(self, ids):
        """Encoded documents: ``(B, encoder.out_features)``.

        Parameters
        ----------
        ids : torch.Tensor of shape (batch, length), int
            Token ids, 0 for padding.

        Returns
        -------
        features : torch.Tensor of shape (batch, encoder.out_features)
            What the head sees (in training mode, of the ids changed by
            ``augment``).
        """
        augment = getattr(self, "augment", None)  # None: pickled before it
        if augment is not None:  # itself the identity in eval mode
            ids = augment(ids)
        return self.encoder(ids, self.table())


def _rows_of(parts, rows):
    """Rows ``rows`` (sorted ints) of ``torch.cat(parts)``, without building it."""
    sizes = np.cumsum([0] + [len(part) for part in parts])
    bounds = np.searchsorted(rows, sizes).tolist()
    index = torch.from_numpy(rows).to(parts[0].device)
    return torch.cat(
        [
            part[index[a:b] - start]
            for part, a, b, start in zip(
                parts, bounds[:-1], bounds[1:], sizes[:-1].tolist(), strict=True
            )
        ]
    )
