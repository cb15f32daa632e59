"""Image input: 4-D, 3-D or flattened 2-D arrays, validated and reshaped."""

import math
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

from sktransfer._base import is_fitted_estimator
from sktransfer.utils._arrays import from_torch, refuse_bad_labels
from sktransfer.utils._warnings import caller_stacklevel


def image_size(value, name):
    """``value`` -- an int (a square) or a pair -- as ``(height, width)`` of
    positive ints; a ValueError naming ``name`` otherwise."""
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair
        )
        or min(pair) < 1
    ):
        raise ValueError(
            f"{name} must be an int or (height, width), positive; got {value!r}."
        )
    return int(pair[0]), int(pair[1])


def _normalize_shape(image_shape):
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) not in (2, 3)
        or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
            for d in image_shape
        )
    ):
        raise ValueError(
            "image_shape must be (C, H, W) or (H, W) of positive ints; got "
            f"{image_shape!r}."
        )
    shape = tuple(int(d) for d in image_shape)
    return shape if len(shape) == 3 else (1, *shape)


def infer_image_shape(n_features):
    """Shape of one flattened image: square -> (1, s, s), otherwise (1, 1, F)."""
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (1, side, side)
    return (1, 1, n_features)


def _flatten_nd(X):
    """Flatten a 3-D or 4-D image array to 2-D; return it and the image shape."""
    if sp.issparse(X) or not hasattr(X, "__len__") or isinstance(X, str):
        return X, None
    if getattr(X, "ndim", None) is None:
        shapes = {np.shape(item) for item in X if hasattr(item, "__len__")}
        if len(shapes) > 1 and all(len(shape) >= 2 for shape in shapes):
            raise ValueError(
                f"X holds images of different shapes ({sorted(shapes)[:3]}...); "
                "resize them to one size first."
            )
        try:
            X = np.asarray(X)
        except ValueError:  # ragged: let validate_data word the error
            return X, None
    if X.ndim > 4:
        raise ValueError(
            f"X must be 2-D (n, pixels), 3-D (n, H, W) or 4-D (n, C, H, W); got a "
            f"{X.ndim}-D array of shape {X.shape}."
        )
    if X.ndim not in (3, 4):
        return X, None
    X = np.asarray(X)
    shape = X.shape[1:] if X.ndim == 4 else (1, *X.shape[1:])
    return X.reshape(len(X), -1), tuple(int(d) for d in shape)


def validate_images(estimator, X, y="no_validation", *, reset):
    """Validate image input and return it as ``(n, C, H, W)`` (and y).

    8-bit pixels stay ``uint8``: the module scales them to float32 batch by
    batch, on the device, so a set of photos takes a quarter of the memory
    (and of the copies to a GPU) it would as float32, which any other dtype
    becomes. On ``reset`` sets ``n_features_in_`` (pixels per image) and
    ``image_shape_`` from the data and ``estimator.image_shape``; otherwise
    checks the data against them.
    """
    X, nd_shape = _flatten_nd(from_torch(X))
    if not (isinstance(y, str) and y == "no_validation"):
        y = from_torch(y)
        refuse_bad_labels(y, estimator)  # before scikit-learn's checks
    kwargs = dict(dtype=(np.float32, np.uint8), reset=reset, ensure_min_samples=1)
    if isinstance(y, str) and y == "no_validation":
        X = validate_data(estimator, X, **kwargs)
    else:
        X, y = validate_data(estimator, X, y, **kwargs)
    n_features = X.shape[1]
    if reset:
        shape = nd_shape
        if estimator.image_shape is not None:
            declared = _normalize_shape(estimator.image_shape)
            if math.prod(declared) != n_features:
                raise ValueError(
                    f"image_shape={estimator.image_shape!r} holds "
                    f"{math.prod(declared)} values but each sample of X has "
                    f"{n_features}."
                )
            if shape is not None and shape != declared:
                raise ValueError(
                    f"image_shape={estimator.image_shape!r} does not match the "
                    f"shape of the images in X, {shape}."
                )
            shape = declared
        elif shape is not None:
            _check_channels_first(shape)
        estimator.image_shape_ = shape or _flat_image_shape(estimator, n_features)
    elif nd_shape is not None and nd_shape != estimator.image_shape_:
        raise ValueError(
            f"X holds images of shape {nd_shape}, but {type(estimator).__name__} "
            f"was fitted on images of shape {estimator.image_shape_}."
        )
    images = np.ascontiguousarray(X.reshape(len(X), *estimator.image_shape_))
    if not reset:
        _warn_if_off_scale(estimator, images)
    if isinstance(y, str) and y == "no_validation":
        return images
    return images, y


def _peak(X):
    """The largest absolute value in X (0 when empty), without a copy of X."""
    if not X.size:
        return 0.0
    return float(max(X.max(), -X.min()))


def _off_scale(peak, scale, over):
    """Whether images whose largest value is ``peak`` are plainly not on the
    ``scale`` (the value read as 1.0): ``peak`` over ``over`` times it, or
    under an eighth of it (0 -- blank images -- says nothing)."""
    return peak > over * scale or 0 < peak < scale / 8


def _warn_if_off_scale(estimator, X):
    """Warn when images given to a fitted model are plainly not on the scale
    it was trained at: their largest value over 4 times its ``pixel_scale_``
    or under an eighth of it (0-255 photos to a model fitted on [0, 1]
    floats, or the other way round), which it would read that much brighter
    or darker, and answer without a word."""
    scale = getattr(estimator, "pixel_scale_", None)
    peak = _peak(X)
    if scale is None or not _off_scale(peak, scale, over=4):
        return
    warnings.warn(
        f"X's largest pixel value is {peak:g}, but {type(estimator).__name__} "
        f"was fitted on images read at pixel_scale_={scale:g} (the value it "
        f"maps to 1.0): these reach {peak / scale:.3g} times that. Give it "
        "images on the scale of the training images (both 0-255, or both "
        "in [0, 1]).",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def _flat_image_shape(estimator, n_features):
    """The shape of flat images when no ``image_shape`` is given: a fitted
    backbone's ``image_shape_`` when X's rows hold as many values (its
    weights learned from such images: 8x6 digits must not become 1x48
    strips), otherwise :func:`infer_image_shape`, with a warning when that
    reads the rows as strips where the fitted backbone learned from images."""
    backbone = estimator.backbone
    learned = (
        getattr(backbone, "image_shape_", None)
        if is_fitted_estimator(backbone)
        else None
    )
    if learned is not None and math.prod(learned) == n_features:
        return tuple(learned)
    shape = infer_image_shape(n_features)
    if learned is not None and shape[1] == 1 < learned[1]:
        warnings.warn(
            f"X's rows of {n_features} values are read as 1x{n_features} "
            f"strips, but the fitted backbone learned from images of shape "
            f"{tuple(learned)}: its filters would slide along rows laid end to "
            "end. If X holds flattened images, give their shape as "
            "image_shape=(C, H, W).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    return shape


def _check_channels_first(shape):
    """Refuse 4-D images that look channels-last: ``(n, H, W, C)`` from PIL or
    matplotlib would train silently as ``H`` channels of ``W``-pixel columns.
    A declared ``image_shape`` skips the check (images that truly are so)."""
    channels, _, width = shape
    if channels > 4 and width in (1, 3, 4):
        raise ValueError(
            f"X holds images of shape {shape}, read as (C, H, W): {channels} "
            f"channels of {shape[1]}x{width} pixels. That looks channels-last "
            "(H, W, C); sktransfer takes channels first: pass "
            "X.transpose(0, 3, 1, 2). If the images are right as they are, "
            f"say so with image_shape={shape}."
        )


def pixel_scale_of(X, pixel_scale, source=None):
    """``pixel_scale`` or, when None, the ``pixel_scale_`` of ``source`` (a
    fitted estimator given as the backbone: its weights expect that scale),
    or else the largest absolute pixel value of X.

    An inherited scale that X's pixels clearly are not on (their largest
    value over 1.5 times it, or under an eighth of it: 0-255 images after a
    source fitted on digits' 0-16, or [0, 1] floats after one fitted on 8-bit
    pixels) is warned about: the images would reach the backbone far brighter
    or darker than its source data did (EfficientNet features of digits in
    [0, 1] read at the scale 256: 0.73 accuracy against 0.83).
    """
    if pixel_scale is not None:
        return float(pixel_scale)
    peak = _peak(X)
    source_scale = getattr(source, "pixel_scale_", None)
    if source_scale is not None:
        if _off_scale(peak, source_scale, over=1.5):
            warnings.warn(
                f"X's largest pixel value is {peak:g}, but the fitted backbone "
                f"was trained with pixel_scale_={source_scale:g} (the value it "
                f"read as 1.0), which this fit inherits: X's images would reach "
                f"{peak / source_scale:.3g} of that. If X is on another scale "
                "than the source's data, say which: pixel_scale=1.0 for pixels "
                "in [0, 1], 255 for 8-bit images.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        return float(source_scale)
    return peak if peak > 0 else 1.0
