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


def masked_pool(embedded, mask, mode):
    """Pool ``(B, L, d)`` token vectors over real tokens (``mask``) -> ``(B, d')``.

    Documents without a known token pool to zeros.
    """
    outputs = []
    if mode in ("mean", "mean_max"):
        weights = mask.unsqueeze(-1).to(embedded.dtype)
        total = (embedded * weights).sum(1)
        outputs.append(total / weights.sum(1).clamp_min(1.0))
    if mode in ("max", "mean_max"):
        filled = embedded.masked_fill(~mask.unsqueeze(-1), float("-inf"))
        peak = filled.max(1).values
        outputs.append(torch.where(torch.isinf(peak), torch.zeros_like(peak), peak))
    return torch.cat(outputs, dim=1) if len(outputs) > 1 else outputs[0]


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
    """

    def __init__(self, dim, widths=KIM_WIDTHS, n_filters=100):
        super().__init__()
        self.widths = tuple(widths)
        self.convs = nn.ModuleList(nn.Conv1d(dim, n_filters, w) for w in self.widths)
        self.out_features = n_filters * len(self.widths)

    def forward(self, embedded, mask):
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
    """``mean`` / ``max`` / ``mean_max`` pooling, or a :class:`KimCNN`."""

    def __init__(self, mode, dim):
        super().__init__()
        self.mode = mode
        self.cnn = KimCNN(dim) if mode == "cnn" else None
        self.out_features = (
            self.cnn.out_features
            if self.cnn is not None
            else dim * (2 if mode == "mean_max" else 1)
        )

    def forward(self, embedded, mask):
        if self.cnn is not None:
            return self.cnn(embedded, mask)
        return masked_pool(embedded, mask, self.mode)


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
    head : torch.nn.Module
    """

    def __init__(self, backbone, oov_embedding, encoder, head):
        super().__init__("train")
        self.backbone = backbone
        self.oov_embedding = oov_embedding
        self.encoder = encoder
        self.head = head
        self._predict_tables = {}  # by thread: see predicting_with

    def table(self):
        """All word vectors by id: pretrained rows, then trainable OOV rows (in
        :meth:`predicting_with`, the table it built for this thread)."""
        tables = self.__dict__.get("_predict_tables") or {}
        table = tables.get(threading.get_ident())
        if table is not None:
            return table
        parts = self._table_parts()
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

    def features(self, ids):
        """Encoded documents: ``(B, encoder.out_features)``."""
        table = self.table()
        if self.encoder.mode == "mean":
            # EmbeddingBag's fused lookup + mean; padding does not count.
            return F.embedding_bag(ids, table, mode="mean", padding_idx=0)
        return self.encoder(F.embedding(ids, table, padding_idx=0), ids != 0)


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
