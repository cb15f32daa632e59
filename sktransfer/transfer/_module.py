"""A ``torch.nn.Module`` base whose ``train()`` respects a BatchNorm policy."""

from torch import nn

BATCHNORM_POLICIES = ("frozen", "eval", "train")

_BATCHNORM_TYPES = (nn.modules.batchnorm._BatchNorm,)


def apply_batchnorm_policy(module, policy):
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
    """
    if policy == "train":
        return
    for layer in module.modules():
        if not isinstance(layer, _BATCHNORM_TYPES):
            continue
        trainable = any(p.requires_grad for p in layer.parameters())
        if policy == "eval" or not trainable:
            layer.eval()


class TransferModule(nn.Module):
    """Base of sktransfer's top-level modules: ``source`` + ``head``.

    Subclasses hold the transferred part as ``self.backbone`` (the source) and
    the new part as ``self.head``. Calling ``train()`` -- as skorch does before
    every training step -- re-applies :func:`apply_batchnorm_policy` to the
    backbone, so frozen BatchNorm layers are never switched back to training
    mode by accident.

    Parameters
    ----------
    batchnorm : {"frozen", "eval", "train"}, default="frozen"
        The BatchNorm policy for the backbone.
    """

    def __init__(self, batchnorm="frozen"):
        super().__init__()
        self.batchnorm = batchnorm

    def train(self, mode=True):
        super().train(mode)
        if mode and hasattr(self, "backbone"):
            apply_batchnorm_policy(self.backbone, self.batchnorm)
        return self
