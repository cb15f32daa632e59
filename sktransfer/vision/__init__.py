"""Image estimators: pretrained CNN backbones with new heads."""

from sktransfer.vision._augment import ImageAugment, resolve_augment
from sktransfer.vision._backbones import (
    BACKBONES,
    Backbone,
    register_backbone,
    resolve_backbone,
)
from sktransfer.vision._cnn_classifier import FineTunedCNNClassifier
from sktransfer.vision._feature_extractor import PretrainedFeatureExtractor
from sktransfer.vision._modules import ImagePreprocess, ImageTransferModule, SmallCNN

__all__ = [
    "BACKBONES",
    "Backbone",
    "FineTunedCNNClassifier",
    "ImageAugment",
    "ImagePreprocess",
    "ImageTransferModule",
    "PretrainedFeatureExtractor",
    "SmallCNN",
    "register_backbone",
    "resolve_augment",
    "resolve_backbone",
]
