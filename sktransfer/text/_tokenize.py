"""Text input: validation, tokenization, vocabularies and padded index matrices."""

import itertools
import re
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_consistent_length, column_or_1d

from sktransfer._base import encode_labels

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def validate_texts(X, estimator_name):
    """Return ``X`` as a list of str, with clear errors for anything else.

    Accepts a list, tuple, 1-D numpy array, pandas Series, or a single-column
    DataFrame / 2-D array of strings.
    """
    if isinstance(X, str):
        raise TypeError(
            f"{estimator_name} expects an iterable of documents (strings), not a "
            "single string; wrap it in a list."
        )
    if sp.issparse(X):
        raise TypeError(f"{estimator_name} takes raw text, not a sparse matrix.")
    if hasattr(X, "columns"):  # DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"{estimator_name} takes one text column; X has {X.shape[1]} columns."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "to_numpy"):  # Series
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        elif X.ndim != 1:
            raise ValueError(
                f"{estimator_name} takes a 1-D array of documents; X has shape "
                f"{X.shape}."
            )
        X = X.tolist()
    elif not hasattr(X, "__iter__"):
        raise TypeError(
            f"{estimator_name} expects an iterable of documents (strings); got "
            f"{type(X).__name__}."
        )
    docs = list(X)
    if not docs:
        raise ValueError(
            f"Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is "
            f"required by {estimator_name}."
        )
    for i, doc in enumerate(docs):
        if not isinstance(doc, str):
            raise TypeError(
                f"{estimator_name} expects documents as strings; item {i} is a "
                f"{type(doc).__name__} ({doc!r:.40})."
            )
    return docs


class Tokenizer:
    """Split documents into tokens the way sklearn's vectorizers do.

    Parameters
    ----------
    lowercase : bool
        Lowercase before tokenizing.
    token_pattern : str
        Regular expression of a token (sklearn's default: 2+ word characters).
    tokenizer : callable or None
        Overrides ``token_pattern``: ``tokenizer(doc) -> list of str``.
    """

    def __init__(
        self, lowercase=True, token_pattern=DEFAULT_TOKEN_PATTERN, tokenizer=None
    ):
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.tokenizer = tokenizer
        self._findall = re.compile(token_pattern).findall if tokenizer is None else None

    def __call__(self, doc):
        if self.lowercase:
            doc = doc.lower()
        return self.tokenizer(doc) if self.tokenizer is not None else self._findall(doc)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_findall"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.tokenizer is None:
            self._findall = re.compile(self.token_pattern).findall


def validate_text_target(estimator, docs, y):
    """``y`` for ``docs``: required, 1-D, as long; returned as class indices.

    Sets ``estimator.classes_`` (see :func:`sktransfer._base.encode_labels`).
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            "is None."
        )
    y = column_or_1d(y, warn=True)
    check_consistent_length(docs, y)
    return encode_labels(estimator, y)


def document_frequencies(token_lists):
    """``Counter`` of the number of documents each token occurs in."""
    counts = Counter()
    for tokens in token_lists:
        counts.update(set(tokens))
    return counts


def to_index_matrix(token_lists, vocabulary, max_length, min_length=1):
    """Padded ``(n_docs, L)`` int64 matrix of vocabulary indices (0 = padding).

    Tokens missing from ``vocabulary`` are dropped; each document keeps its
    first ``max_length`` known tokens. ``L`` is the longest kept document, at
    least ``min_length``.
    """
    get, rows = vocabulary.get, []
    for tokens in token_lists:
        ids = [i for i in map(get, tokens) if i is not None]
        rows.append(ids[:max_length] if max_length else ids)
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    width = max(min_length, int(lengths.max(initial=0)))
    out = np.zeros((len(rows), width), dtype=np.int64)
    # one vectorised fill instead of a row-by-row copy
    out[np.arange(width) < lengths[:, None]] = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum())
    )
    return out
