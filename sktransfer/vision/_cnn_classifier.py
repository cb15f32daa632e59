"""FineTunedCNNClassifier: a pretrained CNN backbone with a new head."""

import contextlib
from numbers import Real

import numpy as np
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
    encode_labels,
    module_device,
)
from sktransfer._persistence import restore_classifier_net
from sktransfer.transfer import (
    BATCHNORM_POLICIES,
    TRANSFER_MODES,
    plan_transfer,
    transfer_blocks,
)
from sktransfer.transfer._schedule import warn_block_count, warn_unreached
from sktransfer.utils import seeded
from sktransfer.vision._augment import AUGMENT_DOC
from sktransfer.vision._base import (
    IMAGE_CONSTRAINTS,
    IMAGE_PARAMS_DOC,
    ImageEstimatorMixin,
)
from sktransfer.vision._images import validate_images


class FineTunedCNNClassifier(
    ImageEstimatorMixin,
    LogitClassifierMixin,
    TrainingCurveMixin,
    PartialFitMixin,
    ClassifierMixin,
    TransferEstimatorBase,
):
    __doc__ = f"""Image classifier: a pretrained CNN backbone (source) and a new head.

    The three steps of transfer learning as hyperparameters: ``backbone`` is the
    **source** (a named pretrained network, a weights file, a module, or a
    FineTunedCNNClassifier fitted on source data); ``fit`` builds the **target**
    model -- that backbone plus a new head for the target classes -- and
    **transfers** the source into it as ``transfer`` says.

    Parameters
    ----------
    backbone : str, tuple, torch.nn.Module, Backbone or fitted estimator, \
default="small_cnn"
        The source. ``"small_cnn"`` (built-in, random initialisation: for
        training source models), ``"efficientnet_lite0"`` (ImageNet weights,
        extra ``efficientnet``), an ``(architecture, weights)`` pair (the path
        of a state dict or safetensors file, or a state dict), any
        ``torch.nn.Module`` mapping images to features (copied, never
        modified), a :class:`~sktransfer.vision.Backbone` holding such a
        module with the input it expects (channels, normalisation, smallest
        size), or a fitted FineTunedCNNClassifier whose trained backbone is
        carried over with a new head.
    transfer : {{"feature_extraction", "fine_tune", "partial", "gradual", \
"structure"}}, default="fine_tune"
        ``feature_extraction``: the backbone is frozen; its features are
        computed once per fit and only the head trains on them.
        ``fine_tune``: everything trains, the backbone at
        ``lr * backbone_lr_scale``. ``partial``: the last ``trainable_blocks``
        blocks train with the head. ``gradual``: the backbone starts frozen and
        is unfrozen by ``unfreeze_schedule``. ``structure``: the backbone's
        architecture with fresh weights (the no-transfer baseline).
    trainable_blocks : int or tuple of str, default=1
        For ``transfer="partial"``: how many blocks of the backbone (output side)
        train (more than it has: all of them; 0: none; either with a
        warning), or globs on its parameter names (``("block3.*",)``).
    unfreeze_schedule : dict or sequence of (int, spec), default=None
        For ``transfer="gradual"``: ``{{epoch: spec}}``, from that epoch (0-based)
        on, ``spec`` trains too: an int k (the last k blocks), a glob or a tuple
        of globs. ``None`` unfreezes one more block per epoch, output side first.
    backbone_lr_scale : float, default=1.0
        Learning rate of the backbone relative to ``lr`` (fine_tune, partial,
        gradual). ``0`` freezes it as ``feature_extraction`` does: its
        BatchNorm statistics kept too, its features computed once.
    batchnorm : {{"frozen", "eval", "train"}}, default="frozen"
        ``frozen``: BatchNorm layers whose parameters are frozen keep their
        running statistics while the rest trains. ``eval``: all backbone
        BatchNorm layers do (for tiny batches: at ``batch_size=1`` BatchNorm
        layers that train would normalise each image by its own statistics,
        which warns). ``train``: they follow the training mode.
    {AUGMENT_DOC.strip()}
    {IMAGE_PARAMS_DOC.strip()}
    {TRAINING_PARAMS_DOC.strip()}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Pixels per image (features of the flattened input).
    image_shape_ : tuple of int
        ``(C, H, W)`` of the training images.
    pixel_scale_ : float
        Raw pixel value mapped to 1.0.
    {SOURCE_PATH_DOC.format(param="backbone=(architecture, path)").strip()}
    {HISTORY_ATTRIBUTES_DOC.strip()}
    net_ : skorch.NeuralNet
        The trained network (``net_.module_``: ``preprocess``, ``backbone``,
        ``head``), with its ``history`` and ``callbacks_``.

    See Also
    --------
    PretrainedFeatureExtractor : the backbone's features for any estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedCNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> source = FineTunedCNNClassifier(max_epochs=10, random_state=0)
    >>> source = source.fit(X[y < 5], y[y < 5])  # step 1: the source
    >>> X_new, y_new = X[y >= 5], y[y >= 5]
    >>> target = FineTunedCNNClassifier(backbone=source, transfer="fine_tune",
    ...                                 max_epochs=10, random_state=0)
    >>> target = target.fit(X_new[:50], y_new[:50])  # steps 2 and 3
    >>> round(target.score(X_new[50:], y_new[50:]), 1)  # 0.88 to 0.89 by CPU
    0.9
    """

    _source_params = ("backbone",)
    _conditional_params = {
        "trainable_blocks": ("transfer", ("partial",)),
        "unfreeze_schedule": ("transfer", ("gradual",)),
        "backbone_lr_scale": ("transfer", ("fine_tune", "partial", "gradual")),
    }

    _parameter_constraints = {
        **IMAGE_CONSTRAINTS,
        **TRAINING_CONSTRAINTS,
        "transfer": [StrOptions(set(TRANSFER_MODES))],
        "trainable_blocks": "no_validation",
        "unfreeze_schedule": "no_validation",
        "backbone_lr_scale": [Interval(Real, 0, None, closed="left")],
        "batchnorm": [StrOptions(set(BATCHNORM_POLICIES))],
        "augment": "no_validation",  # by resolve_augment, in fit
    }

    def __init__(
        self,
        backbone="small_cnn",
        transfer="fine_tune",
        *,
        trainable_blocks=1,
        unfreeze_schedule=None,
        backbone_lr_scale=1.0,
        batchnorm="frozen",
        augment=None,
        image_shape=None,
        pixel_scale=None,
        resize=None,
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
        self.backbone = backbone
        self.transfer = transfer
        self.trainable_blocks = trainable_blocks
        self.unfreeze_schedule = unfreeze_schedule
        self.backbone_lr_scale = backbone_lr_scale
        self.batchnorm = batchnorm
        self.augment = augment
        self.image_shape = image_shape
        self.pixel_scale = pixel_scale
        self.resize = resize
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
    def fit(self, X: ArrayLike, y: ArrayLike) -> "FineTunedCNNClassifier":
        """Transfer the backbone into a new model and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W), (n_samples, H, W) or \
(n_samples, n_pixels)
            Training images, any numeric dtype.
        y : array-like of shape (n_samples,)
            Class labels (strings or integers).

        Returns
        -------
        self : FineTunedCNNClassifier
            The fitted estimator.
        """
        self._warn_ignored_params()
        previous = self._fitted_to_continue()
        X, y = validate_images(self, X, y, reset=True)
        y = encode_labels(self, y)
        previous = self._check_continued(previous)
        device = self._device()
        self._pin_source()
        with seeded(self.random_state, device) as seed:
            module = self._build_image_module(
                X, len(self.classes_), self.batchnorm, scale_of=previous
            )
            plan = self._transfer_plan(module)
            if self.transfer == "partial":
                warn_block_count(
                    self.trainable_blocks,
                    len(transfer_blocks(module.backbone)),
                    "trainable_blocks",
                )
            unfreezing = dict(plan.callbacks).get("unfreeze_schedule")
            if (
                unfreezing is not None
                and self.unfreeze_schedule is not None
                and not self._in_first_partial_fit()
            ):
                schedule = unfreezing.schedule
                warn_unreached(
                    [epoch for epoch, _ in schedule],
                    self.max_epochs,
                    "unfreeze_schedule",
                )
            self._train(
                module, plan, X, y, device=device, seed=seed, continued=previous
            )
        return self

    def _transfer_plan(self, module):
        """How the backbone of ``module`` enters the model (what trains, at
        which learning rate, and when)."""
        return plan_transfer(
            self.transfer,
            module.backbone,
            lr=self.lr,
            source_lr_scale=self.backbone_lr_scale,
            trainable_blocks=self.trainable_blocks,
            unfreeze_schedule=self.unfreeze_schedule,
        )

    def _partial_inputs(self, X, y, cached):
        """partial_fit's inputs after the first call: the images validated as
        in fit, or the frozen backbone's features where ``cached``."""
        X, y = validate_images(self, X, y, reset=False)
        if cached:
            module = self.net_.module_
            X = self._features_once(module, X, module_device(module))
        return X, y, contextlib.nullcontext()

    def _logits(self, X):
        check_fitted_net(self)
        return self._forward(validate_images(self, X, reset=False))

    def _restore_net(self, tensors, history, source):
        module = self._skeleton(len(self.classes_), tensors, self.batchnorm)
        restore_classifier_net(self, module, tensors, history, source)

    def extract_features(self, X: ArrayLike) -> np.ndarray:
        """The pooled backbone features the head sees, for the images in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W), (n_samples, H, W) or \
(n_samples, n_pixels)
            Images shaped as in ``fit``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), float32
            The input of the head, one row per image.
        """
        check_fitted_net(self)
        X = validate_images(self, X, reset=False)
        module = self.net_.module_
        return self._features_once(module, X, module_device(module))
