"""Text input: validation and tokenization."""

import re
import unicodedata
from collections.abc import Mapping, Set

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_consistent_length, column_or_1d

from sktransfer._base import encode_labels
from sktransfer.text._corpus import RUN_PATTERNS, tokenize_corpus
from sktransfer.utils._arrays import is_missing

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def validate_texts(X, estimator_name):
    """Return ``X`` as a list of str, with clear errors for anything else.

    Accepts a list, tuple, 1-D numpy array, pandas or polars Series, or a
    single-column DataFrame (pandas, polars) / 2-D array of strings.
    """
    if isinstance(X, (str, bytes, bytearray)):
        raise TypeError(
            f"{estimator_name} expects an iterable of documents (strings), not a "
            "single string; wrap it in a list"
            + ("." if isinstance(X, str) else ", decoded ([X.decode('utf-8')]).")
        )
    if sp.issparse(X):
        raise TypeError(f"{estimator_name} takes raw text, not a sparse matrix.")
    fill = "fill_null" if hasattr(X, "fill_null") else "fillna"  # polars, pandas
    if hasattr(X, "columns"):  # a DataFrame, pandas or polars
        if X.shape[1] != 1:
            raise ValueError(
                f"{estimator_name} takes one text column; X has {X.shape[1]} columns."
            )
        X = X[X.columns[0]]
    if hasattr(X, "to_numpy"):  # a Series
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
            if is_missing(doc):
                hint = (
                    f": a missing value; fill missing texts first, e.g. X.{fill}('')."
                )
            elif isinstance(doc, (bytes, bytearray)):
                hint = (
                    ": decode the documents first, e.g. "
                    "[doc.decode('utf-8') for doc in X]."
                )
            elif isinstance(doc, (list, tuple)) and all(
                isinstance(token, str) for token in doc
            ):
                hint = (
                    ": a list of tokens; join each document's tokens, e.g. "
                    "[' '.join(tokens) for tokens in X], with tokenizer=str.split "
                    "to keep them as they are."
                )
            else:
                hint = "."
            raise TypeError(
                f"{estimator_name} expects documents as strings; item {i} is a "
                f"{type(doc).__name__} ({doc!r:.40}){hint}"
            )
    return docs


def composed(doc):
    """``doc`` in Unicode's composed form (NFC).

    The same text may be stored composed ("é", one character) or decomposed
    ("e" and a combining accent, as macOS file names and some exports hold
    it). Pretrained vocabularies are composed, and a combining accent is not
    a word character, so decomposed "crème brûlée" split into "cre", "me",
    "bru" and "le" -- words GloVe knows, silently other features. ASCII text,
    the common case, is returned as it is.
    """
    return doc if doc.isascii() else unicodedata.normalize("NFC", doc)


def _unordered_tokens_error(tokenizer, doc, tokens):
    """Why a ``tokenizer`` returning a mapping or a set is refused: its keys
    or members would be taken as the tokens (a Hugging Face tokenizer's
    ``input_ids``, ``attention_mask``... for every text), in no order and
    each once."""
    what = "a mapping" if isinstance(tokens, Mapping) else "a set"
    hint = (
        f"; {type(tokenizer).__name__} gives a text's tokens by its tokenize "
        "method: pass tokenizer=your_tokenizer.tokenize"
        if callable(getattr(tokenizer, "tokenize", None))
        else ""
    )
    return (
        f"tokenizer must return a list of str tokens, in order; for {doc!r:.40} "
        f"it returned {what} ({type(tokens).__name__}), whose "
        f"{'keys' if what == 'a mapping' else 'members'} would be taken as the "
        f"tokens{hint}."
    )


class Tokenizer:
    """Split documents into tokens the way sklearn's vectorizers do, after
    putting them in Unicode's composed form (:func:`composed`).

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
        self._findall = _compiled(token_pattern).findall if tokenizer is None else None

    def __call__(self, doc):
        doc = composed(doc)
        if self.lowercase:
            doc = doc.lower()
        if self.tokenizer is None:
            return self._findall(doc)
        tokens = self.tokenizer(doc)
        if isinstance(tokens, (Mapping, Set)):
            raise TypeError(_unordered_tokens_error(self.tokenizer, doc, tokens))
        if isinstance(tokens, str) or not hasattr(tokens, "__iter__"):
            raise TypeError(
                f"tokenizer must return a list of str tokens; for {doc!r:.40} it "
                f"returned {tokens!r:.40} (type {type(tokens).__name__})."
            )
        tokens = tokens if isinstance(tokens, list) else list(tokens)
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(
                    f"tokenizer must return str tokens; for {doc!r:.40} it "
                    f"returned {token!r:.40} (type {type(token).__name__})."
                )
        return tokens

    def corpus(self, docs, known=None):
        """All of ``docs`` tokenized, as a :class:`~sktransfer.text._corpus.Corpus`.

        The same tokens as calling the tokenizer on each document, found by
        numpy for the whole corpus when the pattern is sklearn's default (or
        ``\\b\\w+\\b``) and there is no custom ``tokenizer``. ``known``
        (:class:`~sktransfer.text._corpus.KnownWords`, e.g. a fitted
        vocabulary) makes that path look its words up by hash; the corpus then
        lists them first.
        """
        min_run = (
            RUN_PATTERNS.get(self.token_pattern) if self.tokenizer is None else None
        )
        docs = [composed(doc) for doc in docs]
        return tokenize_corpus(docs, self, self.lowercase, min_run, known)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_findall"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.tokenizer is None:
            self._findall = _compiled(self.token_pattern).findall


def _compiled(token_pattern):
    """``token_pattern`` compiled, with scikit-learn's rule: at most one
    capturing group (the token)."""
    try:
        pattern = re.compile(token_pattern)
    except re.error as exc:
        raise ValueError(
            f"token_pattern={token_pattern!r} is not a valid regular expression: {exc}."
        ) from None
    if pattern.groups > 1:
        raise ValueError(
            f"token_pattern={token_pattern!r} has {pattern.groups} capturing "
            "groups; a token pattern may capture one group (the token) at most."
        )
    return pattern


def validate_text_target(estimator, docs, y):
    """``y`` for ``docs`` (:func:`text_labels`), returned as class indices.

    Sets ``estimator.classes_`` (see :func:`sktransfer._base.encode_labels`).
    """
    return encode_labels(estimator, text_labels(estimator, docs, y))


def text_labels(estimator, docs, y):
    """``y`` for ``docs``: required, 1-D, as long."""
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            "is None."
        )
    y = column_or_1d(y, warn=True)
    check_consistent_length(docs, y)
    return y
