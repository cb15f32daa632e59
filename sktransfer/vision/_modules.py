"""torch modules of the image estimators: preprocessing, SmallCNN, the full model."""

import torch
import torch.nn.functional as F
from torch import nn

from sktransfer.transfer import TransferModule


class _Pool2x2(nn.Module):
    """2x2 max pooling that leaves a side of length 1 alone (1xF strips)."""

    def forward(self, x):
        kernel = (min(2, x.shape[-2]), min(2, x.shape[-1]))
        return F.max_pool2d(x, kernel, ceil_mode=True)


class ConvBlock(nn.Sequential):
    """``Conv3x3 -> BatchNorm -> ReLU`` (+ 2x2 max pooling)."""

    def __init__(self, in_channels, out_channels, pool=True):
        layers = [
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        if pool:
            layers.append(_Pool2x2())
        super().__init__(*layers)


class SmallCNN(nn.Module):
    """The built-in backbone (``backbone="small_cnn"``) for training source models.

    Three convolution blocks of widths ``widths``, each with BatchNorm; the
    output is a feature map that the estimators average-pool. It accepts any
    image size, down to 1x1, so it also runs on tabular data seen as 1xF strips.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images.
    widths : tuple of int, default=(32, 64, 64)
        Output channels of the blocks.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.vision import SmallCNN
    >>> SmallCNN(1)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 64, 2, 2])
    """

    def __init__(self, in_channels=1, widths=(32, 64, 64)):
        super().__init__()
        self.in_channels = in_channels
        self.widths = tuple(widths)
        channels = (in_channels, *widths)
        for i in range(len(widths)):
            pool = i < len(widths) - 1
            self.add_module(
                f"block{i + 1}", ConvBlock(channels[i], channels[i + 1], pool)
            )

    def forward(self, x):
        """The feature map of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, in_channels, H, W)
            Images.

        Returns
        -------
        maps : torch.Tensor of shape (batch, widths[-1], H', W')
            ``H' = H // 4`` and ``W' = W // 4``, at least 1.
        """
        for block in self.children():
            x = block(x)
        return x


class ImagePreprocess(nn.Module):
    """Scale, resize, replicate grayscale channels and normalise, on the device.

    Parameters
    ----------
    scale : float
        Multiplies the raw pixels (``1 / pixel_scale``), mapping them to [0, 1]
        or [-1, 1].
    out_channels : int or None
        Channels the backbone expects; one-channel images are replicated to it.
    size : tuple of (int, int) or None
        Bilinear resize target, or None to keep the size.
    mean, std : tuple of float or None
        Per-channel normalisation the backbone declares (applied after scaling).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.vision import ImagePreprocess
    >>> preprocess = ImagePreprocess(
    ...     scale=1 / 255, out_channels=3, size=(16, 16), mean=(0.5,) * 3,
    ...     std=(0.5,) * 3,
    ... )
    >>> x = preprocess(torch.full((2, 1, 8, 8), 255, dtype=torch.uint8))
    >>> x.shape, float(x.max())
    (torch.Size([2, 3, 16, 16]), 1.0)
    """

    def __init__(self, scale=1.0, out_channels=None, size=None, mean=None, std=None):
        super().__init__()
        self.scale = float(scale)
        self.out_channels = out_channels
        self.size = tuple(size) if size is not None else None
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        """The images as the backbone takes them.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, C, H, W)
            Raw pixels, any numeric dtype.

        Returns
        -------
        x : torch.Tensor of shape (batch, out_channels, H', W')
            Float, scaled, resized to ``size`` (if given), replicated and
            normalised.
        """
        if not x.is_floating_point():  # 8-bit images, kept so until this batch
            x = x.float()
        x = x * self.scale
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        if self.out_channels is not None and x.shape[1] != self.out_channels:
            x = x.expand(-1, self.out_channels, -1, -1)
        if self.normalize:
            x = (x - self.mean) / self.std
        return x


def pool_features(out):
    """Global-average-pool a feature map (N, C, H, W) -> (N, C); flatten the rest."""
    if out.ndim == 4:
        return F.adaptive_avg_pool2d(out, 1).flatten(1)
    return out.flatten(1) if out.ndim > 2 else out


class ImageTransferModule(TransferModule):
    """``preprocess -> backbone (source) -> global pooling -> head (target)``.

    Parameters
    ----------
    preprocess : ImagePreprocess
        Turns raw pixels into the backbone's input.
    backbone : torch.nn.Module
        The transferred part; its parameters are named ``backbone.*``.
    head : torch.nn.Module
        The new part, named ``head.*``.
    batchnorm : {"frozen", "eval", "train"}, default="frozen"
        See :func:`sktransfer.transfer.apply_batchnorm_policy`.
    channels_last : bool, default=False
        The backbone takes channels-last images (see
        :attr:`~sktransfer.vision.Backbone.channels_last`): on a CPU, its input
        is laid out so (:meth:`use_channels_last` lays out its weights).
    augment : torch.nn.Module or None, default=None
        Changes preprocessed images at random in training mode (see
        :class:`~sktransfer.vision.ImageAugment`); None: no change.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.vision import ImagePreprocess, ImageTransferModule, SmallCNN
    >>> module = ImageTransferModule(
    ...     ImagePreprocess(scale=1 / 16), SmallCNN(1), torch.nn.Linear(64, 10)
    ... )
    >>> digits = torch.randint(0, 17, (5, 1, 8, 8))
    >>> module.features(digits).shape, module(digits).shape
    (torch.Size([5, 64]), torch.Size([5, 10]))
    """

    channels_last = False  # modules pickled before it existed

    def __init__(
        self,
        preprocess,
        backbone,
        head,
        batchnorm="frozen",
        channels_last=False,
        augment=None,
    ):
        super().__init__(batchnorm)
        self.preprocess = preprocess
        self.augment = augment
        self.backbone = backbone
        self.head = head
        self.channels_last = channels_last

    def use_channels_last(self):
        """Lay out the backbone's weights channels-last, where it takes such
        images: for training and predicting on a CPU with an optimizer that
        steps element by element, before it holds them.

        Returns
        -------
        self : ImageTransferModule
            The module.
        """
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        return self

    def features(self, x):
        """The pooled backbone features of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, C, H, W)
            Raw pixels.

        Returns
        -------
        features : torch.Tensor of shape (batch, n_features)
            The backbone's maps, global-average-pooled; in training mode, of
            the images changed by ``augment``.
        """
        x = self.preprocess(x)
        augment = getattr(self, "augment", None)  # None: pickled before it
        if augment is not None:  # itself the identity in eval mode
            x = augment(x)
        if self.channels_last and x.device.type == "cpu" and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return pool_features(self.backbone(x))
