"""TransformerVectorizer: raw text -> pretrained transformer sentence embeddings."""

from collections.abc import Iterable
from numbers import Integral

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory

from sktransfer._base import SOURCE_PATH_DOC, SharedSourceCloneMixin, all_or_nothing
from sktransfer._persistence import checksum
from sktransfer.text._tokenize import validate_texts
from sktransfer.text._transformers import (
    DEFAULT_TRANSFORMER,
    POOLINGS,
    TransformerTransferModule,
    check_max_length,
    check_not_all_empty,
    normalize_rows,
    resolve_transformer,
    sorted_features,
    tokenize,
    warn_if_embeddings_differ,
)
from sktransfer.utils import resolve_device
from sktransfer.utils._arrays import torch_defaults


class TransformerVectorizer(
    SharedSourceCloneMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    __doc__ = f"""Transformer: documents -> embeddings of a pretrained transformer.

    Put it in a :class:`~sklearn.pipeline.Pipeline` before any estimator (a
    linear probe: ``make_pipeline(TransformerVectorizer(), LogisticRegression())``).
    The transformer is not stored in the fitted estimator: it is resolved
    through sktransfer's per-process cache (loaded once, shared by every
    clone), so pickles stay small. Texts are tokenized in one batch, sorted by
    length so that each batch carries little padding, and embedded under
    ``torch.inference_mode`` (no gradient memory).

    Needs the ``transformers`` extra.

    Parameters
    ----------
    source : str, path or fitted FineTunedTransformerClassifier, \
default="sentence-transformers/all-MiniLM-L6-v2"
        As in :class:`FineTunedTransformerClassifier`.
    pooling : {{"mean", "cls"}}, default="mean"
        Mean of the token states over real tokens, or the first token's state.
    normalize : bool, default=True
        L2-normalise each embedding (as sentence-transformers does for
        all-MiniLM-L6-v2), so dot products are cosine similarities.
    max_length : int, default=256
        Tokens read per text, special tokens included; longer texts are
        truncated (only their beginning is read).
    batch_size : int, default=64
        Texts per forward pass.
    device : {{"auto", "cpu", "cuda", "cuda:N"}} or torch.device, default="auto"
        Where the transformer runs; a ``torch.device`` is taken as its name.
    memory : str, joblib.Memory or None, default=None
        Cache the embeddings on disk (a folder or a ``joblib.Memory``, as
        scikit-learn's ``Pipeline``): ``transform`` of the same texts by a
        transformer with the same weights, configuration, tokenizer and
        settings returns the stored embeddings instead of running the
        transformer again. In a
        ``GridSearchCV`` over what comes after the vectorizer, the
        transformer then runs once per fold, not once per grid point.
    verbose : int, default=0
        1 shows a progress bar when embedding more than 1,000 texts.

    Attributes
    ----------
    n_features_out_ : int
        Embedding size (the transformer's hidden size).
    {SOURCE_PATH_DOC.format(param="source").strip()}

    Examples
    --------
    >>> from sktransfer import TransformerVectorizer
    >>> vectorizer = TransformerVectorizer(device="cpu").fit(["a"])
    >>> emb = vectorizer.transform(["a hockey game", "the puck and the goalie",
    ...                             "a rocket launch"])
    >>> emb.shape
    (3, 384)
    >>> bool(emb[0] @ emb[1] > emb[0] @ emb[2])
    True
    """

    _source_params = ("source",)

    _parameter_constraints = {
        "source": "no_validation",
        "pooling": [StrOptions(set(POOLINGS))],
        "normalize": ["boolean"],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "memory": [None, str, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        source=DEFAULT_TRANSFORMER,
        *,
        pooling="mean",
        normalize=True,
        max_length=256,
        batch_size=64,
        device="auto",
        memory=None,
        verbose=0,
    ):
        self.source = source
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.memory = memory
        self.verbose = verbose

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Iterable[str] | ArrayLike, y: None = None
    ) -> "TransformerVectorizer":
        """Resolve the transformer and check the settings; learns nothing else.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column); only checked, since the transformer learns nothing from
            them.
        y : None
            Ignored; accepted for the Pipeline API.

        Returns
        -------
        self : TransformerVectorizer
            The fitted transformer.
        """
        name = type(self).__name__
        check_not_all_empty(validate_texts(X, name), name)
        self._pin_source()
        _, model = resolve_transformer(self.source)
        check_max_length(self.max_length, model)
        warn_if_embeddings_differ(self.pooling, self.max_length, self.source, name)
        self.n_features_out_ = int(model.config.hidden_size)
        return self

    @torch_defaults()
    def transform(self, X: Iterable[str] | ArrayLike) -> np.ndarray:
        """Sentence embeddings of the documents in ``X``.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).

        Returns
        -------
        embeddings : ndarray of shape (n_samples, n_features_out), float32
            One row per document.
        """
        check_is_fitted(self, "n_features_out_")
        name = type(self).__name__
        docs = validate_texts(X, name)  # an empty document is embedded as such
        device = resolve_device(self.device)
        tokenizer, model = resolve_transformer(self._fitted_source(), device)
        if self.memory is None:
            return self._embeddings(tokenizer, model, docs, device)
        cached = check_memory(self.memory).cache(
            _cached_embeddings, ignore=["vectorizer", "tokenizer", "model", "device"]
        )
        key = self._cache_key(tokenizer, model)
        return cached(key, docs, self, tokenizer, model, device)

    def _embeddings(self, tokenizer, model, docs, device):
        module = TransformerTransferModule(model, self.pooling, head=None).eval()
        features = sorted_features(
            module,
            tokenize(tokenizer, docs, self.max_length),
            batch_size=self.batch_size,
            device=device,
            progress=self.verbose >= 1 and len(docs) > 1000,
        )
        return normalize_rows(features) if self.normalize else features

    def _cache_key(self, tokenizer, model):
        """What the embeddings depend on: the weights, the architecture (the
        model's class and its configuration, but the transformers version
        that wrote it and its folder), the tokenizer (its class, its files'
        place and its vocabulary size) and the settings."""
        state = model.state_dict()
        config = {
            key: value
            for key, value in model.config.to_diff_dict().items()
            if key not in ("_name_or_path", "transformers_version")
        }
        return {
            "weights": checksum(state, state),
            "architecture": (type(model).__name__, repr(sorted(config.items()))),
            "tokenizer": (
                type(tokenizer).__name__,
                tokenizer.name_or_path,
                len(tokenizer),
            ),
            "pooling": self.pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
        }

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags


def _cached_embeddings(key, docs, vectorizer, tokenizer, model, device):
    """The disk-cached computation: ``key`` and ``docs`` are what joblib hashes."""
    return vectorizer._embeddings(tokenizer, model, docs, device)
