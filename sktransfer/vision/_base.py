"""What the image estimators share: input parameters and building the module."""

import copy
import numbers
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from sktransfer._base import is_fitted_estimator
from sktransfer._nn import MLPHead
from sktransfer._persistence import standardized_head
from sktransfer.vision._augment import resolve_augment
from sktransfer.vision._backbones import resolve_backbone
from sktransfer.vision._images import image_size, pixel_scale_of
from sktransfer.vision._modules import (
    ImagePreprocess,
    ImageTransferModule,
    pool_features,
)

IMAGE_CONSTRAINTS = {
    "backbone": "no_validation",
    "image_shape": [tuple, list, None],
    "pixel_scale": [Interval(Real, 0, None, closed="neither"), None],
    "resize": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list, None],
}

IMAGE_PARAMS_DOC = """
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of one image when ``X`` is 2-D (flattened
        pixels), channels first. ``None`` infers it: 3-D/4-D ``X`` gives it
        directly (4-D ``X`` that looks channels-last is refused); 2-D ``X``
        takes the ``image_shape_`` of a fitted estimator given as ``backbone``
        when it holds as many values per row, otherwise a square number of
        features F is one ``sqrt(F) x sqrt(F)`` channel, any other F a
        ``1 x F`` strip (so ordinary tabular arrays work too; warned when the
        fitted backbone learned from images).
    pixel_scale : float or None, default=None
        Raw pixel value that maps to 1.0 (e.g. 255 for 8-bit images, 16 for
        sklearn's digits). ``None``: the ``pixel_scale_`` of a fitted
        estimator given as ``backbone`` (its weights were trained at that
        scale; a warning when X's largest value is over 1.5 times it or under
        an eighth of it), otherwise the largest absolute value in the training
        data. Stored as ``pixel_scale_``; images given to ``predict`` or
        ``transform`` whose largest value is over 4 times it or under an
        eighth of it are warned about.
    resize : int, (int, int) or None, default=None
        Resize images to this size (``[height, width]`` as a list works too)
        on the device before the backbone. ``None`` upsamples images smaller
        than what the backbone declares (64 pixels for EfficientNet-Lite0) and
        leaves others alone."""


def _resize_target(resize, source, height, width):
    if resize is None:
        if source.min_size is None:
            return None
        if min(height, width) >= source.min_size:
            return None
        return (max(height, source.min_size), max(width, source.min_size))
    return image_size(resize, "resize")


class ImageEstimatorMixin:
    """Builds ``preprocess -> backbone -> head`` for 4-D float32 training images."""

    def __sklearn_tags__(self):
        """Images come as (n, C, H, W), (n, H, W) or flat rows; no NaN."""
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags

    def _build_image_module(
        self, X, n_outputs, batchnorm="frozen", pretrained=True, scale_of=None
    ):
        """Resolve the source and assemble an :class:`ImageTransferModule`.

        ``n_outputs=None`` makes the head the identity (feature extractors).
        Sets ``pixel_scale_``: with ``pixel_scale=None``, that of ``scale_of``
        (the fitted model a warm-started fit goes on from) or of a fitted
        estimator given as the backbone, whose weights were trained at it.
        """
        n_channels, height, width = X.shape[1:]
        source = resolve_backbone(self.backbone, n_channels, pretrained=pretrained)
        if source.in_channels is not None and n_channels not in (1, source.in_channels):
            hint = (
                " To use it on colour images, make them grey first, e.g. "
                "X.mean(axis=1, keepdims=True) for (n, C, H, W) arrays."
                if source.in_channels == 1
                else ""
            )
            raise ValueError(
                f"backbone {source.name} takes {source.in_channels}-channel images "
                f"(one-channel images are replicated); X has {n_channels} "
                f"channels.{hint}"
            )
        if scale_of is None and is_fitted_estimator(self.backbone):
            scale_of = self.backbone
        self.pixel_scale_ = pixel_scale_of(X, self.pixel_scale, scale_of)
        preprocess = ImagePreprocess(
            scale=1.0 / self.pixel_scale_,
            out_channels=source.in_channels,
            size=_resize_target(self.resize, source, height, width),
            mean=source.mean,
            std=source.std,
        )
        n_features = self._probe_features(source, preprocess, X.shape[1:])
        head = (
            torch.nn.Identity()
            if n_outputs is None
            else MLPHead(n_features, self.hidden_layer_sizes, n_outputs, self.dropout)
        )
        module = ImageTransferModule(
            preprocess,
            source.module,
            head,
            batchnorm,
            source.channels_last,
            augment=resolve_augment(getattr(self, "augment", None)),
        )
        # weights too, on a CPU, for the named optimizers: an optimizer class
        # of unknown code may view the gradients flat, which fails on
        # channels-last ones (torch's own LBFGS does)
        on_cpu = torch.device(self._device()).type == "cpu"
        named = isinstance(getattr(self, "optimizer", "auto"), str)
        return module.use_channels_last() if on_cpu and named else module

    def _skeleton(self, n_outputs, tensors, batchnorm="frozen"):
        """The fitted module's architecture, for weights loaded from a file."""
        scale = self.pixel_scale_
        blank = np.zeros((1, *self.image_shape_), dtype=np.float32)
        module = self._build_image_module(blank, n_outputs, batchnorm, pretrained=False)
        self.pixel_scale_ = scale
        module.preprocess.scale = 1.0 / scale
        return standardized_head(module, tensors)

    def _source_tensors(self):
        """The named source's weights as the model names them (compact save)."""
        source = resolve_backbone(self._fitted_source(), self.image_shape_[0])
        return {f"backbone.{k}": v for k, v in source.module.state_dict().items()}

    @staticmethod
    def _probe_features(source, preprocess, image_shape):
        """Run one blank image through the backbone to learn its feature size."""
        module = ImageTransferModule(preprocess, source.module, torch.nn.Identity())
        module.eval()
        try:
            with torch.no_grad():
                out = module.backbone(module.preprocess(torch.zeros(1, *image_shape)))
        except Exception as exc:
            raise ValueError(
                f"backbone {source.name} cannot process images of shape "
                f"{tuple(image_shape)} (after preprocessing): {exc}"
                + _channels_hint(source, image_shape[0])
            ) from exc
        finally:
            module.train()
        if source.channels_last:
            _probe_channels_last(source, module.preprocess, image_shape)
        if not isinstance(out, torch.Tensor) or out.ndim < 2 or len(out) != 1:
            got = (
                f"a tensor of shape {tuple(out.shape)} for one image"
                if isinstance(out, torch.Tensor)
                else f"a {type(out).__name__}"
            )
            raise ValueError(
                f"backbone {source.name} must map images to one tensor, "
                "(n, features) or feature maps (n, C, H, W); it returned "
                f"{got}. Wrap it in a module that returns the features."
            )
        if not out.is_floating_point():
            raise ValueError(
                f"backbone {source.name} returned {out.dtype} features; the head "
                "trains on floating-point ones. Wrap it in a module that "
                "returns them as floats (e.g. .float())."
            )
        return pool_features(out).shape[1]


_TESTED_CHANNELS_LAST = {
    ("sktransfer.vision._modules", "SmallCNN"),
    ("sktransfer.vision._efficientnet", "EfficientNetFeatures"),
}
"""The built-in backbones' classes, whose channels-last layout tests cover."""


def _probe_channels_last(source, preprocess, image_shape):
    """A backbone that declares ``channels_last`` runs on the CPU in that
    layout, weights and images: try one image so, on a copy, so that one that
    cannot (a ``.view`` of its maps) fails here, saying so, not in the first
    batch. The built-in backbones, tested in that layout, are not tried."""
    cls = type(source.module)
    if (cls.__module__, cls.__qualname__) in _TESTED_CHANNELS_LAST:
        return
    module = copy.deepcopy(source.module).eval()
    module.to(memory_format=torch.channels_last)
    x = preprocess(torch.zeros(1, *image_shape))
    try:
        with torch.no_grad():
            module(x.contiguous(memory_format=torch.channels_last))
    except Exception as exc:
        raise ValueError(
            f"backbone {source.name} declares channels_last=True, but it fails "
            f"on channels-last images ({exc}); declare channels_last=False in "
            "its Backbone (its forward may .view() its maps: .reshape() works "
            "in both layouts)."
        ) from exc


def _channels_hint(source, n_channels):
    """Advice when ``source`` is a bare module whose first convolution takes
    more channels than the greyscale images have (a 3-channel ImageNet model):
    a bare module declares nothing, so nothing replicates the channels."""
    first = next(
        (m for m in source.module.modules() if isinstance(m, torch.nn.Conv2d)), None
    )
    if source.in_channels is not None or first is None or n_channels != 1:
        return ""
    if first.in_channels == 1:
        return ""
    return (
        f". Its first convolution takes {first.in_channels} channels and the "
        "images have 1: give backbone=sktransfer.vision.Backbone(module, "
        f"in_channels={first.in_channels}), and greyscale images are "
        "replicated to it (user guide: 'A torchvision or timm model as the "
        "source')."
    )
