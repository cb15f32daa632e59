"""Data augmentation: random flips and moves of training images, on the device.

``FineTunedCNNClassifier(augment=...)`` changes each training batch anew
(never validation data, ``predict`` or the features of ``transform``): a
network trained on few images sees each of them shifted, turned, zoomed or
mirrored a little differently every epoch, and learns what does not change.
"""

import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sktransfer._augment import CallableAugment, resolve_augment_param

AUGMENTATIONS = {
    "flip": (0.5, 1.0, "the share of images mirrored left to right"),
    "shift": (0.1, 1.0, "the largest move, a share of the height and width"),
    "rotate": (10.0, 180.0, "the largest turn, in degrees"),
    "scale": (0.1, 0.9, "the largest zoom in or out, a share of the size"),
}
"""``{name: (default strength, largest strength, what the strength is)}``."""

AUGMENT_DOC = """
    augment : str, sequence of str, dict, callable or None, default=None
        Random changes to each training batch, drawn anew every epoch from
        the fit's random state; validation images, ``predict`` and
        ``extract_features`` see the images as they are. ``"flip"`` mirrors
        half of the images left to right (photos; not text or digits),
        ``"shift"`` moves each by up to a tenth of its height and width,
        ``"rotate"`` turns it by up to 10 degrees, ``"scale"`` zooms in or
        out by up to 10 %; uncovered borders are filled with zeros (black,
        or the mean colour where the backbone normalises its input). A list
        combines them (``["shift", "rotate"]``); a dict sets their strengths
        (``{"shift": 0.2, "flip": 0.5}``: a fifth of the size; half of the
        images). A callable gets each training batch as the backbone will
        (float tensor ``(batch, C, H, W)`` on the device: scaled, resized,
        normalised) and returns it changed, the same shape; define it at
        module level so that the estimator pickles. With
        ``transfer="feature_extraction"`` the frozen backbone then runs every
        epoch on the changed images instead of once, and the head trains by
        AdamW (``optimizer="auto"``)."""


def resolve_augment(
    augment: str | Sequence[str] | Mapping[str, float] | Callable | None,
) -> nn.Module | None:
    """``augment`` (the estimator's parameter) as a module, or None.

    Parameters
    ----------
    augment : str, sequence of str, dict, callable or None
        See :class:`~sktransfer.FineTunedCNNClassifier`.

    Returns
    -------
    module : torch.nn.Module or None
        An :class:`ImageAugment`, or the callable wrapped.

    Examples
    --------
    >>> from sktransfer.vision import resolve_augment
    >>> resolve_augment(["shift", "flip"])
    ImageAugment(flip=0.5, shift=0.1)
    >>> resolve_augment({"rotate": 20})
    ImageAugment(rotate=20.0)
    """
    return resolve_augment_param(
        augment, AUGMENTATIONS, ImageAugment, "a batch of images"
    )


class ImageAugment(nn.Module):
    """Random flips, moves, turns and zooms of each image of a batch.

    Active in training mode only; in eval mode it returns the batch as it
    is. One ``grid_sample`` moves, turns and zooms (and mirrors) the whole
    batch, each image by its own draw from torch's random number generator
    on the batch's device. It holds no parameters or buffers: a model's
    weights are the same with and without it.

    Parameters
    ----------
    flip : float, default=0.0
        Probability that an image is mirrored left to right.
    shift : float, default=0.0
        Largest move along each axis, a share of the height and width.
    rotate : float, default=0.0
        Largest turn either way, in degrees.
    scale : float, default=0.0
        Largest zoom in or out: the size is multiplied by a number drawn
        from ``[1 - scale, 1 + scale]``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.vision import ImageAugment
    >>> augment = ImageAugment(flip=1.0)
    >>> x = torch.arange(4.0).view(1, 1, 2, 2)
    >>> augment(x)[0, 0].tolist()
    [[1.0, 0.0], [3.0, 2.0]]
    >>> augment.eval()(x)[0, 0].tolist()  # predict: unchanged
    [[0.0, 1.0], [2.0, 3.0]]
    """

    def __init__(self, flip=0.0, shift=0.0, rotate=0.0, scale=0.0):
        super().__init__()
        self.flip = float(flip)
        self.shift = float(shift)
        self.rotate = float(rotate)
        self.scale = float(scale)

    def extra_repr(self):
        names = ("flip", "shift", "rotate", "scale")
        return ", ".join(f"{n}={getattr(self, n)}" for n in names if getattr(self, n))

    def forward(self, x):
        """The batch, each image changed at random (training mode only).

        Parameters
        ----------
        x : torch.Tensor of shape (batch, C, H, W)
            Images as the backbone takes them.

        Returns
        -------
        x : torch.Tensor of shape (batch, C, H, W)
            Changed images, as floats of ``x``'s dtype.
        """
        if not self.training or len(x) == 0:
            return x
        moves = self.shift or self.rotate or self.scale
        mirror = torch.rand(len(x), device=x.device) < self.flip
        if not moves:
            return torch.where(mirror.view(-1, 1, 1, 1), x.flip(-1), x)
        theta = self._affine(len(x), mirror, x.device)
        grid = F.affine_grid(theta, x.shape, align_corners=False)
        return F.grid_sample(x, grid.to(x.dtype), align_corners=False)

    def _affine(self, n, mirror, device):
        """``(n, 2, 3)`` maps from each output pixel to where it is read."""

        def uniform(bound):
            return (torch.rand(n, device=device) * 2 - 1) * bound

        angle = uniform(math.radians(self.rotate))
        zoom = 1 + uniform(self.scale)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        sign = 1 - 2 * mirror.float()  # -1: read x from the other side
        # the image spans [-1, 1]: a share s of its side is 2 s
        shift_x, shift_y = uniform(2 * self.shift), uniform(2 * self.shift)
        rows = (
            torch.stack([cos * sign, -sin, shift_x], dim=1),
            torch.stack([sin * sign, cos, shift_y], dim=1),
        )
        return torch.stack(rows, dim=1)


_CallableAugment = CallableAugment  # the name models pickled before 2026-12-02 use
