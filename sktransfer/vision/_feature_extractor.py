"""PretrainedFeatureExtractor: backbone features for any scikit-learn estimator."""

from numbers import Integral

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_memory

from sktransfer._base import (
    PROGRESS_ABOVE,
    SOURCE_PATH_DOC,
    TransferEstimatorBase,
    TransferNet,
    all_or_nothing,
    check_fitted_net,
)
from sktransfer._batches import batch_iterator
from sktransfer._persistence import restore_state
from sktransfer.transfer._structure import layers_fingerprint
from sktransfer.utils import seeded
from sktransfer.vision._base import (
    IMAGE_CONSTRAINTS,
    IMAGE_PARAMS_DOC,
    ImageEstimatorMixin,
)
from sktransfer.vision._images import validate_images


class PretrainedFeatureExtractor(
    ImageEstimatorMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    TransferEstimatorBase,
):
    __doc__ = f"""Transformer: images -> pooled features of a pretrained backbone.

    The linear-probe building block: put it before any scikit-learn estimator
    in a :class:`~sklearn.pipeline.Pipeline`. ``fit`` resolves the backbone (no
    training); ``transform`` runs it in evaluation mode, in batches, without
    gradients, and returns float32 features.

    The features are on the backbone's own scale. A randomly initialised
    ``"small_cnn"`` (the no-transfer baseline) gives values near 0.005, on
    which a linear model's default penalty dominates: put a
    ``StandardScaler`` before it, or the baseline looks far weaker than it is
    (a ``LogisticRegression`` probe of 300 digits: 0.23 unscaled, 0.84
    scaled). ``FineTunedCNNClassifier(transfer="feature_extraction")``
    centres the features it trains on and divides them by their root mean
    square itself.

    Parameters
    ----------
    backbone : str, tuple, torch.nn.Module, Backbone or fitted estimator, \
default="small_cnn"
        As in :class:`FineTunedCNNClassifier`: ``"efficientnet_lite0"`` for
        ImageNet features, a weights file, a module (or a
        :class:`~sktransfer.vision.Backbone` declaring its input), or a fitted
        FineTunedCNNClassifier whose trained backbone is used.
    {IMAGE_PARAMS_DOC.strip()}
    batch_size : int, default=64
        Images per forward pass.
    device : {{"auto", "cpu", "cuda", "cuda:N"}} or torch.device, default="auto"
        Where the backbone runs; a ``torch.device`` is taken as its name.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation of randomly initialised backbones
        (``"small_cnn"``).
    memory : str, joblib.Memory or None, default=None
        Cache the features on disk (a folder or a ``joblib.Memory``, as
        scikit-learn's ``Pipeline``): ``transform`` of the same images by a
        backbone with the same weights, layers and preprocessing (scale,
        size, channels) returns the stored features instead of running the
        backbone again. In a
        ``GridSearchCV`` over what comes after the extractor, the backbone
        then runs once per fold, not once per grid point.
    verbose : int, default=0
        1 shows a progress bar when ``transform`` reads more than 1,000
        images.

    Attributes
    ----------
    n_features_in_ : int
        Pixels per image.
    image_shape_ : tuple of int
        ``(C, H, W)`` of the images.
    pixel_scale_ : float
        Raw pixel value mapped to 1.0.
    n_features_out_ : int
        Size of the features.
    {SOURCE_PATH_DOC.format(param="backbone=(architecture, path)").strip()}
    net_ : skorch.NeuralNet
        The (untrained) network holding the backbone, ``net_.module_.backbone``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import PretrainedFeatureExtractor
    >>> X, y = load_digits(return_X_y=True)
    >>> PretrainedFeatureExtractor(random_state=0).fit_transform(X[:5]).shape
    (5, 64)
    """

    _source_params = ("backbone",)

    _parameter_constraints = {
        **IMAGE_CONSTRAINTS,
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "memory": [None, str, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="small_cnn",
        *,
        image_shape=None,
        pixel_scale=None,
        resize=None,
        batch_size=64,
        device="auto",
        random_state=None,
        memory=None,
        verbose=0,
    ):
        self.backbone = backbone
        self.image_shape = image_shape
        self.pixel_scale = pixel_scale
        self.resize = resize
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.memory = memory
        self.verbose = verbose

    @all_or_nothing
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> "PretrainedFeatureExtractor":
        """Resolve the backbone for images shaped like ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W), (n_samples, H, W) or \
(n_samples, n_pixels)
            Images, as :class:`FineTunedCNNClassifier` takes them; only their
            shape and pixel scale are learned.
        y : None
            Ignored; accepted for the Pipeline API.

        Returns
        -------
        self : PretrainedFeatureExtractor
            The fitted transformer.
        """
        X = validate_images(self, X, reset=True)
        self._pin_source()
        device = self._device()
        with seeded(self.random_state, device):
            module = self._build_image_module(X, None)
        self._set_net(module, device)
        self.n_features_out_ = self._probe_features_out(X[:1])
        return self

    def _set_net(self, module, device):
        module.eval()
        self.net_ = TransferNet(
            module=module,
            criterion=torch.nn.MSELoss,
            batch_size=self.batch_size,
            iterator_valid=batch_iterator,
            device=device,
        ).initialize()

    def _restore_net(self, tensors, history, source):
        module = self._skeleton(None, tensors)
        restore_state(module, tensors, source)
        self._set_net(module, self._device())

    def _probe_features_out(self, X):
        return self._forward(X).shape[1]

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Backbone features of the images in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W), (n_samples, H, W) or \
(n_samples, n_pixels)
            Images shaped as in ``fit``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out), float32
            One row per image.
        """
        check_fitted_net(self)
        X = validate_images(self, X, reset=False)
        if self.memory is None:
            return self._features(X)
        cached = check_memory(self.memory).cache(_cached_features, ignore=["extractor"])
        return cached(self._cache_key(), X, extractor=self)

    def _features(self, X):
        progress = self.verbose >= 1 and len(X) > PROGRESS_ABOVE
        return self._forward(X, progress).astype(np.float32, copy=False)

    def _cache_key(self):
        """What the features depend on: the weights, the architecture (the
        module's layers as torch prints them) and the preprocessing -- the
        size it resizes to, which a backbone's ``min_size`` sets too, and the
        channels it replicates to."""
        module = self.net_.module_
        preprocess = module.preprocess
        return {
            "weights": {
                name: tensor.detach().cpu().numpy()
                for name, tensor in module.state_dict().items()
            },
            "architecture": layers_fingerprint(module.backbone),
            "image_shape": tuple(self.image_shape_),
            "pixel_scale": float(self.pixel_scale_),
            "preprocess": (preprocess.size, preprocess.out_channels),
        }

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.requires_fit = True
        return tags


def _cached_features(key, X, extractor):
    """The disk-cached computation: ``key`` and ``X`` are what joblib hashes."""
    return extractor._features(X)
