"""EmbeddingVectorizer: raw text -> pooled pretrained word vectors."""

import itertools
import warnings
from collections.abc import Iterable
from numbers import Real

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sktransfer._base import (
    SOURCE_PATH_DOC,
    ConditionalParamsMixin,
    SharedSourceCloneMixin,
    all_or_nothing,
)
from sktransfer.text._classifier import TEXT_CONSTRAINTS, TEXT_PARAMS_DOC
from sktransfer.text._corpus import PART_CHARS, split_by_characters
from sktransfer.text._source import resolve_text_source, warn_if_case_hides_words
from sktransfer.text._tokenize import (
    DEFAULT_TOKEN_PATTERN,
    Tokenizer,
    validate_texts,
)
from sktransfer.utils._warnings import caller_stacklevel

TRANSFORM_CHARS = PART_CHARS
"""``transform`` embeds texts of more characters than this (16M) in
consecutive parts of at most as many, as they are tokenized: what it holds a
token is freed part by part (ten times the 20 Newsgroups test set, 107M
characters: 1.6 GB at once, 0.27 GB in parts, and 3.3-3.7 s against
2.9-3.0 s)."""


def _knows_a_word(vectors, words, counts):
    """Whether ``vectors`` has a vector for one of ``words`` (with their
    ``counts``): the 100 most frequent are looked up first, which settles it
    for text in the vectors' language without looking up every word."""
    frequent = np.argpartition(counts, -100)[-100:] if len(words) > 100 else ()
    for part in (frequent, range(len(words))):
        if len(part) and vectors.lookup([words[i] for i in part])[1].any():
            return True
    return False


class EmbeddingVectorizer(
    ConditionalParamsMixin,
    SharedSourceCloneMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    __doc__ = f"""Transformer: documents -> pooled pretrained word vectors (float32).

    The pretrained-vector counterpart of ``TfidfVectorizer``: put it in a
    :class:`~sklearn.pipeline.Pipeline`, ``FeatureUnion`` or
    ``ColumnTransformer`` before any estimator. Every word of a document that
    has a pretrained vector counts, also words never seen in ``fit``; ``fit``
    only learns the weighting statistics (and warns when no word of the
    training texts has a vector: every document would embed as zeros). The
    vectors are not stored in the fitted estimator: they are resolved through
    sktransfer's per-process cache (memory-mapped, shared by every clone). A fitted
    :class:`PretrainedEmbeddingClassifier` is a source too: its word vectors,
    fine-tuned on its data, then the vectors it started from for other words.

    Parameters
    ----------
    embeddings : str, path, KeyedVectors, gensim model or fitted \
PretrainedEmbeddingClassifier, default="glove-wiki-gigaword-50"
        As in :class:`PretrainedEmbeddingClassifier`, a fitted one included.
        Shared, not copied, by ``clone`` (and so by ``GridSearchCV``).
    pooling : {{"mean", "max", "mean_max"}}, default="mean"
        Weighted mean, element-wise max, or both concatenated.
    weighting : {{None, "tfidf", "sif"}}, default=None
        Weights of the mean: none (plain average); ``"tfidf"`` (count times
        smoothed idf learned in ``fit``; unseen words get the largest idf);
        ``"sif"`` (Arora et al. 2017: ``a / (a + p(w))`` with word frequencies
        from ``fit``, then the first principal component of the training
        embeddings is removed; ``fit`` needs documents whose embeddings span
        two directions or more, two different documents at least).
    sif_alpha : float, default=1e-3
        The ``a`` of SIF weighting.
    {TEXT_PARAMS_DOC.strip().replace("default=512", "default=None")}

    Attributes
    ----------
    df_ : dict
        Document frequency of each word of the training documents.
    n_documents_ : int
        Number of training documents.
    word_probability_ : dict
        Share of the training tokens that are each word: the :math:`p(w)` of
        SIF's weight ``sif_alpha / (sif_alpha + p(w))``.
    tokenizer_ : Tokenizer
        Splits documents into tokens as ``lowercase``, ``token_pattern`` and
        ``tokenizer`` say; ``predict`` tokenizes with it.
    sif_component_ : ndarray of shape (dim,) or None
        The common component removed by SIF weighting.
    n_features_out_ : int
        Output size (vector size, doubled for ``mean_max``).
    {SOURCE_PATH_DOC.format(param="embeddings").strip()}

    Examples
    --------
    >>> from gensim.models import KeyedVectors
    >>> from sktransfer.text import EmbeddingVectorizer
    >>> kv = KeyedVectors(vector_size=2)
    >>> kv.add_vectors(["good", "film"], [[1.0, 0.0], [0.0, 1.0]])
    >>> EmbeddingVectorizer(kv).fit_transform(["good film", "good"])
    array([[0.5, 0.5],
           [1. , 0. ]], dtype=float32)
    """

    _source_params = ("embeddings",)
    _conditional_params = {
        "weighting": ("pooling", ("mean", "mean_max")),
        "sif_alpha": ("weighting", ("sif",)),
    }

    _parameter_constraints = {
        "embeddings": "no_validation",
        "pooling": [StrOptions({"mean", "max", "mean_max"})],
        "weighting": [StrOptions({"tfidf", "sif"}), None],
        "sif_alpha": [Interval(Real, 0, None, closed="neither")],
        **TEXT_CONSTRAINTS,
    }

    def __init__(
        self,
        embeddings="glove-wiki-gigaword-50",
        *,
        pooling="mean",
        weighting=None,
        sif_alpha=1e-3,
        lowercase=True,
        token_pattern=DEFAULT_TOKEN_PATTERN,
        tokenizer=None,
        max_length=None,
    ):
        self.embeddings = embeddings
        self.pooling = pooling
        self.weighting = weighting
        self.sif_alpha = sif_alpha
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.tokenizer = tokenizer
        self.max_length = max_length

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Iterable[str] | ArrayLike, y: None = None
    ) -> "EmbeddingVectorizer":
        """Learn the weighting statistics of the documents in ``X``.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).
        y : None
            Ignored; accepted for the Pipeline API.

        Returns
        -------
        self : EmbeddingVectorizer
            The fitted transformer.
        """
        self._warn_ignored_params()
        docs = validate_texts(X, type(self).__name__)
        self.tokenizer_ = Tokenizer(self.lowercase, self.token_pattern, self.tokenizer)
        corpus = self.tokenizer_.corpus(docs)
        self._pin_source()
        vectors, _ = resolve_text_source(self.embeddings, self)
        self.df_ = corpus.by_word(corpus.document_frequencies())
        self.n_documents_ = len(docs)
        counts = corpus.counts()
        if not self.lowercase and corpus.words:
            _, found = vectors.lookup(corpus.words)
            warn_if_case_hides_words(vectors, corpus.words, found, counts)
        probability = counts / max(counts.sum(), 1)
        self.word_probability_ = corpus.by_word(probability)
        self.sif_component_ = None
        self.n_features_out_ = vectors.dim * (2 if self.pooling == "mean_max" else 1)
        sif = self.weighting == "sif" and self.pooling != "max"  # max: no weights
        if not sif and not _knows_a_word(vectors, corpus.words, counts):
            found = (
                f"None of the {len(corpus.words)} distinct words of the training "
                "texts has a vector in "
                f"{getattr(vectors, 'name', 'the embeddings')}"
                if corpus.words
                else "The training texts hold no token"
            )
            warnings.warn(  # (sif's fit refuses such texts)
                f"{found}: every document would embed as zeros. Check the "
                "language, token_pattern (or tokenizer) and lowercase.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        if sif:
            embedded = self._mean(self._token_rows(corpus, vectors), False)
            _, singular, vt = np.linalg.svd(embedded, full_matrices=False)
            if np.sum(singular > singular.max(initial=0.0) * 1e-6) < 2:
                raise ValueError(
                    "weighting='sif' removes the direction common to the "
                    f"training documents, but the embeddings of the {len(docs)} "
                    "given span one direction at most (one document, identical "
                    "ones, or at most one with a word that has a vector): each "
                    "would embed as zeros. Fit on more documents, or use "
                    "weighting='tfidf' or None."
                )
            self.sif_component_ = vt[0].astype(np.float32)
        return self

    def _word_weights(self, words):
        """The weight of each of ``words`` (idf or SIF's a / (a + p)), or None."""
        if self.weighting == "tfidf":
            df = np.fromiter(map(self.df_.get, words, itertools.repeat(0)), float)
            return np.log((1 + self.n_documents_) / (1 + df)) + 1
        if self.weighting == "sif":
            probability = self.word_probability_.get
            p = np.fromiter(map(probability, words, itertools.repeat(0.0)), float)
            return self.sif_alpha / (self.sif_alpha + p)
        return None

    def _token_rows(self, corpus, vectors):
        """Sparse (n_docs x n_used) counts, the used words, their vectors and the
        number of known tokens of each document."""
        # a column per distinct word with a vector, found per word rather than
        # by sorting the tokens (a word whose tokens all lie past max_length
        # keeps an empty column); lookup also gives fastText's subword vectors
        table, found = vectors.lookup(corpus.words)
        column_of_word = np.where(found, np.cumsum(found) - 1, -1)
        doc, _, column = corpus.select(column_of_word, self.max_length)
        matrix = sp.csr_matrix(
            (np.ones(len(doc)), (doc, column)), shape=(corpus.n_docs, found.sum())
        )
        matrix.sum_duplicates()
        words = list(itertools.compress(corpus.words, found))
        n_tokens = np.bincount(doc, minlength=corpus.n_docs)
        return matrix, table[found], words, n_tokens

    def _mean(self, parts, remove_component=True):
        matrix, table, words, n_tokens = parts
        weighted = matrix.astype(np.float64)
        word_weights = self._word_weights(words)
        if word_weights is not None:
            weighted.data *= word_weights[weighted.indices]
        total = (
            n_tokens if self.weighting == "sif" else np.asarray(weighted.sum(1)).ravel()
        )
        out = np.asarray(weighted @ table, dtype=np.float64)
        out /= np.maximum(total, 1e-12)[:, None]
        if remove_component and self.sif_component_ is not None:
            u = self.sif_component_.astype(np.float64)
            out -= np.outer(out @ u, u)
        return out.astype(np.float32)

    def transform(self, X: Iterable[str] | ArrayLike) -> np.ndarray:
        """Pooled word vectors of the documents in ``X``.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out), float32
            Documents without a known word map to zeros.
        """
        check_is_fitted(self, "df_")
        docs = validate_texts(X, type(self).__name__)
        vectors, _ = resolve_text_source(self._fitted_source())
        n_chars = sum(map(len, docs))
        parts = split_by_characters(docs, -(-n_chars // TRANSFORM_CHARS), n_chars)
        features = [self._transform(part, vectors) for part in parts]
        return features[0] if len(features) == 1 else np.vstack(features)

    def _transform(self, docs, vectors):
        """:meth:`transform` of ``docs``, already validated."""
        corpus = self.tokenizer_.corpus(docs)
        parts = self._token_rows(corpus, vectors)
        outputs = []
        if self.pooling in ("mean", "mean_max"):
            outputs.append(self._mean(parts))
        if self.pooling in ("max", "mean_max"):
            matrix, table, _, _ = parts
            peak = np.zeros((len(docs), vectors.dim), np.float32)
            for i in range(len(docs)):
                cols = matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]
                if len(cols):
                    peak[i] = table[cols].max(axis=0)
            outputs.append(peak)
        return np.hstack(outputs) if len(outputs) > 1 else outputs[0]

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags
