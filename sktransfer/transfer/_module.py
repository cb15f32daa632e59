"""The base of sktransfer's top-level modules: source, new head, BatchNorm policy."""

import contextlib

import numpy as np
import torch
from torch import nn

from sktransfer.utils._arrays import as_tensor, torch_defaults

BATCHNORM_POLICIES = ("frozen", "eval", "train")

_BATCHNORM_TYPES = (nn.modules.batchnorm._BatchNorm,)


def unwrapped(module):
    """``module`` without the DistributedDataParallel wrapper that a fit on
    several processes (Hugging Face Accelerate) puts around it, and whose
    parameter names start with ``module.``."""
    if isinstance(module, nn.parallel.DistributedDataParallel):
        return module.module
    return module


def apply_batchnorm_policy(module: nn.Module, policy: str) -> None:
    """Put BatchNorm layers of ``module`` in eval mode as ``policy`` says.

    Parameters
    ----------
    module : torch.nn.Module
        Typically the backbone.
    policy : {"frozen", "eval", "train"}
        ``"frozen"``: a BatchNorm layer whose parameters are all frozen (or that
        has none) keeps its running statistics and normalises with them, even
        while the rest of the network trains. ``"eval"``: every BatchNorm layer
        does so, trainable or not (useful with tiny fine-tuning batches).
        ``"train"``: BatchNorm layers follow the module's mode.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import apply_batchnorm_policy, freeze
    >>> backbone = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    >>> _ = freeze(backbone, "1.*")
    >>> _ = backbone.train()
    >>> apply_batchnorm_policy(backbone, "frozen")
    >>> backbone[0].training, backbone[1].training
    (True, False)
    """
    if policy not in BATCHNORM_POLICIES:
        raise ValueError(
            f"batchnorm policy {policy!r} is not one of {BATCHNORM_POLICIES}."
        )
    if policy == "train":
        return
    for layer in module.modules():
        if not isinstance(layer, _BATCHNORM_TYPES):
            continue
        trainable = any(p.requires_grad for p in layer.parameters())
        if policy == "eval" or not trainable:
            layer.eval()


def batchnorm_training(module, policy, unfreezes=False):
    """The BatchNorm layers of ``module`` that normalise by their batch's
    statistics while it trains under ``policy`` (see
    :func:`apply_batchnorm_policy`); ``unfreezes``: a schedule will make its
    frozen layers trainable."""
    if policy == "eval":
        return []
    return [
        layer
        for layer in module.modules()
        if isinstance(layer, _BATCHNORM_TYPES)
        and (
            policy == "train"
            or unfreezes
            or any(p.requires_grad for p in layer.parameters())
        )
    ]


class TransferModule(nn.Module):
    """Base of sktransfer's top-level modules: ``features`` -> ``head``.

    Subclasses hold the transferred part as ``self.backbone`` (the source),
    the new part as ``self.head``, and implement ``features(x)``: the input
    up to the head. ``forward`` is ``head(features(x))``, or ``head(x)`` inside
    :meth:`taking_features`, which is how a frozen source's features are
    computed once per fit and the head trained on them.

    Calling ``train()`` -- as skorch does before every training step --
    re-applies :func:`apply_batchnorm_policy` to the backbone, so frozen
    BatchNorm layers are never switched back to training mode by accident.

    Parameters
    ----------
    batchnorm : {"frozen", "eval", "train"}, default="frozen"
        The BatchNorm policy for the backbone.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.transfer import TransferModule
    >>> class Probe(TransferModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.backbone = torch.nn.Linear(4, 8)
    ...         self.head = torch.nn.Linear(8, 2)
    ...
    ...     def features(self, x):
    ...         return torch.relu(self.backbone(x))
    >>> module = Probe()
    >>> x = torch.randn(5, 4)
    >>> module(x).shape
    torch.Size([5, 2])
    >>> features = module.features(x)  # once, for a frozen backbone
    >>> with module.taking_features():  # then the head alone, on them
    ...     logits = module(features)
    >>> bool(torch.allclose(logits, module(x)))
    True
    """

    def __init__(self, batchnorm="frozen"):
        super().__init__()
        self.batchnorm = batchnorm
        self.takes_features = False

    def features(self, x):
        """The input of the head: what the transferred part computes.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs.

        Returns
        -------
        features : torch.Tensor of shape (batch, n_features)
            Implemented by each subclass.
        """
        raise NotImplementedError

    def forward(self, x):
        """``head(features(x))``; ``head(x)`` inside :meth:`taking_features`.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs, or of features inside :meth:`taking_features`.

        Returns
        -------
        logits : torch.Tensor of shape (batch, n_outputs)
            What the head computes.
        """
        if self.takes_features:
            return self.head(x)
        return self.head(self.features(x))

    @contextlib.contextmanager
    def taking_features(self):
        """Within the context, ``forward`` takes cached features, not inputs."""
        self.takes_features = True
        try:
            yield self
        finally:
            self.takes_features = False

    def train(self, mode=True):
        """:meth:`torch.nn.Module.train`, then the backbone's BatchNorm policy.

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or evaluation mode (False).

        Returns
        -------
        self : TransferModule
            The module, as torch's ``train`` returns it.
        """
        super().train(mode)
        if mode and hasattr(self, "backbone"):
            apply_batchnorm_policy(self.backbone, self.batchnorm)
        return self


def feature_progress(batches, total=None):
    """``batches`` behind the progress bar of feature extraction (tqdm)."""
    from tqdm.auto import tqdm

    return tqdm(batches, total=total, desc="features", unit="batch", leave=False)


def batched_features(
    module: nn.Module,
    X: np.ndarray,
    *,
    batch_size: int,
    device: str | torch.device,
    progress: bool = False,
) -> np.ndarray:
    """``module.features`` over ``X`` (numpy), once, in eval mode: float32 numpy.

    How a frozen source's features are computed once per fit. Gradients are
    off (``torch.inference_mode``); the module's mode is restored after.

    Parameters
    ----------
    module : TransferModule
        Any module with a ``features(x)`` method.
    X : ndarray
        The inputs, first axis the samples.
    batch_size : int
        Samples per forward pass.
    device : str or torch.device
        Where the module is; each batch is moved there.
    progress : bool, default=False
        Show a progress bar (tqdm) over the batches.

    Returns
    -------
    features : ndarray of shape (n_samples, n_features), float32
        On the CPU, one row per sample.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sktransfer.transfer import batched_features
    >>> module = torch.nn.Linear(3, 2)
    >>> module.features = module.forward
    >>> X = np.ones((10, 3), dtype=np.float32)
    >>> batched_features(module, X, batch_size=4, device="cpu").shape
    (10, 2)
    """
    was_training = module.training
    module.eval()
    chunks = []
    starts = range(0, len(X), batch_size)
    if progress:
        starts = feature_progress(starts)
    try:
        with torch.inference_mode(), torch_defaults():
            for start in starts:
                batch = as_tensor(X[start : start + batch_size])
                chunks.append(module.features(batch.to(device)).float().cpu())
    finally:
        module.train(was_training)
    return torch.cat(chunks).numpy()
